"""The organisation: home schools and rooms, pupils on roll, staff accounts."""

__all__: list[str] = []
