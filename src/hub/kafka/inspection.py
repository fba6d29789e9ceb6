"""What the operators' commands (``hub status``, ``hub dlq``, ``hub flows``, ``hub partners``) ask of Kafka.

Short-lived clients, each opened and closed by one call: the cluster's brokers, which
topics exist, a topic's offsets, a consumer group's committed offsets, the committed
records of some topics (from the start, or from a time), one record at an offset, and
records sent and acknowledged. Nothing here commits offsets or joins a group.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.errors import HubError
from hub.kafka.changelog import CompactedReader
from hub.kafka.clients import (
    admin_client,
    producer,
    started_consumer,
    stop_consumer,
    topic_partitions,
)
from hub.kafka.types import KafkaError, Record, TopicPartition
from hub.settings import KafkaSettings

__all__ = [
    "Cluster",
    "Offsets",
    "Outgoing",
    "TopicMissing",
    "committed_offsets",
    "count_from",
    "describe_cluster",
    "read_one",
    "read_topics",
    "send_all",
    "topic_offsets",
]

_POLL_MS = 200

Progress = Callable[[int, int], None]
"""Told (records read so far, records expected at most) while a long read goes on."""


class TopicMissing(HubError):
    """A topic the command reads does not exist (a wrong prefix, or a hub that never started)."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic} does not exist")
        self.topic = topic


@dataclass(frozen=True, slots=True)
class Cluster:
    """The brokers the cluster's metadata names, and which topics exist."""

    brokers: tuple[str, ...]
    controller: int | None
    topics: frozenset[str]


@dataclass(frozen=True, slots=True)
class Offsets:
    """Per partition of one topic: the first retained offset and the end (next offset to be written)."""

    beginning: dict[int, int] = field(default_factory=dict)
    end: dict[int, int] = field(default_factory=dict)

    @property
    def span(self) -> int:
        """Offsets retained, over every partition: an upper bound of the records (markers count too)."""
        return sum(self.end[p] - self.beginning.get(p, 0) for p in self.end)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to send."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


async def describe_cluster(kafka: KafkaSettings) -> Cluster:
    """The brokers and topics of the cluster; raises KafkaError when it does not answer."""
    admin = admin_client(kafka)
    await admin.start()
    try:
        described: dict[str, Any] = await admin.describe_cluster()
        topics = await admin.list_topics()
    finally:
        await admin.close()
    brokers = tuple(
        f"{b['node_id']}@{b['host']}:{b['port']}" for b in described.get("brokers") or []
    )
    controller = described.get("controller_id")
    return Cluster(
        brokers=brokers,
        controller=controller if isinstance(controller, int) else None,
        topics=frozenset(topics),
    )


async def topic_offsets(kafka: KafkaSettings, topics: Sequence[str]) -> dict[str, Offsets]:
    """The first and end offsets of each topic's partitions (read_committed: the end is the last stable offset)."""
    reader = await started_consumer(
        kafka, group_id=None, enable_auto_commit=False, isolation_level="read_committed"
    )
    admin = admin_client(kafka)
    try:
        await admin.start()
        partitions = []
        for topic in topics:
            try:
                partitions += await topic_partitions(admin, topic)
            except KafkaError:
                if topic not in await admin.list_topics():
                    raise TopicMissing(topic) from None
                raise
        begins = await reader.beginning_offsets(partitions)
        ends = await reader.end_offsets(partitions)
    finally:
        await admin.close()
        await stop_consumer(reader)
    found: dict[str, Offsets] = {topic: Offsets() for topic in topics}
    for tp in partitions:
        found[tp.topic].beginning[tp.partition] = begins[tp]
        found[tp.topic].end[tp.partition] = ends[tp]
    return found


async def committed_offsets(kafka: KafkaSettings, group: str) -> dict[TopicPartition, int]:
    """The offsets a consumer group has committed (none: an empty map)."""
    admin = admin_client(kafka)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def read_topics(
    kafka: KafkaSettings,
    topics: Sequence[str],
    *,
    since_ms: int | None = None,
    progress: Progress | None = None,
    limit_seconds: float = 300.0,
) -> list[Record]:
    """Every committed record of these topics up to their current ends, per partition in offset order.

    From the start of each partition, or from its first record appended at or after
    ``since_ms`` (epoch milliseconds) when given.
    """
    records: list[Record] = []
    start: dict[TopicPartition, int] | None = None
    offsets = await topic_offsets(kafka, topics)
    if since_ms is not None:
        start = await _offsets_at(kafka, offsets, since_ms)
    expected = sum(
        end - (start or {}).get(TopicPartition(topic, p), o.beginning.get(p, 0))
        for topic, o in offsets.items()
        for p, end in o.end.items()
    )

    def keep(tp: TopicPartition, batch: list[Record]) -> None:
        records.extend(batch)
        if progress is not None:
            progress(len(records), max(expected, len(records)))

    reader = CompactedReader(kafka, topics, keep)
    try:
        await reader.open(start)
        await reader.catch_up(limit_seconds)
    finally:
        await reader.close()
    return records


async def count_from(
    kafka: KafkaSettings,
    topic: str,
    start: dict[int, int],
    *,
    progress: Progress | None = None,
    limit_seconds: float = 300.0,
) -> tuple[int, int | None]:
    """How many committed records a topic holds from these offsets on (per partition; others from the start), and the oldest one's timestamp."""
    counted = 0
    oldest: int | None = None

    def count(_: TopicPartition, batch: list[Record]) -> None:
        nonlocal counted, oldest
        counted += len(batch)
        first = min(r.timestamp for r in batch) if batch else None
        if first is not None and (oldest is None or first < oldest):
            oldest = first
        if progress is not None:
            progress(counted, counted)

    reader = CompactedReader(kafka, [topic], count)
    try:
        await reader.open({TopicPartition(topic, p): offset for p, offset in start.items()})
        await reader.catch_up(limit_seconds)
    finally:
        await reader.close()
    return counted, oldest


async def _offsets_at(
    kafka: KafkaSettings, offsets: dict[str, Offsets], since_ms: int
) -> dict[TopicPartition, int]:
    partitions = [TopicPartition(t, p) for t, o in offsets.items() for p in o.end]
    reader = await started_consumer(kafka, group_id=None, enable_auto_commit=False)
    try:
        found = await reader.offsets_for_times(dict.fromkeys(partitions, since_ms))
    finally:
        await stop_consumer(reader)
    # No record at or after the time: start at the end (nothing to read there).
    return {
        tp: (at.offset if at is not None else offsets[tp.topic].end[tp.partition])
        for tp, at in found.items()
    }


async def read_one(
    kafka: KafkaSettings,
    topic: str,
    partition: int,
    offset: int,
    *,
    exact: bool = True,
    limit_seconds: float = 30.0,
) -> Record | None:
    """The committed record at this offset; None when the topic no longer (or never) held it.

    Not ``exact``: the first committed record at or after the offset (the oldest a
    consumer group has not read yet), None when there is none.
    """
    offsets = (await topic_offsets(kafka, [topic]))[topic]
    if not exact and partition in offsets.end:
        offset = max(offset, offsets.beginning[partition])
    if partition not in offsets.end or not (
        offsets.beginning[partition] <= offset < offsets.end[partition]
    ):
        return None
    tp = TopicPartition(topic, partition)
    reader = await started_consumer(
        kafka, group_id=None, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        reader.assign([tp])
        reader.seek(tp, offset)
        deadline = time.monotonic() + limit_seconds
        # Past the offset without it: a transaction marker, or an aborted record.
        while await reader.position(tp) < offsets.end[partition]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}:{partition}:{offset} took too long")
            batch = await reader.getmany(tp, timeout_ms=_POLL_MS, max_records=1)
            for record in batch.get(tp, []):
                return record if record.offset == offset or not exact else None
    finally:
        await stop_consumer(reader)
    return None


async def send_all(kafka: KafkaSettings, records: Sequence[Outgoing]) -> None:
    """Send records in order and wait until the cluster has acknowledged each (acks=all)."""
    out = producer(kafka, linger_ms=0)
    await out.start()
    try:
        for record in records:
            await out.send_and_wait(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await out.stop()
