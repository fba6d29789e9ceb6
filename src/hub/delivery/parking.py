"""Parked webhook deliveries: which subjects are held back, and replaying them in order.

A delivery is parked when its partner refuses it for good, its retry budget runs out or
its record cannot be decoded; see ``webhook.py`` for the rule that keeps order per
subject. ``replay`` sends parked records again; its consumer group's committed offsets
are what tells the deliverer that a subject's parked records have been taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx
from prometheus_client import Counter

from hub.connectors.registry import Partner
from hub.delivery.channel import (
    Channel,
    http_client,
    new_breaker,
    tls_context,
    webhook_target,
)
from hub.delivery.sequence import SEQUENCE_HEADER
from hub.kafka import (
    Admin,
    Consumer,
    Record,
    TopicPartition,
    admin_client,
    adopt_committed_offsets,
    consumer,
    hub_group,
    producer,
    topic_partitions,
)
from hub.kafka.changelog import CompactedReader
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, WebhookSettings
from hub.topics import TopicLayout

__all__ = ["REPLAYED", "ParkedSubjects", "ReplayReport", "replay", "replay_group"]

_POLL_MS = 200
_CATCH_UP_SECONDS = 120.0

_log = get_logger()

REPLAYED = Counter(
    "hub_webhook_replayed_total", "Parked deliveries replayed, by outcome.", ["partner", "outcome"]
)


def replay_group(kafka: KafkaSettings, partner_id: str) -> str:
    """The consumer group whose committed offsets mark how far a partner's parked records are replayed.

    ``<prefix>.<group id>.webhook-replay.<partner>``: one per deployment.
    """
    return hub_group(kafka, "webhook-replay", partner_id)


class ParkedSubjects:
    """Which subjects (Kafka keys) of one partner have a parked record that replay has not taken.

    Built from the parked topic from the replay group's committed offsets onwards, and
    kept current by the deliverer's own parking and by re-reading the topic whenever a
    known subject is checked (replay may have parked it again, or taken it).
    """

    def __init__(self, kafka: KafkaSettings, admin: Admin, topic: str, group: str) -> None:
        self._tail = CompactedReader(kafka, [topic], self._note_all)
        self._admin = admin
        self._topic = topic
        self._group = group
        self._partitions: list[TopicPartition] = []
        self._last: dict[bytes, tuple[int, int]] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Read the parked records replay has not yet taken (``admin`` must be started)."""
        self._partitions = await topic_partitions(self._admin, self._topic)
        replayed = await self._replayed()
        await self._tail.open(
            {tp: replayed[tp.partition] for tp in self._partitions if tp.partition in replayed}
        )
        await self._catch_up()

    async def refresh(self) -> None:
        """Read what was parked since (another instance's parking, before a rebalance)."""
        async with self._lock:
            await self._catch_up()

    async def close(self) -> None:
        """Stop reading the parked topic."""
        await self._tail.close()

    def note(self, key: bytes, partition: int, offset: int) -> None:
        """Remember a record parked at (partition, offset)."""
        known = self._last.get(key)
        if known is None or known[1] < offset:
            self._last[key] = (partition, offset)

    async def is_parked(self, key: bytes) -> bool:
        """Tell whether this subject still has a parked record that replay has not taken."""
        if key not in self._last:
            return False
        async with self._lock:
            # Offsets first, then the topic: replay parks a failed record again before it
            # commits past the old one, so the re-parked copy is always seen here.
            replayed = await self._replayed()
            await self._catch_up()
            known = self._last.get(key)
            if known is None:
                return False
            partition, offset = known
            if offset >= replayed.get(partition, 0):
                return True
            del self._last[key]
            return False

    async def _replayed(self) -> dict[int, int]:
        offsets = await self._admin.list_consumer_group_offsets(
            self._group, partitions=self._partitions
        )
        return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def _catch_up(self) -> None:
        # A broker too slow to serve this fails the session, which is then retried.
        await self._tail.catch_up(limit_seconds=_CATCH_UP_SECONDS)

    def _note_all(self, _tp: TopicPartition, records: list[Record]) -> None:
        for record in records:
            if record.key is not None:
                self.note(record.key, record.partition, record.offset)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What one replay run did with a partner's parked records."""

    partner: str
    delivered: int
    parked_again: int


async def replay(
    partner: Partner,
    *,
    kafka: KafkaSettings,
    webhooks: WebhookSettings,
    layout: TopicLayout,
    environ: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ReplayReport:
    """Send a partner's parked records again, in their order, up to the topic's end at the start.

    Each record gets the full retry budget. A record that fails again is parked again
    (with its new reason), and so is every later record of its subject in this run, so
    order per subject holds. Progress is committed after each record in the group
    ``<prefix>.<group id>.webhook-replay.<partner>``; the deliverer reads that group to know when a
    subject is clear. Run one replay per partner at a time.
    """
    target = webhook_target(partner, os.environ if environ is None else environ)
    await adopt_committed_offsets(  # the group was hub-webhook-replay-<partner> before
        kafka,
        legacy_group=f"hub-webhook-replay-{partner.id}",
        group=replay_group(kafka, partner.id),
        topics=[layout.parked(partner.id)],
    )
    reader = consumer(
        kafka,
        group_id=replay_group(kafka, partner.id),
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    # No lingering: the channel waits for each attempt record before the next delivery.
    writer = producer(kafka, linger_ms=0)
    admin = admin_client(kafka)
    failed_subjects: set[bytes] = set()

    async def is_parked(key: bytes) -> bool:
        return key in failed_subjects

    delivered = parked_again = 0
    async with contextlib.AsyncExitStack() as stack:
        tls = await asyncio.to_thread(tls_context)  # the CA bundle, loaded off the loop
        client = await stack.enter_async_context(http_client(webhooks, transport, tls))
        for started in (writer, admin, reader):
            await started.start()
            stack.push_async_callback(started.close if started is admin else started.stop)
        channel = Channel(
            target,
            layout=layout,
            settings=webhooks,
            client=client,
            breaker=new_breaker(webhooks),
            producer=writer,
        )
        partitions = await topic_partitions(admin, layout.parked(partner.id))
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)

        async def send(record: Record) -> None:
            nonlocal delivered, parked_again
            reason = await channel.handle(record, is_parked)
            if reason is None:
                delivered += 1
            else:
                parked_again += 1
                if record.key is not None:
                    failed_subjects.add(record.key)
            REPLAYED.labels(
                partner=partner.id, outcome="delivered" if reason is None else "parked"
            ).inc()

        for tp in partitions:
            await _replay_partition(reader, tp, ends[tp], send)
    _log.info("webhook_replayed", partner=partner.id, deliveries=delivered, count=parked_again)
    return ReplayReport(partner.id, delivered, parked_again)


async def _replay_partition(
    reader: Consumer, tp: TopicPartition, end: int, send: Callable[[Record], Awaitable[None]]
) -> None:
    """Send one partition's parked records up to ``end``, each subject's in sequence order.

    Parked copies are usually in their subject's order, but not always: a record that
    replay parks again while the deliverer parks a later one of its subject behind it
    lands after that one. So the range is read twice: first each subject's sequences
    (``ce_sequence``, which a parked copy keeps), then the records, holding back one
    whose subject has an earlier one still to come in the range. Progress is committed
    up to the first record not yet sent, so a run cut short never skips one held back.
    """
    start = await reader.position(tp)
    if start >= end:
        return
    to_come: dict[bytes, list[bytes]] = {}  # per subject: the sequences not yet sent
    offsets: list[int] = []  # the range's records (offsets are not contiguous: markers)
    async for record in _range(reader, tp, end):
        offsets.append(record.offset)
        if (order := _order_of(record)) is not None:
            to_come.setdefault(order[0], []).append(order[1])
    for sequences in to_come.values():
        sequences.sort()
    reader.seek(tp, start)
    held: dict[bytes, list[tuple[bytes, Record]]] = {}
    sent: set[int] = set()
    first_unsent = 0  # index into offsets

    async def send_one(record: Record) -> None:
        nonlocal first_unsent
        await send(record)
        sent.add(record.offset)
        order = _order_of(record)
        if order is not None and order[1] in to_come.get(order[0], ()):
            to_come[order[0]].remove(order[1])
        while first_unsent < len(offsets) and offsets[first_unsent] in sent:
            first_unsent += 1
        # The next record to read: never past one held back (a run cut short resends it).
        position = offsets[first_unsent] if first_unsent < len(offsets) else record.offset + 1
        await reader.commit({tp: max(position, start)})

    def earlier_to_come(order: tuple[bytes, bytes]) -> bool:
        sequences = to_come.get(order[0])
        return sequences is not None and len(sequences) > 0 and sequences[0] < order[1]

    async for record in _range(reader, tp, end):
        order = _order_of(record)
        if order is not None and earlier_to_come(order):
            held.setdefault(order[0], []).append((order[1], record))  # an earlier one comes
            held[order[0]].sort(key=lambda item: item[0])
            continue
        await send_one(record)
        key = order[0] if order is not None else None
        while key is not None and held.get(key) and not earlier_to_come((key, held[key][0][0])):
            await send_one(held[key].pop(0)[1])
    for waiting in held.values():  # cannot be left: every earlier sequence was in the range
        for _, record in waiting:
            await send_one(record)


async def _range(reader: Consumer, tp: TopicPartition, end: int) -> AsyncIterator[Record]:
    """The partition's records from the reader's position up to ``end`` (parked after the run started: left)."""
    while await reader.position(tp) < end:
        batch = await reader.getmany(tp, timeout_ms=_POLL_MS)
        for record in batch.get(tp, []):
            if record.offset >= end:
                return
            yield record


def _order_of(record: Record) -> tuple[bytes, bytes] | None:
    """(subject, sequence) of a parked copy; None without either (sent in offset order)."""
    if record.key is None:
        return None
    for name, value in record.headers:
        if name == SEQUENCE_HEADER:
            return record.key, value
    return None
