"""Live lessons: sessions between a pupil's tablet and a classroom robot, and their signalling.

The session's rules, tables, use cases and routes sit here; the rest by what people do:
``call`` (the session socket), ``joining`` and ``watching``.
"""

__all__: list[str] = []
