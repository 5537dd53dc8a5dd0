"""The device gateway loads aiohttp, the protocol models and a database driver: nothing else.

Its point is memory: every module the service loads and the gateway does not is
memory that 10,000 device sockets do not pay for (docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

# What `classbridge gateway` loads, measured in a fresh interpreter.
PROBE = """
import json, sys
import telepresence.cli
import device_registry.gateway.server
import asyncpg
print(json.dumps(sorted(sys.modules)))
"""

HEAVY = (
    "sqlalchemy",
    "aiosqlite",
    "alembic",
    "jinja2",
    "aiohttp_jinja2",
    "apscheduler",
    "aiortc",
    "av",
    "argon2",
    "icalendar",
    "segno",
    "aiosmtplib",
    "prometheus_client",
)
SERVICE_PARTS = (
    "scheduler",
    "device_registry.models",
    "device_registry.services",
    "device_registry.hub",
    "device_registry.socket",
    "device_registry.web",
    "device_registry.pages",
    "device_registry.views",
    "device_registry.jobs",
    "telepresence.app",
    "telepresence.sessions",
    "telepresence.engagement",
    "telepresence.platform.database",
    "telepresence.platform.http.routing",
    "telepresence.platform.models",
)


def loaded_by_the_gateway() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    names: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return names


def test_the_gateway_loads_no_orm_no_pages_no_scheduler():
    names = loaded_by_the_gateway()
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY)
    service = sorted(n for n in names if n == "scheduler" or n.startswith(SERVICE_PARTS))
    assert heavy == []
    assert service == []
    assert "asyncpg" in names
    assert "device_registry.protocol" in names


def test_the_service_does_load_what_the_gateway_leaves_out():
    """The probe can fail: the service's own socket module pulls the ORM in."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, device_registry.socket; print('sqlalchemy' in sys.modules)",
        ],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"
