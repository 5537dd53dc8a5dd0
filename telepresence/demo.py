"""``classbridge demo``: a realistic hospital school, two home schools, pupils and devices.

Idempotent: running it again changes nothing that is already there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from telepresence.demo_engagement import seed_engagement_history
from telepresence.demo_reintegration import SCHOOL_CONTACT, seed_reintegration
from telepresence.demo_rota import seed_rota
from telepresence.demo_timetables import seed_timetables
from telepresence.platform.database import Database
from telepresence.platform.models import Provider, Pupil, Room, School, User
from telepresence.platform.security.auth import hash_secret
from telepresence.platform.settings import Settings

__all__ = ["DEMO_LOGINS", "print_logins", "seed_demo", "seed_demo_cli"]

PROVIDER = "Riverside Hospital School (demo)"
SCHOOLS = {
    "Oakfield Academy": [
        ("S12", "Science block", 1),
        ("Lab 3", "Science block", 1),
        ("M4", "Main building", 0),
        ("E7", "Main building", 1),
        ("Library", "Main building", 0),
        ("Office", "Main building", 0),
    ],
    "St Aidan's High School": [
        ("H2", "Humanities", 0),
        ("H5", "Humanities", 1),
        ("Maths 1", "North wing", 0),
        ("IT Suite", "North wing", 1),
        ("Reception", "North wing", 0),
    ],
}


@dataclass(frozen=True)
class DemoLogin:
    """A demo account and how to use it."""

    role: str
    login: str
    secret: str
    start_page: str


DEMO_LOGINS = [
    DemoLogin("admin", "admin@riverside.example", "demo-admin-pass", "/devices"),
    DemoLogin("coordinator", "coordinator@riverside.example", "demo-coord-pass", "/devices"),
    DemoLogin("hospital_staff", "teacher@riverside.example", "demo-staff-pass", "/pupils"),
    DemoLogin("assistant", "assistant@oakfield.example", "demo-assist-pass", "/assistant"),
    DemoLogin("pupil", "SAMK42", "2468", "/today"),
    DemoLogin("school_contact", SCHOOL_CONTACT[0], SCHOOL_CONTACT[1], "/school"),
]
PUPILS = [  # first, last, year, school, pupil code, PIN (only Sam's is set)
    ("Sam", "Kowalski", "Year 9", "Oakfield Academy", "SAMK42", "2468"),
    ("Aisha", "Rahman", "Year 7", "Oakfield Academy", "AISR73", None),
    ("Leo", "Murphy", "Year 10", "Oakfield Academy", "LEOM59", None),
    ("Maya", "Chen", "Year 8", "St Aidan's High School", "MAYC26", None),
    ("Oliver", "Okafor", "Year 11", "St Aidan's High School", "OLIO94", None),
    ("Ruby", "Evans", "Year 6", "St Aidan's High School", "RUBE37", None),
]
ROBOTS = [
    ("Robbie", "OAK-AV1-0001", "Oakfield Academy", "SAMK42", "Office"),
    ("Nova", "OAK-AV1-0002", "Oakfield Academy", "LEOM59", "Office"),
    ("Pip", "STA-AV1-0003", "St Aidan's High School", "MAYC26", "Reception"),
    ("Juno", "STA-AV1-0004", "St Aidan's High School", None, "Reception"),
]
ROBOT_CAPS = ["camera", "microphone", "speaker", "head_pan_tilt", "lights", "battery"]
TABLET_CAPS = ["camera", "microphone", "speaker", "display", "battery"]


async def _get_or_add(
    session: AsyncSession, table: type, where: dict[str, object], /, **values: object
) -> object:
    row = await session.scalar(select(table).filter_by(**where))
    if row is None:
        row = table(**where, **values)
        session.add(row)
        await session.flush()
    return row


async def seed_demo(database: Database, now: datetime) -> None:
    """Create the demo data that is missing (never duplicates, never overwrites)."""
    await _seed_organisation(database, now)
    # Calendars, timetables and Sam's bookings go through the scheduler's own services.
    await seed_timetables(database, now, [code for *_, code, _pin in PUPILS])
    await seed_rota(database, now)  # after the bookings: today's moves are planned
    await seed_engagement_history(database, now)  # four past weeks, for the dashboard
    await seed_reintegration(database, now)


async def _seed_organisation(database: Database, now: datetime) -> None:
    async with database.transaction() as session:
        provider = await _get_or_add(
            session,
            Provider,
            {"name": PROVIDER},
            created_at=now,
            contact_email="office@riverside.example",
        )
        assert isinstance(provider, Provider)
        schools: dict[str, School] = {}
        rooms: dict[tuple[str, str], Room] = {}
        for school_name, school_rooms in SCHOOLS.items():
            school = await _get_or_add(
                session,
                School,
                {"name": school_name},
                provider_id=provider.id,
                time_zone="Europe/London",
                created_at=now,
                contact_email=None,
            )
            assert isinstance(school, School)
            schools[school_name] = school
            for room_name, building, floor in school_rooms:
                room = await _get_or_add(
                    session,
                    Room,
                    {"school_id": school.id, "name": room_name},
                    building=building,
                    floor=floor,
                )
                assert isinstance(room, Room)
                rooms[(school_name, room_name)] = room
        users: dict[str, User] = {}
        names = {
            "admin": "Priya Natarajan",
            "coordinator": "Tom Whitfield",
            "hospital_staff": "Grace Adeyemi",
            "assistant": "Jo Barker",
        }
        for login in DEMO_LOGINS[:4]:
            existing = await session.scalar(select(User).where(User.email == login.login))
            if existing is None:
                existing = User(
                    email=login.login,
                    name=names[login.role],
                    role=login.role,
                    provider_id=provider.id,
                    created_at=now,
                    password_hash=await hash_secret(login.secret),
                    school_id=schools["Oakfield Academy"].id if login.role == "assistant" else None,
                )
                session.add(existing)
                await session.flush()
            users[login.role] = existing
        pupils: dict[str, Pupil] = {}
        for first, last, year, school_name, code, pin in PUPILS:
            pupil = await session.scalar(select(Pupil).where(Pupil.pupil_code == code))
            if pupil is None:
                pupil = Pupil(
                    provider_id=provider.id,
                    school_id=schools[school_name].id,
                    first_name=first,
                    last_name=last,
                    year_group=year,
                    pupil_code=code,
                    key_worker_id=users["hospital_staff"].id,
                    parent_consent=True,
                    class_informed=code != "RUBE37",
                    created_at=now,
                    pin_hash=await hash_secret(pin) if pin else None,
                )
                session.add(pupil)
                await session.flush()
            pupils[code] = pupil
        for name, serial, school_name, pupil_code, base in ROBOTS:
            await _get_or_add(
                session,
                Device,
                {"serial": serial},
                provider_id=provider.id,
                name=name,
                model="AV1",
                kind="robot",
                capabilities=ROBOT_CAPS,
                lifecycle="active",
                school_id=schools[school_name].id,
                pupil_id=pupils[pupil_code].id if pupil_code else None,
                charging_base_room_id=rooms[(school_name, base)].id,
                last_known_room_id=rooms[(school_name, base)].id,
                created_at=now,
            )
        for index, (_f, _l, _y, school_name, code, _pin) in enumerate(PUPILS, start=1):
            await _get_or_add(
                session,
                Device,
                {"serial": f"TAB-{index:04d}"},
                provider_id=provider.id,
                name=f"{pupils[code].first_name}'s tablet",
                model="iPad (10th gen)",
                kind="tablet",
                capabilities=TABLET_CAPS,
                lifecycle="active",
                school_id=schools[school_name].id,
                pupil_id=pupils[code].id,
                created_at=now,
            )


def print_logins(console: Console, base_url: str) -> None:
    """Every demo role's sign-in, once: one line each, never wrapped, so a narrow terminal
    or a log keeps every password whole (a table would wrap them)."""
    console.print(f"Demo sign-ins for {base_url}:")
    rows = [("Role", "Sign in with", "Password / PIN", "Opens")]
    for login in DEMO_LOGINS:
        where = "/pupil-login" if login.role == "pupil" else "/login"
        rows.append((login.role, login.login, login.secret, base_url + where))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for role, who, secret, opens in rows:
        line = f"  {role:<{widths[0]}}  {who:<{widths[1]}}  {secret:<{widths[2]}}  {opens}"
        console.print(line, soft_wrap=True, highlight=False, markup=False)


async def seed_demo_cli(settings: Settings, console: Console) -> int:
    """Seed the demo and print every role's login."""
    database = Database(settings.effective_database_url)
    try:
        await seed_demo(database, datetime.now(UTC))
    finally:
        await database.close()
    print_logins(console, settings.base_url)
    console.print("Demo data is fictional. Change these passwords before real use.")
    return 0
