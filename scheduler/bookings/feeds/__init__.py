"""Secret, revocable iCalendar feeds of a pupil's bookings, for staff and families' calendars."""
