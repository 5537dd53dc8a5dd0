from datetime import UTC, date, datetime

import pytest

from scheduler.bookings.events import (
    BOOKINGS_TOPIC,
    CollectedBookingEvents,
    HubBookingEvents,
    pupil_topic,
)
from scheduler.bookings.ports import BookingEvent, BookingEventKind, BookingEvents
from scheduler.timetables.services import detect_format
from telepresence.platform.events.events import EventHub


def event(kind: BookingEventKind = BookingEventKind.BOOKED) -> BookingEvent:
    return BookingEvent(
        kind=kind,
        booking_id="b1",
        pupil_id="p1",
        school_id="s1",
        lesson_key="A-mon-0850",
        lesson_date=date(2025, 3, 31),
        starts_at=datetime(2025, 3, 31, 7, 50, tzinfo=UTC),
        ends_at=datetime(2025, 3, 31, 8, 40, tzinfo=UTC),
        room="M12",
        classroom_device_id="r1",
        pupil_device_id=None,
        at=datetime(2025, 3, 1, tzinfo=UTC),
    )


async def test_hub_events_reach_the_bookings_topic_and_the_pupils_as_json_ready_dicts():
    hub = EventHub()
    publisher: BookingEvents = HubBookingEvents(hub)
    async with hub.subscribe(BOOKINGS_TOPIC) as everyone, hub.subscribe(pupil_topic("p1")) as own:
        publisher.publish([event(), event(BookingEventKind.CANCELLED)])
        first = everyone.get_nowait()
        assert own.qsize() == 2
    assert first["kind"] == "booked"
    assert first["starts_at"] == "2025-03-31T07:50:00+00:00"
    assert first["lesson_date"] == "2025-03-31"
    assert first["pupil_device_id"] is None
    assert everyone.get_nowait()["kind"] == "cancelled"


def test_collected_events_keep_order():
    collected = CollectedBookingEvents()
    collected.publish([event()])
    collected.publish([event(BookingEventKind.FLAGGED)])
    assert [e.kind for e in collected.events] == ["booked", "flagged"]


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"anything", "timetable.ics", "ical"),
        (b"\xef\xbb\xbf  BEGIN:VCALENDAR\r\n", "export", "ical"),
        (b"PK\x03\x04...", "upload", "oneroster"),
        (b"", "bundle.ZIP", "oneroster"),
        (b"Week,Day,Period,Subject\n", "9X.csv", "csv"),
        (b"Week,Day,Period,Subject\n", "", "csv"),
    ],
)
def test_format_is_guessed_from_the_name_then_the_first_bytes(data, name, expected):
    assert detect_format(data, name) == expected
