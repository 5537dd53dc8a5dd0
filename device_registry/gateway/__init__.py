"""The device gateway: a lean process serving ``/ws/device`` for the service.

``classbridge gateway`` holds robots' and tablets' sockets with aiohttp, the
protocol models (``device_registry.protocol``, spoken through
``device_registry.conversation`` exactly as the service speaks it) and asyncpg:
no SQLAlchemy, no pages, no scheduler. It authenticates devices against the
same hashed, revocable credentials, writes their presence and telemetry
behind (``store.py``), and talks to the service over PostgreSQL LISTEN/NOTIFY
(the service's event bridge): fleet updates, device changes, acknowledgements
and robots' lesson questions go to the service; messages and disconnects for
devices come back. Optional: ``classbridge serve`` serves devices itself.
"""

__all__: list[str] = []
