"""The README documents every setting and the commands that exist."""

from __future__ import annotations

from pathlib import Path

from telepresence.cli import COMMANDS
from telepresence.platform.settings import Settings

README = (Path(__file__).parents[3] / "README.md").read_text()


def test_every_setting_is_documented():
    for name in Settings.model_fields:
        assert f"`CLASSBRIDGE_{name.upper()}`" in README, name


def test_every_command_is_documented():
    for command in COMMANDS:
        assert f"`classbridge {command}" in README, command
    assert "make demo" in README
    assert "make test" in README
