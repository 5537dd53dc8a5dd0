"""The audit log page (issue 16): plain words, page views apart from changes, filters by
who, what, pupil and date, times in the schools' zone."""

from __future__ import annotations

from datetime import UTC, datetime

from integration.test_pages import csrf_of, sign_in

from telepresence.audit_pages import describe, is_read
from telepresence.platform.http.context import DATABASE
from telepresence.platform.security.audit import record
from telepresence.platform.security.identity import Principal, Role


def test_actions_read_as_plain_words_and_reads_are_told_apart():
    assert describe("pupil.read") == "opened the record of"
    assert describe("user.deactivate") == "deactivated the account of"
    assert describe("device.command.identify") == "command identify (device)"
    assert is_read("pupil.read")
    assert is_read("pupil.list")
    assert is_read("engagement.export_weekly")
    assert not is_read("pupil.update")
    assert not is_read("booking.cancel")


async def _entries(client, org) -> None:
    staff = Principal(
        role=Role.HOSPITAL_STAFF,
        subject_id=org.users["hospital_staff"].id,
        display_name="Staff",
        provider_id=org.provider_id,
    )
    admin = Principal(
        role=Role.ADMIN,
        subject_id=org.users["admin"].id,
        display_name="Admin",
        provider_id=org.provider_id,
    )
    async with client.app[DATABASE].transaction() as session:
        for who, action, subject, at in [
            (staff, "pupil.read", org.pupil.id, datetime(2026, 6, 1, 9, 30, tzinfo=UTC)),
            (staff, "pupil.update", org.pupil.id, datetime(2026, 6, 1, 9, 31, tzinfo=UTC)),
            (
                admin,
                "user.deactivate",
                org.users["coordinator"].id,
                datetime(2026, 6, 2, 8, 0, tzinfo=UTC),
            ),
            (admin, "device.register", "dev1", datetime(2026, 6, 3, 23, 30, tzinfo=UTC)),
        ]:
            record(
                session,
                actor=who,
                action=action,
                subject_type="user" if action.startswith("user") else action.split(".")[0],
                subject_id=subject,
                at=at,
            )


async def test_changes_and_page_views_are_shown_apart_in_plain_words(client, org):
    await _entries(client, org)
    await sign_in(client, org.email("admin"))
    changes = await (await client.get("/audit")).text()
    assert "changed the details of" in changes
    assert "deactivated the account of" in changes
    assert "opened the record of" not in changes
    assert "Times are in Europe/London" in changes
    assert "Mon 1 Jun 2026, 10:31" in changes  # 09:31 UTC is 10:31 in London in June
    views = await (await client.get("/audit?kind=views")).text()
    assert "opened the record of" in views
    assert "changed the details of" not in views


async def test_filters_by_who_what_pupil_and_date(client, org):
    await _entries(client, org)
    await sign_in(client, org.email("admin"))
    by_staff = await (await client.get(f"/audit?who={org.users['hospital_staff'].id}")).text()
    assert "changed the details of" in by_staff
    assert "deactivated the account of" not in by_staff
    devices = await (await client.get("/audit?what=devices")).text()
    assert "registered a device" in devices
    assert "changed the details of" not in devices
    sam = await (await client.get(f"/audit?pupil={org.pupil.id}")).text()
    assert "changed the details of" in sam
    assert "registered a device" not in sam
    # 23:30 UTC on 3 June is already 4 June in London: the day is the school's.
    june_4 = await (await client.get("/audit?from=2026-06-04&to=2026-06-04")).text()
    assert "registered a device" in june_4
    assert "deactivated the account of" not in june_4
    nothing = await (await client.get("/audit?from=2027-01-01&what=nonsense&to=bad")).text()
    assert "Nothing recorded that matches these filters." in nothing
    assert csrf_of(nothing)
