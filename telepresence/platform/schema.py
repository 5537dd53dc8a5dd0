"""The metadata of every table, for migrations and tests (imports every package's models)."""

from __future__ import annotations

import device_registry.models
import scheduler.models
import scheduler.rota_models
import telepresence.notifications.models
import telepresence.platform.jobstore
import telepresence.platform.models
import telepresence.sessions.models
from telepresence.platform.database import Base

__all__ = ["metadata"]

# Imported for their side effect: registering their tables on Base.metadata.
_MODELS = (
    telepresence.platform.models,
    device_registry.models,
    scheduler.models,
    scheduler.rota_models,
    telepresence.sessions.models,
    telepresence.platform.jobstore,
    telepresence.notifications.models,
)
metadata = Base.metadata
