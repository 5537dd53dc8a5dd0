"""A pupil's unavailability: weekly treatment, one-off appointments, "too unwell today",
and the bookings it cancels. ``domain`` is pure (checked)."""
