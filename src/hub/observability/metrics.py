"""Prometheus metrics of `hub run`; labels are partner ids, event types and codes, never personal data.

Served by the ops server (``hub.observability.ops``) on ``HUB_OPS__PORT`` with the
webhook deliverer's (``hub.delivery.channel``, ``sender``, ``parking``) and the audit feed's
(``hub.audit.feed``), which live next to their code; docs/operations.md ("Metrics") lists
each with what it means and which process serves it. Hot paths look a labelled child up once and keep it (the pipeline's
``_count``, the webhook channel's per-partner children): ``labels()`` is a dict lookup
under a lock. No label is ever an event id, a subject or anything from a payload; a type
label is a type of the contract or ``unknown``, so a partner cannot grow the label set.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "AUDIT_LAG_RECORDS",
    "AUDIT_LAG_SECONDS",
    "BATCH_SECONDS",
    "DELIVERY_BACKLOG",
    "DELIVERY_OLDEST_BY_TYPE_SECONDS",
    "DELIVERY_OLDEST_SECONDS",
    "EVENTS_DEAD_LETTERED",
    "EVENTS_DELIVERED",
    "EVENTS_DUPLICATE",
    "EVENTS_IN",
    "EVENTS_WITHHELD",
    "KPI_BUDGET_CENTS",
    "KPI_DURATION_SECONDS",
    "KPI_OPEN_PAIRS",
    "KPI_SAFETY_LATE",
    "KPI_UPDATED",
    "LAG_CHECKED",
    "PARTNER_INFO",
    "ROUTER_LAG",
    "ROUTER_RETRIES",
    "ROUTER_RETRYING",
    "SAFETY_REPORT_DEADLINE",
    "STATE_KEYS",
    "WEBHOOK_PARKED",
    "start_series",
]

# The message flow: counted by the pipeline, in the router's transaction. A batch that is
# retried after a Kafka failure is counted again, so these are attempts at the flow, close
# to but not exactly the committed records (the topics are the exact record).
EVENTS_IN = Counter(
    "hub_events_in_total",
    "Records read from inbound topics, by sending partner and event type (unknown when unreadable).",
    ["partner", "type"],
)
EVENTS_DELIVERED = Counter(
    "hub_deliveries_total", "Deliveries released to recipients' outbound topics.",
    ["type", "recipient"],
)  # fmt: skip
EVENTS_WITHHELD = Counter(
    "hub_withheld_total", "Deliveries withheld (e.g. no consent).", ["type", "recipient"]
)
EVENTS_DEAD_LETTERED = Counter(
    "hub_dead_lettered_total",
    "Events dead-lettered, by sending partner, event type and (first) error code.",
    ["partner", "type", "code"],
)
EVENTS_DUPLICATE = Counter(
    "hub_duplicates_total",
    "Events suppressed as duplicates of (source, id), by sending partner and event type.",
    ["partner", "type"],
)
BATCH_SECONDS = Histogram(
    "hub_batch_seconds",
    "Time to process one batch and commit it in one Kafka transaction (deliveries, "
    "disclosure records, state, offsets).",
)
STATE_KEYS = Gauge("hub_state_keys", "Keys in this instance's routing state.")
ROUTER_RETRYING = Gauge(
    "hub_router_retrying",
    "1 while the router retries its Kafka session (broker unreachable, producer rebuilt), "
    "0 once it consumes again.",
)
ROUTER_RETRIES = Counter(
    "hub_router_retries_total", "Times the router's Kafka session failed and was retried."
)

# Derived from Kafka by the lag monitor (``hub.observability.lag``), every interval.
ROUTER_LAG = Gauge(
    "hub_router_lag_records",
    "Records on a partner's inbound topic partition not yet committed by the router's group.",
    ["partner", "partition"],
)
DELIVERY_BACKLOG = Gauge(
    "hub_delivery_backlog_records",
    "Deliveries on a recipient's topic not yet taken (webhook: delivered or parked; pull: "
    "the partner came back with a cursor after them; Kafka: its group in HUB_OPS__PARTNER_GROUPS).",
    ["recipient"],
)
DELIVERY_OLDEST_SECONDS = Gauge(
    "hub_delivery_oldest_undelivered_seconds",
    "Age of the oldest delivery on a recipient's topic not yet taken (0 when none).",
    ["recipient"],
)
DELIVERY_OLDEST_BY_TYPE_SECONDS = Gauge(
    "hub_delivery_oldest_undelivered_by_type_seconds",
    "Age of the oldest undelivered delivery of one event type for a recipient, among the "
    "first undelivered records of each partition the monitor reads (0 when none).",
    ["recipient", "type"],
)
WEBHOOK_PARKED = Gauge(
    "hub_webhook_parked_records",
    "Parked deliveries of a webhook partner that replay has not yet taken.",
    ["partner"],
)
AUDIT_LAG_RECORDS = Gauge(
    "hub_audit_store_lag_records",
    "Disclosure-log records on Kafka the audit store's feed has not yet stored.",
)
AUDIT_LAG_SECONDS = Gauge(
    "hub_audit_store_lag_seconds",
    "Age of the oldest disclosure-log record the audit store's feed has not yet stored "
    "(0 when none).",
)
LAG_CHECKED = Gauge(
    "hub_lag_checked_timestamp_seconds",
    "When the lag monitor last read every group's offsets from Kafka (Unix time).",
)
SAFETY_REPORT_DEADLINE = Gauge(
    "hub_safety_report_deadline_seconds",
    "HUB_OPS__SAFETY_REPORT_DEADLINE_SECONDS: the time within which a safety report must "
    "reach Veilig Thuis (the HubSafetyReportUndelivered alert compares with it).",
)
PARTNER_INFO = Gauge(
    "hub_partner_info",
    "1 for each registered partner, with its role and delivery kind: join on it to select "
    "by role, e.g. the veilig-thuis recipients.",
    ["partner", "role", "delivery"],
)

# Flow KPIs (``hub.kpi``): observed by the KPI aggregator as pairs complete, after the
# transaction that counts them commits. The team label is the team's name as the events
# give it (a bounded set: the aggregator labels at most KPI_TEAM_LABELS teams, the rest
# "(other teams)"); kpi is one of waiting, throughput, time-to-start, veilig-thuis-response.
_KPI_BUCKETS = tuple(
    d * 86_400.0 for d in (1 / 24, 1, 2, 3, 5, 7, 10, 14, 21, 28, 42, 56, 91, 182, 365)
)
KPI_DURATION_SECONDS = Histogram(
    "hub_kpi_duration_seconds",
    "Flow KPI durations completed since the process started, by team and KPI: waiting "
    "(referral submitted to intake scheduled), throughput (case opened to closed), "
    "time-to-start (assignment issued to care started), veilig-thuis-response (safety "
    "report to its first feedback). Measured between the events' times.",
    ["team", "kpi"],
    buckets=_KPI_BUCKETS,
)
KPI_SAFETY_LATE = Counter(
    "hub_kpi_veilig_thuis_late_total",
    "Safety reports whose first feedback came after 5 working days, by team.",
    ["team"],
)
KPI_BUDGET_CENTS = Gauge(
    "hub_kpi_budget_cents",
    "A team's latest reported budget position (budgets.status-reported of its latest "
    "period), by figure: budget, committed, spent.",
    ["team", "figure"],
)
KPI_OPEN_PAIRS = Gauge(
    "hub_kpi_open_pairs",
    "Started pairs still waiting for the event that completes them, by KPI.",
    ["kpi"],
)
KPI_UPDATED = Gauge(
    "hub_kpi_updated_timestamp_seconds",
    "When the KPI aggregator last committed what it read (Unix time; it commits at least "
    "every HUB_OPS__KPI_INTERVAL_SECONDS while it runs).",
)


def start_series(partner_ids: Iterable[str]) -> None:
    """Create at 0 the series alerts watch for a first increase (a counter born at 1 shows none)."""
    for partner in partner_ids:
        # PROCESSING_FAILED is dead-lettered without a type (the hub failed before or after it).
        EVENTS_DEAD_LETTERED.labels(partner, "unknown", "PROCESSING_FAILED")
    ROUTER_RETRYING.set(0)
