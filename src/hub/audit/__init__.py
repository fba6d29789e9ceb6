"""The disclosure log: its records, and the queryable store they are kept in."""

from hub.audit.record import (
    AttemptResult,
    DeliveryAttempt,
    DisclosureOutcome,
    DisclosureRecord,
)
from hub.audit.store import AuditStoreError, DisclosureStore, open_store

__all__ = [
    "AttemptResult",
    "AuditStoreError",
    "DeliveryAttempt",
    "DisclosureOutcome",
    "DisclosureRecord",
    "DisclosureStore",
    "open_store",
]
