"""Prometheus metrics of the message flow; labels are ids, types and codes, never personal data."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BATCH_SECONDS",
    "EVENTS_DEAD_LETTERED",
    "EVENTS_DELIVERED",
    "EVENTS_DUPLICATE",
    "EVENTS_IN",
    "EVENTS_WITHHELD",
    "STATE_KEYS",
    "TRANSIENT_FAILURES",
]

EVENTS_IN = Counter("hub_events_in_total", "Records read from inbound topics.", ["partner"])
EVENTS_DELIVERED = Counter(
    "hub_deliveries_total", "Deliveries released to recipients' outbound topics.",
    ["type", "recipient"],
)  # fmt: skip
EVENTS_WITHHELD = Counter(
    "hub_withheld_total", "Deliveries withheld (e.g. no consent).", ["type", "recipient"]
)
EVENTS_DEAD_LETTERED = Counter(
    "hub_dead_lettered_total", "Events dead-lettered, by error code.", ["partner", "code"]
)
EVENTS_DUPLICATE = Counter(
    "hub_duplicates_total", "Events suppressed as duplicates of (source, id).", ["partner"]
)
TRANSIENT_FAILURES = Counter(
    "hub_transient_failures_total", "Batches retried after a transient Kafka failure.", []
)
BATCH_SECONDS = Histogram(
    "hub_batch_seconds", "Time to process and commit one batch transactionally."
)
STATE_KEYS = Gauge("hub_state_keys", "Keys in this instance's routing state.")
