"""schemathesis against /api/openapi.json as four roles: the API answers as its document says.

A real ``classbridge serve`` with the demo data on SQLite; for each of admin,
coordinator, assistant and pupil, schemathesis generates requests for every
operation of the OpenAPI document (its examples, coverage and fuzzing phases,
a fixed seed, a few cases per operation so the whole run fits in CI) and
checks every answer: no 5xx, only documented status codes, content types and
headers, bodies that match their schema, schema-violating requests refused,
``Allow`` naming only documented methods. The server's own log must stay free
of tracebacks and ``unhandled_error``.

Left out: signing out, changing one's own password, deactivating an account
and resetting its password (they would end a sign-in the run needs; their own
tests cover them). Not checked: ``positive_data_acceptance``, because some rules
span fields or rows and no schema can say them (a date range of at most two
years, a room of *this* school); docs/security.md lists them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import DEMO, LiveServer, running_server

pytestmark = pytest.mark.e2e

ROLES = ("admin", "coordinator", "assistant", "pupil")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "allow_header_conformance",
    "unsupported_method",
)
# Each ends a sign-in: the run's own, or (with an id it learnt) another role's.
SIGNS_OUT = (
    "/api/auth/logout",
    "/api/me/password",
    "/api/users/{user_id}/deactivate",
    "/api/users/{user_id}/password-reset",
)
CASES_PER_OPERATION = 5
SEED = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Its own server: schemathesis changes the demo data it is given."""
    with running_server(
        tmp_path_factory.mktemp("schemathesis"),
        CLASSBRIDGE_LOGIN_ATTEMPTS_PER_MINUTE="100000",
        CLASSBRIDGE_LOGIN_ATTEMPTS_PER_ACCOUNT="100000",
    ) as live:
        yield live


def _token(server: LiveServer, role: str) -> str:
    login = DEMO[role]
    if role == "pupil":
        path, body = "/api/auth/pupil-login", {"pupil_code": login.login, "pin": login.secret}
    else:
        path, body = "/api/auth/login", {"email": login.login, "password": login.secret}
    request = urllib.request.Request(  # noqa: S310 (our own server on 127.0.0.1)
        server.url(path),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        token: str = json.load(resp)["token"]
    return token


@pytest.mark.parametrize("role", ROLES)
def test_the_api_answers_as_its_document_says(server: LiveServer, role: str, tmp_path: Path):
    log_before = len(server.log_text())
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        server.url("/api/openapi.json"),
        "--header",
        f"Authorization: Bearer {_token(server, role)}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(CASES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--no-shrink",
        "--continue-on-failure",
        *(arg for path in SIGNS_OUT for arg in ("--exclude-path", path)),
    ]
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    print(f"schemathesis as {role}: {summary.strip().splitlines()[-1] if summary else '?'}")
    assert run.returncode == 0, f"{run.stdout[-25_000:]}\n{run.stderr[-3_000:]}"
    assert "Test cases:" in summary  # it ran
    log = server.log_text()[log_before:]
    assert "Traceback" not in log, log[-10_000:]
    assert "unhandled_error" not in log, log[-10_000:]
