"""Live lessons: sessions between a pupil's tablet and a classroom robot, and their signalling."""

__all__: list[str] = []
