"""The shared kernel: settings, database, identity and roles, errors, audit, clock.

It imports no feature package (``schema.py``, which gathers every table for
migrations, is the one module that does, and only the composition root uses it).
"""

from telepresence.platform.identity import Principal, Role
from telepresence.platform.settings import Settings

__all__ = ["Principal", "Role", "Settings"]
