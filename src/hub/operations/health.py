"""What `hub status`, `hub partners` and `hub flows` report, gathered from what Kafka holds.

Every figure comes from the cluster: topics and their offsets, the committed offsets of
the hub's consumer groups (the router, the audit feed, webhook delivery and replay of
parked deliveries), the dead-letter topic, and the status and delivery topics' recent
records. Lag is counted in offsets (transaction markers take offsets too, so it is an
upper bound of the records). What lives only in a process's memory, such as whether a
partner's circuit breaker is open, is not on Kafka: `hub run` exposes it as a metric.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.audit.feed import audit_group
from hub.connectors.registry import Partner, PartnerRegistry, WebhookDelivery
from hub.delivery.parking import replay_group
from hub.delivery.webhook import delivery_group
from hub.kafka import TopicPartition
from hub.kafka.inspection import (
    Offsets,
    committed_offsets,
    count_from,
    describe_cluster,
    read_topics,
    topic_offsets,
)
from hub.operations.deadletters import ListedDeadLetter
from hub.operations.log import OperationRecord
from hub.records import StatusRecord
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

__all__ = [
    "BREAKERS_NOTE",
    "DeliveryHealth",
    "audit_feed_group",
    "cluster_summary",
    "dead_letter_counts",
    "delivery_health",
    "flows",
    "group_lag",
    "inbound_lag_by_partner",
    "router_topics",
]

BREAKERS_NOTE = "not on Kafka: hub run's metrics hold them (hub_webhook_breaker_open{partner})"


async def cluster_summary(
    kafka: KafkaSettings, layout: TopicLayout, registry: PartnerRegistry
) -> dict[str, Any]:
    """The brokers, and which of the hub's topics are missing."""
    cluster = await describe_cluster(kafka)
    wanted = [spec.name for spec in layout.all_topics(registry, kafka)]
    return {
        "bootstrap_servers": kafka.bootstrap_servers,
        "brokers": list(cluster.brokers),
        "controller": cluster.controller,
        "topics": len(wanted),
        "missing_topics": [t for t in wanted if t not in cluster.topics],
    }


def _present(topics: Iterable[str], existing: set[str]) -> list[str]:
    return [t for t in topics if t in existing]


async def group_lag(kafka: KafkaSettings, group: str, topics: list[str]) -> dict[str, int]:
    """Per topic, the offsets a group has still to read (from the first retained one, where it never committed)."""
    if not topics:
        return {}
    ends = await topic_offsets(kafka, topics)
    done = await committed_offsets(kafka, group)
    return {topic: _behind(topic, ends[topic], done) for topic in topics}


def _behind(topic: str, offsets: Offsets, done: dict[TopicPartition, int]) -> int:
    return sum(
        max(0, end - max(done.get(TopicPartition(topic, p), 0), offsets.beginning.get(p, 0)))
        for p, end in offsets.end.items()
    )


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    """How deliveries to one partner stand, as far as Kafka tells."""

    partner: str
    kind: str
    topic: str
    pending: int | None
    """Deliveries the webhook deliverer has not taken yet; None: not the hub's to know (kafka, pull)."""
    oldest_pending_at: datetime | None
    parked: int | None
    oldest_parked_at: datetime | None

    def summary(self) -> dict[str, Any]:
        """As the commands print it."""
        return {
            "partner": self.partner,
            "delivery": self.kind,
            "topic": self.topic,
            "pending": self.pending,
            "oldest_pending_at": _iso(self.oldest_pending_at),
            "parked": self.parked,
            "oldest_parked_at": _iso(self.oldest_parked_at),
        }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


async def delivery_health(
    kafka: KafkaSettings,
    layout: TopicLayout,
    partner: Partner,
    existing: set[str],
) -> DeliveryHealth:
    """A partner's undelivered and parked deliveries (webhook partners; the others read on their own)."""
    topic = layout.deliveries(partner)
    kind = partner.delivery.kind
    if not isinstance(partner.delivery, WebhookDelivery) or topic not in existing:
        # A Kafka-topic partner reads with its own consumer group, a pull partner holds
        # its own cursor: what they have not read yet is theirs to know.
        return DeliveryHealth(partner.id, kind, topic, None, None, None, None)
    pending, oldest = await _behind_and_oldest(kafka, delivery_group(kafka, partner.id), topic)
    parked_topic = layout.parked(partner.id)
    parked, oldest_parked = (
        await _behind_and_oldest(kafka, replay_group(kafka, partner.id), parked_topic)
        if parked_topic in existing
        else (None, None)
    )
    return DeliveryHealth(partner.id, kind, topic, pending, oldest, parked, oldest_parked)


async def _behind_and_oldest(
    kafka: KafkaSettings, group: str, topic: str
) -> tuple[int, datetime | None]:
    """The records a group has still to read (counted, not offsets: markers are no deliveries) and the oldest's time."""
    done = await committed_offsets(kafka, group)
    start = {tp.partition: offset for tp, offset in done.items() if tp.topic == topic}
    behind, oldest = await count_from(kafka, topic, start)
    return behind, None if oldest is None else datetime.fromtimestamp(oldest / 1000, UTC)


def dead_letter_counts(
    letters: Iterable[ListedDeadLetter], replayed: dict[str, OperationRecord]
) -> dict[str, Any]:
    """Dead letters in all, those not replayed, and per partner and code."""
    letters = list(letters)
    open_ = [d for d in letters if d.id not in replayed]
    by = Counter(f"{d.partner} {d.code}" for d in open_)
    return {
        "total": len(letters),
        "not_replayed": len(open_),
        "by_partner_and_code": [
            {"partner": key.split(" ")[0], "code": key.split(" ")[1], "count": n}
            for key, n in sorted(by.items())
        ],
    }


async def flows(
    kafka: KafkaSettings,
    layout: TopicLayout,
    registry: PartnerRegistry,
    window: timedelta,
    existing: set[str],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Events in per sender and type (routed, dead-lettered) and deliveries out per recipient and type, in the window.

    In: the status records written in the window (one per event the router decided;
    duplicates write none). Out: the records appended to the delivery topics in the window.
    """
    since = datetime.now(UTC) - window
    since_ms = int(since.timestamp() * 1000)
    inbound: Counter[tuple[str, str, str]] = Counter()
    if layout.status in existing:
        for record in await read_topics(
            kafka, [layout.status], since_ms=since_ms, progress=progress
        ):
            status = StatusRecord.from_json(record.value or b"")
            if status is not None:
                inbound[(status.partner or "unknown", status.type or "unknown", status.status)] += 1
    delivery_topics = {layout.deliveries(p): p.id for p in registry}
    topics = _present(delivery_topics, existing)
    outbound: Counter[tuple[str, str]] = Counter()
    for record in await read_topics(kafka, topics, since_ms=since_ms, progress=progress):
        type_ = next(
            (v.decode("utf-8", "replace") for n, v in record.headers if n == "ce_type"), "unknown"
        )
        outbound[(delivery_topics[record.topic], type_)] += 1
    minutes = window.total_seconds() / 60
    return {
        "window_seconds": int(window.total_seconds()),
        "since": since.isoformat(),
        "in": [
            {
                "partner": partner,
                "type": type_,
                "status": status,
                "count": n,
                "per_minute": round(n / minutes, 3),
            }
            for (partner, type_, status), n in sorted(inbound.items())
        ],
        "out": [
            {"recipient": recipient, "type": type_, "count": n, "per_minute": round(n / minutes, 3)}
            for (recipient, type_), n in sorted(outbound.items())
        ],
    }


def inbound_lag_by_partner(
    layout: TopicLayout, registry: PartnerRegistry, lag: dict[str, int]
) -> dict[str, int]:
    """The router's lag keyed by partner id (and ``replay`` for the replay topic)."""
    names = {layout.inbound(p.id): p.id for p in registry}
    names[layout.replay] = "replay"
    return {names.get(topic, topic): n for topic, n in lag.items()}


def router_topics(layout: TopicLayout, registry: PartnerRegistry) -> list[str]:
    """The topics the router reads."""
    return [layout.inbound(p.id) for p in registry] + [layout.replay]


def audit_feed_group(kafka: KafkaSettings) -> str:
    """The audit feed's consumer group (reads the disclosure log into the store)."""
    return audit_group(kafka)
