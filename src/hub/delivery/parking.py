"""Parked webhook deliveries: which subjects are held back, and replaying them in order.

A delivery is parked when its partner refuses it for good, its retry budget runs out or
its record cannot be decoded; see ``webhook.py`` for the rule that keeps order per
subject. ``replay`` sends parked records again; its consumer group's committed offsets
are what tells the deliverer that a subject's parked records have been taken.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from hub.connectors.registry import Partner
from hub.delivery.channel import (
    REPLAY_PARKED_HEADER,
    Channel,
    http_client,
    new_breaker,
    parking_key,
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
    stop_consumer,
    topic_partitions,
)
from hub.kafka.changelog import CompactedReader
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, WebhookSettings
from hub.topics import TopicLayout

__all__ = ["ParkedSubjects", "ReplayReport", "replay", "replay_group"]

_POLL_MS = 200
_CATCH_UP_SECONDS = 120.0
_REFRESH_SECONDS = 5.0  # under the consumer's 10 s session timeout

_log = get_logger()


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
        """Read what was parked since (another instance's parking, before a rebalance).

        Within a few seconds: it runs in the rebalance, when the consumer sends no
        heartbeats; a broker too slow for it fails the session, which opens again.
        """
        async with self._lock:
            await self._tail.catch_up(limit_seconds=_REFRESH_SECONDS)

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
            subject = parking_key(record)
            if subject is not None:
                self.note(subject, record.partition, record.offset)


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
        # Closed on the way out whatever fails first: a start (or its cancellation part-way),
        # the CA bundle, the HTTP client. Closing one never started is harmless.
        stack.push_async_callback(writer.stop)
        stack.push_async_callback(admin.close)
        stack.push_async_callback(stop_consumer, reader)
        tls = await asyncio.to_thread(tls_context)  # the CA bundle, loaded off the loop
        client = await stack.enter_async_context(http_client(webhooks, transport, tls))
        for started in (writer, admin, reader):
            await started.start()
        channel = Channel(
            target,
            layout=layout,
            settings=webhooks,
            client=client,
            breaker=new_breaker(webhooks),
            producer=writer,
            replaying=True,
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
                subject = parking_key(record)
                if subject is not None:
                    failed_subjects.add(subject)

        for tp in partitions:
            await _replay_partition(reader, tp, ends[tp], send)
    _log.info("webhook_replayed", partner=partner.id, deliveries=delivered, count=parked_again)
    return ReplayReport(partner.id, delivered, parked_again)


async def _replay_partition(
    reader: Consumer, tp: TopicPartition, end: int, send: Callable[[Record], Awaitable[None]]
) -> None:
    """Send one partition's parked records up to ``end``, in order, each subject's as released.

    Parked copies lie in their subjects' order, but for one case: a record that an earlier
    replay parked again (marked ``REPLAY_PARKED_HEADER``) lands after the later records of
    its subject that the deliverer parked meanwhile. So the range is read first for such
    copies' sequences (``ce_sequence``, which a parked copy keeps); a record whose subject
    has one with an earlier sequence still to come is held back until it is sent. Only
    those copies reorder: a sequence is no release order across a reset stream or a
    partner's new delivery topic, and there offset order is kept. Progress is committed up
    to the first record held back, so a run cut short never skips one.
    """
    start = await reader.position(tp)
    if start >= end:
        return
    to_come: dict[bytes, list[bytes]] = {}  # per subject: sequences of copies replay parked
    async for record in _range(reader, tp, end):
        if (order := _order_of(record)) is not None and _parked_by_replay(record):
            bisect.insort(to_come.setdefault(order[0], []), order[1])
    reader.seek(tp, start)
    held: dict[bytes, list[tuple[bytes, int, Record]]] = {}  # by (sequence, offset)
    read_to = start

    def earlier_to_come(subject: bytes, sequence_: bytes) -> bool:
        sequences = to_come.get(subject)
        return sequences is not None and len(sequences) > 0 and sequences[0] < sequence_

    async def send_one(record: Record) -> None:
        await send(record)
        order = _order_of(record)
        if order is not None and _parked_by_replay(record):
            sequences = to_come.get(order[0], [])
            at = bisect.bisect_left(sequences, order[1])
            if at < len(sequences) and sequences[at] == order[1]:  # read in the first pass
                del sequences[at]
        waiting = [offset for items in held.values() for _, offset, _ in items]
        await reader.commit({tp: min(waiting, default=read_to)})

    async for record in _range(reader, tp, end):
        read_to = record.offset + 1
        order = _order_of(record)
        if order is not None and earlier_to_come(*order):
            bisect.insort(held.setdefault(order[0], []), (order[1], record.offset, record))
            continue
        await send_one(record)
        subject = order[0] if order is not None else None
        while subject is not None and held.get(subject):
            if earlier_to_come(subject, held[subject][0][0]):
                break
            await send_one(held[subject].pop(0)[2])
    for items in list(held.values()):  # not left in practice: their earlier ones came
        while items:
            await send_one(items.pop(0)[2])


async def _range(reader: Consumer, tp: TopicPartition, end: int) -> AsyncIterator[Record]:
    """The partition's records from the reader's position up to ``end`` (parked after the run started: left)."""
    while await reader.position(tp) < end:
        batch = await reader.getmany(tp, timeout_ms=_POLL_MS)
        for record in batch.get(tp, []):
            if record.offset >= end:
                return
            yield record


def _parked_by_replay(record: Record) -> bool:
    return any(name == REPLAY_PARKED_HEADER for name, _ in record.headers)


def _order_of(record: Record) -> tuple[bytes, bytes] | None:
    """(subject, sequence) of a parked copy; None without either (sent in offset order)."""
    if record.key is None:
        return None
    for name, value in record.headers:
        if name == SEQUENCE_HEADER:
            return record.key, value
    return None
