"""The shared kernel: settings, database, identity and roles, errors, audit, clock.

Settings, the database, the kernel's tables, errors, the clock and the kernel's own routes
sit here; the rest by concern: ``http`` (routing, rendering, OpenAPI, application state),
``security``, ``jobs``, ``events`` and ``operations``.

It imports no feature package (``schema.py``, which gathers every table for
migrations, is the one module that does, and only the composition root uses it).
"""

from telepresence.platform.security.identity import Principal, Role
from telepresence.platform.settings import Settings

__all__ = ["Principal", "Role", "Settings"]
