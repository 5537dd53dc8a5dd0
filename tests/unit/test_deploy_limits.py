"""The reverse proxy lets through every body the service accepts (a 5 MB timetable import)."""

from __future__ import annotations

import re
from pathlib import Path

from scheduler.timetables.imports.common import MAX_FILE_BYTES
from telepresence.platform.settings import Settings

NGINX = Path(__file__).parents[2] / "deploy" / "nginx.conf"
UNITS = {"k": 1024, "m": 1024 * 1024, "g": 1024 * 1024 * 1024, "": 1}


def _nginx_body_caps() -> list[int]:
    caps = re.findall(r"client_max_body_size\s+(\d+)([kmgKMG]?)\s*;", NGINX.read_text())
    return [int(n) * UNITS[unit.lower()] for n, unit in caps]


def test_nginx_accepts_what_the_service_accepts() -> None:
    service = Settings.model_fields["max_body_bytes"].default
    assert service >= MAX_FILE_BYTES
    caps = _nginx_body_caps()
    assert caps, "deploy/nginx.conf sets no client_max_body_size"
    for cap in caps:
        assert cap >= service, f"nginx refuses bodies the service accepts ({cap} < {service})"
