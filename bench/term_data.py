"""The term of engagement data bench/term_report.py times against (generated outside the timing).

One provider, 20 schools, ``pupils`` pupils each with a robot, a term of 13
weeks (65 school days) with 75 bookings a pupil (5 % cancelled), a session for
every lesson joined and for half of those missed (robot alone) with joins, gaps
and reconnects, hands raised and quality samples, one move per lesson (on
time, late or failed). Ten per cent of pupils drift in the last three weeks.
Deterministic (seeded); loaded by COPY.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from rich.progress import Progress

__all__ = ["COLUMNS", "Generated", "generate", "load", "school_days"]

SCHOOLS = 20
NO_PASSWORD = "!"  # noqa: S105 - not a hash at all: nobody signs in to the bench's accounts
WEEKS = 13
PER_PUPIL = 75
TERM_START = date(2025, 1, 6)  # a Monday; winter, so London time is UTC
PERIODS = [(9, 0), (10, 0), (11, 20), (12, 20), (14, 0), (15, 0)]
SUBJECTS = ["Maths", "English", "Science", "History", "Geography", "French", "Art", "Computing"]
CANCEL_REASONS = ["too unwell today", "treatment moved", "tablet broken", "school closed"]


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def school_days() -> list[date]:
    days = [TERM_START + timedelta(days=d) for d in range(WEEKS * 7)]
    return [d for d in days if d.weekday() < 5]


class Generated:
    """Rows by table, as tuples in the table's column order (see ``COLUMNS``)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}

    def add(self, table: str, **values: Any) -> None:
        self.rows[table].append(tuple(values.get(c) for c in COLUMNS[table]))


COLUMNS: dict[str, list[str]] = {
    "providers": ["id", "name", "contact_email", "created_at"],
    "schools": ["id", "provider_id", "name", "time_zone", "allow_pupil_camera", "created_at"],
    "users": [
        "id", "email", "name", "role", "password_hash", "provider_id", "active", "created_at",
    ],
    "pupils": [
        "id", "provider_id", "school_id", "first_name", "last_name", "year_group",
        "key_worker_id", "parent_consent", "class_informed", "camera_consent", "pupil_code",
        "active", "created_at",
    ],
    "devices": [
        "id", "provider_id", "serial", "name", "model", "kind", "capabilities", "lifecycle",
        "school_id", "pupil_id", "online", "created_at",
    ],
    "bookings": [
        "id", "pupil_id", "school_id", "lesson_key", "lesson_date", "starts_at", "ends_at",
        "subject", "room", "classroom_device_id", "status", "cancel_reason", "cancelled_at",
        "created_at", "created_by",
    ],
    "lesson_sessions": [
        "id", "booking_id", "pupil_id", "robot_id", "mode", "status", "opens_at", "closes_at",
        "created_at", "ended_at",
    ],
    "session_events": ["id", "session_id", "at", "participant", "kind", "data"],
    "rota_moves": [
        "id", "school_id", "local_date", "device_id", "booking_id", "pupil_id", "reason",
        "from_room_id", "from_room_name", "to_room_id", "to_room_name", "earliest", "due",
        "pinned", "status", "status_reason", "confirmed_at", "version", "created_at",
        "updated_at",
    ],
}  # fmt: skip


def generate(pupils: int, progress: Progress) -> tuple[Generated, dict[str, Any]]:
    """A term of data (deterministic); returns the rows and what the timings need."""
    rng = random.Random(11)
    g = Generated()
    created = datetime(2024, 9, 1, tzinfo=UTC)
    provider = _id(rng)
    g.add("providers", id=provider, name="Bench Hospital School", created_at=created)
    schools = [_id(rng) for _ in range(SCHOOLS)]
    for i, school in enumerate(schools):
        g.add("schools", id=school, provider_id=provider, name=f"School {i}",
              time_zone="Europe/London", allow_pupil_camera=False, created_at=created)  # fmt: skip
    coordinator = _id(rng)
    g.add("users", id=coordinator, email="coord@bench.example", name="Coordinator",
          role="coordinator", password_hash=NO_PASSWORD, provider_id=provider, active=True,
          created_at=created)  # fmt: skip
    staff = [_id(rng) for _ in range(40)]
    for i, user in enumerate(staff):
        g.add("users", id=user, email=f"staff{i}@bench.example", name=f"Staff {i}",
              role="hospital_staff", password_hash=NO_PASSWORD, provider_id=provider, active=True,
              created_at=created)  # fmt: skip
    days = school_days()
    drift_from = days[-15]
    task = progress.add_task("generating a term", total=pupils)
    counter = {"event": 0}
    for p in range(pupils):
        pupil, robot, school = _id(rng), _id(rng), schools[p % SCHOOLS]
        g.add("pupils", id=pupil, provider_id=provider, school_id=school, first_name=f"P{p}",
              last_name="Bench", year_group="Year 9", key_worker_id=staff[p % len(staff)],
              parent_consent=True, class_informed=True, camera_consent=False,
              pupil_code=f"B{p:05d}", active=True, created_at=created)  # fmt: skip
        g.add("devices", id=robot, provider_id=provider, serial=f"R-{p:05d}", name=f"Robot {p}",
              model="AV1", kind="robot", capabilities="[]", lifecycle="active", school_id=school,
              pupil_id=pupil, online=False, created_at=created)  # fmt: skip
        keen = rng.uniform(0.55, 0.98)
        drifting = p % 10 == 3
        slots = sorted(rng.sample(range(len(days) * len(PERIODS)), PER_PUPIL))
        for slot in slots:
            day, (hour, minute) = days[slot // len(PERIODS)], PERIODS[slot % len(PERIODS)]
            chance = keen * (0.3 if drifting and day >= drift_from else 1)
            _lesson(g, rng, counter, pupil, robot, school, staff[p % len(staff)], day,
                    hour, minute, chance)  # fmt: skip
        progress.advance(task)
    progress.update(task, description=f"generated {sum(map(len, g.rows.values())):,} rows")
    facts = {
        "provider": provider,
        "coordinator": coordinator,
        "pupil": g.rows["pupils"][0][0],
        "first": days[0],
        "last": days[-1],
        "now": datetime.combine(days[-1] + timedelta(days=3), datetime.min.time(), UTC)
        + timedelta(hours=3),
    }
    return g, facts


def _lesson(
    g: Generated,
    rng: random.Random,
    counter: dict[str, int],
    pupil: str,
    robot: str,
    school: str,
    staff: str,
    day: date,
    hour: int,
    minute: int,
    chance: float,
) -> None:
    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    end = start + timedelta(minutes=60)
    booking = _id(rng)
    cancelled = rng.random() < 0.05
    g.add("bookings", id=booking, pupil_id=pupil, school_id=school,
          lesson_key=f"*-{day:%a}-{hour:02d}{minute:02d}".lower(), lesson_date=day,
          starts_at=start, ends_at=end, subject=SUBJECTS[(hour + day.weekday()) % 8],
          room="R1", classroom_device_id=robot,
          status="cancelled" if cancelled else "booked",
          cancel_reason=rng.choice(CANCEL_REASONS) if cancelled else None,
          cancelled_at=start - timedelta(hours=3) if cancelled else None,
          created_at=start - timedelta(days=14), created_by=staff)  # fmt: skip
    if cancelled:
        return
    roll = rng.random()
    move = "failed" if roll > 0.97 else "late" if roll > 0.87 else "done"
    due = start - timedelta(minutes=2)
    confirmed = {"done": due - timedelta(minutes=5), "late": due + timedelta(minutes=4)}.get(move)
    g.add("rota_moves", id=_id(rng), school_id=school, local_date=day, device_id=robot,
          booking_id=booking, pupil_id=pupil, reason="to_lesson", from_room_id="base",
          from_room_name="Base", to_room_id="r1", to_room_name="R1",
          earliest=start - timedelta(minutes=40), due=due, pinned=False,
          status="failed" if move == "failed" else "done",
          status_reason="door locked" if move == "failed" else None, confirmed_at=confirmed,
          version=1, created_at=start - timedelta(days=1), updated_at=confirmed or due)  # fmt: skip
    joined = move != "failed" and rng.random() < chance
    if not joined and rng.random() < 0.5:
        return  # nobody opened the lesson
    session = _id(rng)
    g.add("lesson_sessions", id=session, booking_id=booking, pupil_id=pupil, robot_id=robot,
          mode="direct", status="ended", opens_at=start - timedelta(minutes=5),
          closes_at=end + timedelta(minutes=5), created_at=start - timedelta(minutes=5),
          ended_at=end + timedelta(minutes=5))  # fmt: skip

    def event(at: datetime, kind: str, who: str | None, data: str = "{}") -> None:
        counter["event"] += 1
        g.add("session_events", id=counter["event"], session_id=session, at=at,
              participant=who, kind=kind, data=data)  # fmt: skip

    event(start - timedelta(minutes=4), "joined", "robot")
    if joined:
        partial = rng.random() < 0.15
        first = start + timedelta(minutes=rng.randint(0, 20 if partial else 3))
        last = end - timedelta(minutes=rng.randint(25, 40) if partial else rng.randint(0, 2))
        event(first, "joined", "pupil")
        if rng.random() < 0.25:  # a dropped connection and a rejoin
            gap = first + (last - first) / 2
            event(gap, "left", "pupil")
            event(gap + timedelta(minutes=rng.randint(1, 4)), "reconnected", "pupil")
        rtt, loss = rng.randint(40, 300), round(rng.uniform(0, 4), 1)
        event(first + timedelta(minutes=10), "quality", "pupil",
              json.dumps({"rtt_ms": rtt, "loss_pct": loss}))  # fmt: skip
        if rng.random() < 0.3:
            event(first + timedelta(minutes=15), "control", "pupil", '{"control": "raise_hand"}')
        event(last, "left", "pupil")
    event(end + timedelta(minutes=5), "ended", None)


async def load(url: str, g: Generated, progress: Progress) -> None:
    """COPY every table (foreign keys in order)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    task = progress.add_task("copying into PostgreSQL", total=sum(map(len, g.rows.values())))
    try:
        for table, rows in g.rows.items():
            for start in range(0, len(rows), 50_000):
                chunk = rows[start : start + 50_000]
                await conn.copy_records_to_table(table, records=chunk, columns=COLUMNS[table])
                progress.advance(task, len(chunk))
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('session_events', 'id'),"
            " (SELECT max(id) FROM session_events))"
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
