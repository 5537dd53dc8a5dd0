"""Settings come from CLASSBRIDGE_* variables with laptop defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from telepresence.platform.settings import Settings


def test_defaults_run_on_a_laptop_with_sqlite(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None)
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("var/classbridge.sqlite3")
    assert settings.base_url == "http://127.0.0.1:8080"


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("CLASSBRIDGE_DATABASE_URL", "postgresql+asyncpg://db/classbridge")
    monkeypatch.setenv("CLASSBRIDGE_PUBLIC_URL", "https://classbridge.example/")
    monkeypatch.setenv("CLASSBRIDGE_DATA_DIR", "/srv/cb")
    settings = Settings(_env_file=None)
    assert settings.effective_database_url == "postgresql+asyncpg://db/classbridge"
    assert settings.base_url == "https://classbridge.example"
    assert settings.data_dir == Path("/srv/cb")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLASSBRIDGE_PORT", "70000"),
        ("CLASSBRIDGE_LOG_LEVEL", "CHATTY"),
        ("CLASSBRIDGE_HEARTBEAT_SECONDS", "0"),
        ("CLASSBRIDGE_PAIRING_CODE_MINUTES", "600"),
    ],
)
def test_bad_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
