"""The pupil's tablet: today's lessons, the live lesson page, "too unwell today", and where
the classroom robot probably is when a lesson starts."""

__all__: list[str] = []
