"""The metadata of every table, for migrations and tests.

Part of the composition root: it imports every feature package's models, which
the shared kernel (``telepresence.platform``) must never do.
"""

from __future__ import annotations

import device_registry.models
import scheduler.bookings.models
import scheduler.rota.models
import scheduler.timetables.models
import telepresence.engagement.models
import telepresence.engagement.rollup
import telepresence.notifications.models
import telepresence.platform.jobs.jobstore
import telepresence.platform.models
import telepresence.platform.versions
import telepresence.reintegration.models
import telepresence.sessions.models
from telepresence.platform.database import Base

__all__ = ["metadata"]

# Imported for their side effect: registering their tables on Base.metadata.
_MODELS = (
    telepresence.platform.models,
    telepresence.platform.versions,
    device_registry.models,
    scheduler.timetables.models,
    scheduler.bookings.models,
    scheduler.rota.models,
    telepresence.sessions.models,
    telepresence.platform.jobs.jobstore,
    telepresence.notifications.models,
    telepresence.engagement.models,
    telepresence.reintegration.models,
)
metadata = Base.metadata
