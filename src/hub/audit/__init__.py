"""The disclosure log: its records, and the queryable store they are kept in."""

from hub.audit.record import (
    AttemptResult,
    DeliveryAttempt,
    DisclosureOutcome,
    DisclosureRecord,
)
from hub.audit.store import DisclosureStore, open_store
from hub.errors import AuditStoreError

__all__ = [
    "AttemptResult",
    "AuditStoreError",
    "DeliveryAttempt",
    "DisclosureOutcome",
    "DisclosureRecord",
    "DisclosureStore",
    "open_store",
]
