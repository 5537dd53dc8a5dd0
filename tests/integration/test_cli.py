"""The `classbridge` command line, run as a real subprocess on a fresh SQLite database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from integration.engagement_helpers import rollup_differences
from sqlalchemy import func, select

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.rota.models import MoveRow
from scheduler.timetables.models import LessonRow, SchoolCalendarRow, TermRow, Timetable
from telepresence.engagement.models import AlertRecipientRow, AlertRow, OutcomeRow
from telepresence.platform.database import Database
from telepresence.platform.models import Pupil, School, User
from telepresence.sessions.models import SessionEvent

CLI = str(Path(sys.executable).parent / "classbridge")


def run(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"CLASSBRIDGE_DATA_DIR": str(data_dir), "CLASSBRIDGE_DATABASE_URL": ""}
    return subprocess.run(
        [CLI, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )


async def counts(data_dir: Path) -> dict[str, int]:
    db = Database(f"sqlite+aiosqlite:///{(data_dir / 'classbridge.sqlite3').resolve()}")
    try:
        async with db.sessions() as session:
            return {
                model.__name__: int(
                    await session.scalar(select(func.count()).select_from(model)) or 0
                )
                for model in (School, Pupil, User, Device)
            }
    finally:
        await db.close()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("cli")
    upgrade = run(data_dir, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    first = run(data_dir, "demo")
    assert first.returncode == 0, first.stderr
    assert "admin@riverside.example" in first.stdout
    assert "SAMK42" in first.stdout
    return data_dir


def test_demo_seeds_a_realistic_provider_once(demo_dir: Path):
    before = asyncio.run(counts(demo_dir))
    # Four staff logins and St Aidan's SENCO (the school contact of the demo plans).
    assert before == {"School": 2, "Pupil": 6, "User": 5, "Device": 10}
    again = run(demo_dir, "demo")
    assert again.returncode == 0
    assert asyncio.run(counts(demo_dir)) == before
    # Each sign-in once (issue 16: they were printed as a table and again as lines).
    for secret in ("demo-admin-pass", "demo-assist-pass", "admin@riverside.example", "2468"):
        assert again.stdout.count(secret) == 1, again.stdout


async def timetable_counts(data_dir: Path) -> dict[str, int]:
    db = Database(f"sqlite+aiosqlite:///{(data_dir / 'classbridge.sqlite3').resolve()}")
    try:
        async with db.sessions() as session:
            return {
                model.__name__: int(
                    await session.scalar(select(func.count()).select_from(model)) or 0
                )
                for model in (SchoolCalendarRow, TermRow, Timetable, LessonRow, Booking)
            }
    finally:
        await db.close()


def test_demo_seeds_calendars_timetables_and_bookings_once(demo_dir: Path):
    seeded = asyncio.run(timetable_counts(demo_dir))
    assert seeded["SchoolCalendarRow"] == 2
    assert seeded["TermRow"] == 6
    assert seeded["Timetable"] == 6
    assert 6 * 25 <= seeded["LessonRow"] <= 6 * 30
    assert run(demo_dir, "demo").returncode == 0
    assert asyncio.run(timetable_counts(demo_dir)) == seeded


async def history(data_dir: Path) -> tuple[dict[str, int], dict[str, dict[str, int]], list[str]]:
    """Row counts of the demo's history, outcomes per pupil, and who has open alerts."""
    db = Database(f"sqlite+aiosqlite:///{(data_dir / 'classbridge.sqlite3').resolve()}")
    try:
        async with db.sessions() as session:
            sizes = {
                model.__name__: int(
                    await session.scalar(select(func.count()).select_from(model)) or 0
                )
                for model in (Booking, OutcomeRow, SessionEvent, MoveRow, AlertRow)
            }
            outcomes: dict[str, dict[str, int]] = {}
            rows = await session.execute(
                select(Pupil.first_name, OutcomeRow.outcome, func.count())
                .join(Pupil, Pupil.id == OutcomeRow.pupil_id)
                .group_by(Pupil.first_name, OutcomeRow.outcome)
            )
            for name, outcome, n in rows.all():
                outcomes.setdefault(name, {})[outcome] = n
            alerted = await session.scalars(
                select(Pupil.first_name)
                .join(AlertRow, AlertRow.pupil_id == Pupil.id)
                .where(AlertRow.status == "open", AlertRow.note.like("Demo data%"))
            )
            return sizes, outcomes, sorted(alerted)
    finally:
        await db.close()


def test_demo_seeds_four_past_weeks_with_one_drifting_pupil_once(demo_dir: Path):
    sizes, outcomes, alerted = asyncio.run(history(demo_dir))
    assert 200 <= sizes["OutcomeRow"] <= sizes["Booking"]
    assert sizes["SessionEvent"] > 5 * sizes["OutcomeRow"]
    assert sizes["MoveRow"] >= sizes["OutcomeRow"] - 10
    sam, leo = outcomes["Sam"], outcomes["Leo"]
    assert sam["attended"] >= 0.8 * sum(sam.values())
    assert leo["missed"] >= 10
    # Attendance fell, and the last three were missed (near a holiday, one rule may not hold).
    assert alerted[:1] == ["Leo"]
    assert set(alerted) == {"Leo"}
    assert run(demo_dir, "demo").returncode == 0
    assert asyncio.run(history(demo_dir)) == (sizes, outcomes, alerted)


async def operational_alerts(data_dir: Path) -> list[tuple[str, str, str, str, str, int]]:
    """The demo's operational alerts: pupil, rule, status, summary, note, recipients."""
    db = Database(f"sqlite+aiosqlite:///{(data_dir / 'classbridge.sqlite3').resolve()}")
    try:
        async with db.sessions() as session:
            rows = await session.execute(
                select(
                    Pupil.first_name,
                    AlertRow.rule,
                    AlertRow.status,
                    AlertRow.summary,
                    AlertRow.note,
                    select(func.count())
                    .where(AlertRecipientRow.alert_id == AlertRow.id)
                    .scalar_subquery(),
                )
                .join(Pupil, Pupil.id == AlertRow.pupil_id)
                .where(AlertRow.subject_key != "")
                .order_by(AlertRow.opened_at)
            )
            return [tuple(r) for r in rows.all()]
    finally:
        await db.close()


def test_demo_seeds_an_operational_alert_marked_as_demo_once(demo_dir: Path):
    seeded = asyncio.run(operational_alerts(demo_dir))
    # Leo's robot was not moved twice: the first alert resolved by his key worker, the latest
    # still open, each as the rota's hook opens it (sent to the key worker and coordinator).
    assert [(name, rule, status) for name, rule, status, *_ in seeded] == [
        ("Leo", "move_not_done", "resolved"),
        ("Leo", "move_not_done", "open"),
    ]
    for _, _, _, summary, note, recipients in seeded:
        assert summary.startswith("Robot move not done before ")
        assert "Room locked, no key (demo)" in summary
        assert note.startswith("Demo data")
        assert recipients == 2
    assert "The school found the key" in seeded[0][4]
    assert run(demo_dir, "demo").returncode == 0
    assert asyncio.run(operational_alerts(demo_dir)) == seeded


def test_user_add_takes_the_password_from_stdin(demo_dir: Path):
    result = run(
        demo_dir,
        "user",
        "add",
        "--email",
        "Key.Worker@riverside.example",
        "--role",
        "hospital_staff",
        stdin="a long enough password\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "key.worker@riverside.example" in result.stdout
    assert "Password (shown once)" not in result.stdout


def test_user_add_generates_a_password_when_none_is_given(demo_dir: Path):
    result = run(
        demo_dir, "user", "add", "--email", "coord2@riverside.example", "--role", "coordinator"
    )
    assert result.returncode == 0
    assert "Password (shown once)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "admin@riverside.example", "--role", "admin"], "already an account"),
        (["--email", "not-an-email", "--role", "admin"], "email"),
        (["--email", "a@riverside.example", "--role", "assistant"], "belongs to a school"),
    ],
)
def test_user_add_refuses_bad_input_with_exit_code_2(demo_dir: Path, args, message):
    before = asyncio.run(counts(demo_dir))
    result = run(demo_dir, "user", "add", *args, stdin="a long enough password\n")
    assert result.returncode == 2
    assert message in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert asyncio.run(counts(demo_dir)) == before


def test_bad_configuration_is_a_clear_error(tmp_path: Path):
    env_result = subprocess.run(
        [CLI, "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"CLASSBRIDGE_PORT": "not-a-port", "CLASSBRIDGE_DATA_DIR": str(tmp_path)},
    )
    assert env_result.returncode == 2
    assert "Configuration error" in env_result.stdout + env_result.stderr
    assert "Traceback" not in env_result.stderr


def test_a_fresh_install_gets_its_provider_and_first_admin(tmp_path: Path):
    assert run(tmp_path, "db", "upgrade").returncode == 0
    empty = run(tmp_path, "provider", "add", "--name", "   ")
    assert empty.returncode == 2
    no_provider = run(tmp_path, "user", "add", "--email", "a@h.example", "--role", "admin")
    assert no_provider.returncode == 2
    assert "there are 0" in no_provider.stdout
    made = run(tmp_path, "provider", "add", "--name", "St Elsewhere Hospital School")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "St Elsewhere Hospital School" in made.stdout
    admin = run(
        tmp_path, "user", "add", "--email", "a@h.example", "--role", "admin", stdin="pw 12345678\n"
    )
    assert admin.returncode == 0, admin.stdout + admin.stderr
    assert asyncio.run(counts(tmp_path))["User"] == 1


async def _rollup_differences(data_dir: Path) -> list[tuple[str, object]]:
    db = Database(f"sqlite+aiosqlite:///{(data_dir / 'classbridge.sqlite3').resolve()}")
    try:
        return await rollup_differences(db)
    finally:
        await db.close()


def test_demo_history_is_in_the_engagement_rollups(demo_dir: Path):
    """The demo's outcomes (migrated database, ``compute_outcomes``) are summed in the
    rollups the dashboard reads."""
    assert asyncio.run(_rollup_differences(demo_dir)) == []
    assert asyncio.run(history(demo_dir))[0]["OutcomeRow"] > 0


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("command", "url", "told"),
    [
        (
            ("demo",),
            "postgresql+asyncpg://classbridge:s3cret-pw@127.0.0.1:{port}/classbridge",
            "server runs",
        ),
        (
            ("serve", "--port", "{port}"),
            "postgresql+asyncpg://classbridge:s3cret-pw@127.0.0.1:{port}/classbridge",
            "server runs",
        ),
        (
            ("db", "upgrade"),
            "postgresql+asyncpg://postgres@127.0.0.1:5432/no_such_classbridge_db",
            "createdb",
        ),
        (
            ("demo",),
            "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
            "classbridge db upgrade",
        ),
        (("demo",), "", "classbridge db upgrade"),
    ],
    ids=[
        "postgres-down",
        "serve-postgres-down",
        "no-such-database",
        "not-migrated-postgres",
        "no-data-dir",
    ],
)
def test_an_unusable_database_is_one_clear_line_not_a_traceback(tmp_path: Path, command, url, told):
    port = str(_closed_port())
    env = os.environ | {
        "CLASSBRIDGE_DATA_DIR": str(tmp_path / "not-yet"),
        "CLASSBRIDGE_DATABASE_URL": url.format(port=port),
    }
    result = subprocess.run(
        [CLI, *(part.format(port=port) for part in command)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, said
    assert "Database error" in said
    assert told in said
    assert "Traceback" not in said
    assert "s3cret-pw" not in said  # the URL is named with its password hidden
