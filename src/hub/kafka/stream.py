"""Pages of one topic's committed records from given offsets: what pull delivery reads.

``StreamReader`` serves many callers at once (the gateway's ``GET /deliveries``) from a
small pool of group-less ``read_committed`` consumers. A read takes a consumer, assigns
it the topic's partitions, checks the wanted offsets against what the topic still
holds, seeks, fetches once (waiting up to ``wait_seconds`` when nothing is there yet)
and returns the records with the position after them per partition; then the consumer
is paused and goes back to the pool.

Why a pool and not a consumer per request: a new client asks the cluster for its
metadata and opens its connections before it reads anything, which costs more than
the read. Why not one shared consumer: a read waits for records, and every other
partner's read would wait behind it. aiokafka drops a consumer's fetched records when
it is assigned other partitions or seeks, so a pooled consumer never hands one
caller's records to the next; between reads it is paused, so it fetches nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

from hub.errors import HubError
from hub.kafka.clients import admin_client, started_consumer, stop_consumer, topic_partitions
from hub.kafka.types import Admin, Record
from hub.settings import KafkaSettings

__all__ = ["OffsetsOutOfRange", "StreamPage", "StreamReader"]

_PARTITIONS_TTL_SECONDS = 60.0


class OffsetsOutOfRange(HubError):
    """Wanted offsets the topic does not hold: deleted by retention, or never written.

    ``expired`` lists partitions whose wanted offset is below the oldest retained
    record; ``unknown`` those whose offset is past the end, or that the topic lacks.
    """

    def __init__(self, topic: str, expired: list[int], unknown: list[int]) -> None:
        self.topic = topic
        self.expired = sorted(expired)
        self.unknown = sorted(unknown)
        super().__init__(
            f"offsets out of range on {topic}: expired {self.expired}, unknown {self.unknown}"
        )


@dataclass(frozen=True, slots=True)
class StreamPage:
    """Records of one read, in offset order per partition, and where the next read starts."""

    records: list[Record]
    positions: dict[int, int]
    """Per partition of the topic: the offset after the last record returned (or skipped)."""
    anchors: dict[int, Record | None] = field(default_factory=dict)
    """Per partition whose anchor was read: the first record at or after the anchor when it
    lies before ``after`` (the caller compares it with the record it expects there), or
    None when the first one there was at ``after`` or later (the anchor is gone)."""


_FIRST_FETCH_MS = 250
_ANCHOR_WAIT_MS = 2_000  # the anchored records are there: a fetch or two brings them


class StreamReader:
    """Reads pages of committed records from a topic at given offsets; many reads at once.

    ``max_readers`` bounds the reads in flight (each holds a consumer and its buffers);
    further reads wait for a free consumer. Callers bound the whole read with a timeout.
    """

    def __init__(self, kafka: KafkaSettings, *, max_readers: int, max_bytes: int) -> None:
        self._kafka = kafka
        self._max_bytes = max_bytes
        self._slots = asyncio.Semaphore(max_readers)
        self._idle: list[AIOKafkaConsumer] = []
        self._admin: Admin | None = None
        self._admin_lock = asyncio.Lock()
        self._partitions: dict[str, tuple[float, list[TopicPartition]]] = {}
        self._closed = False

    async def start(self) -> None:
        """Nothing to do: clients are made on first use, so the gateway starts without Kafka."""

    async def stop(self) -> None:
        """Close every idle consumer and the admin client; a read in flight closes its own."""
        self._closed = True
        idle, self._idle = self._idle, []
        for reader in idle:
            await stop_consumer(reader)
        admin, self._admin = self._admin, None
        if admin is not None:
            await admin.close()

    async def read(
        self,
        topic: str,
        after: Mapping[int, int] | None,
        *,
        max_records: int,
        wait_seconds: float,
        anchors: Mapping[int, int] | None = None,
    ) -> StreamPage:
        """The committed records of ``topic`` from ``after`` (per partition; None: the oldest).

        A partition ``after`` does not name is read from its oldest record. Returns at
        most ``max_records`` records and, past the first, no more than the reader's
        byte budget; waits up to ``wait_seconds`` when none are there. Raises
        OffsetsOutOfRange for offsets the topic no longer (or never) held, KafkaError
        for Kafka failures.

        ``anchors`` (partition -> an offset below its ``after``): read the record at each
        first, in a fetch of its own, and hand it back in ``StreamPage.anchors`` (not
        among the records, not counted in ``max_records``, the byte budget or the wait).
        An anchor the topic no longer holds (retention) is not read.
        """
        partitions = await self._partitions_of(topic)
        # A seek leaves nothing buffered: the first fetch needs a round trip to the broker
        # even when the records are there, so the wait is never shorter than that.
        timeout_ms = max(int(wait_seconds * 1000), _FIRST_FETCH_MS)
        wanted = _Wanted(after or {}, anchors or {}, max_records)
        async with self._consumer() as reader:
            reader.assign(partitions)
            try:
                return await self._fetch(reader, topic, partitions, wanted, timeout_ms)
            except OffsetsOutOfRange:
                if after:
                    raise
                # From the oldest, retention may have deleted what was oldest between the
                # look-up and the fetch: the oldest is looked up again, once.
                return await self._fetch(reader, topic, partitions, wanted, timeout_ms)

    async def _fetch(
        self,
        reader: AIOKafkaConsumer,
        topic: str,
        partitions: list[TopicPartition],
        wanted: _Wanted,
        timeout_ms: int,
    ) -> StreamPage:
        starts, anchored = await _starts(reader, topic, partitions, wanted)
        for tp, offset in starts.items():
            reader.seek(tp, offset)
        anchors = await _anchor_records(reader, partitions, starts, anchored) if anchored else {}
        try:
            fetched = await reader.getmany(
                *partitions, timeout_ms=timeout_ms, max_records=wanted.records
            )
        except OffsetOutOfRangeError as exc:  # retention deleted them since the check
            expired = [tp.partition for tp in (exc.args[0] if exc.args else {})]
            raise OffsetsOutOfRange(topic, expired or [tp.partition for tp in starts], []) from None
        return await self._page(reader, partitions, fetched, anchors)

    async def _page(
        self,
        reader: AIOKafkaConsumer,
        partitions: list[TopicPartition],
        fetched: Mapping[TopicPartition, list[Record]],
        anchors: dict[int, Record | None],
    ) -> StreamPage:
        records: list[Record] = []
        cut: dict[int, int] = {}
        size = 0
        for tp in sorted(fetched, key=lambda tp: tp.partition):
            for record in fetched[tp]:
                cost = len(record.value or b"") + len(record.key or b"")
                if records and size + cost > self._max_bytes:
                    cut.setdefault(tp.partition, record.offset)
                    break
                records.append(record)
                size += cost
        # Where every fetched record was returned, the consumer's position also steps over
        # transaction markers and aborted records; else the page ends at the first left out.
        positions = {
            tp.partition: cut.get(tp.partition, await reader.position(tp)) for tp in partitions
        }
        return StreamPage(records, positions, anchors)

    @contextlib.asynccontextmanager
    async def _consumer(self) -> AsyncIterator[AIOKafkaConsumer]:
        async with self._slots:
            reader = self._idle.pop() if self._idle else await self._new_consumer()
            healthy = False
            try:
                yield reader
                healthy = True
            except OffsetsOutOfRange:
                healthy = True  # the caller's cursor, not the consumer, was wrong
                raise
            finally:
                if healthy and not self._closed:
                    # Idle, it fetches nothing more; what it holds is dropped when the next
                    # read assigns its own partitions (or seeks). Not ``unsubscribe``: a
                    # consumer with no topics asks the cluster for the metadata of every
                    # topic, which on a large cluster takes seconds.
                    reader.pause(*reader.assignment())
                    self._idle.append(reader)
                else:
                    await stop_consumer(reader)

    async def _new_consumer(self) -> AIOKafkaConsumer:
        return await started_consumer(
            self._kafka,
            group_id=None,  # positions come from the caller's cursor: no group, no commits
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="none",  # an offset gone since the check is an error, not a jump
            fetch_max_bytes=self._max_bytes,
            max_partition_fetch_bytes=self._max_bytes,
        )

    async def _partitions_of(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions, asked of the cluster once a minute per topic."""
        known = self._partitions.get(topic)
        now = time.monotonic()
        if known is not None and known[0] > now:
            return known[1]
        async with self._admin_lock:
            if self._admin is None:
                admin = admin_client(self._kafka)
                try:
                    await admin.start()
                except BaseException:
                    await admin.close()
                    raise
                self._admin = admin
            try:
                found = await topic_partitions(self._admin, topic)
            except BaseException:
                admin, self._admin = self._admin, None
                await admin.close()
                raise
        self._partitions[topic] = (now + _PARTITIONS_TTL_SECONDS, found)
        return found


@dataclass(frozen=True, slots=True)
class _Wanted:
    """What a read asks for: offsets per partition, anchors below some of them, a count."""

    after: Mapping[int, int]
    anchors: Mapping[int, int]
    records: int


async def _starts(
    reader: AIOKafkaConsumer,
    topic: str,
    partitions: list[TopicPartition],
    wanted: _Wanted,
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Where to read each partition from, and the anchors still held (by partition).

    OffsetsOutOfRange for offsets the topic does not hold. An anchor below the oldest
    retained record is left out: that partition is read unchecked.
    """
    oldest = await reader.beginning_offsets(partitions)
    # Under read_committed, the end is the last stable offset: what a read may reach.
    ends = await reader.end_offsets(partitions)
    after = wanted.after
    expired, unknown = [], sorted(set(after) - {tp.partition for tp in partitions})
    starts: dict[TopicPartition, int] = {}
    anchored: dict[TopicPartition, int] = {}
    for tp in partitions:
        offset = after.get(tp.partition)
        anchor = wanted.anchors.get(tp.partition)
        if offset is None:
            starts[tp] = oldest[tp]
        elif offset < oldest[tp]:
            expired.append(tp.partition)
        elif offset > ends[tp]:
            unknown.append(tp.partition)
        else:
            starts[tp] = offset
            if anchor is not None and oldest[tp] <= anchor < offset:
                anchored[tp] = anchor
    if expired or unknown:
        raise OffsetsOutOfRange(topic, expired, unknown)
    return starts, anchored


async def _anchor_records(
    reader: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    starts: Mapping[TopicPartition, int],
    anchored: Mapping[TopicPartition, int],
) -> dict[int, Record | None]:
    """The first record at or after each anchor: Record when it lies before the start, else None.

    A fetch of its own, before the page's, so that the anchors neither end the page's
    long-poll (a record is always there to read) nor take its byte budget. Only the
    anchored partitions fetch meanwhile; each is seeked back to its start after. A
    partition that yields nothing within ``_ANCHOR_WAIT_MS``, or whose anchor retention
    took since the look-up, is left out: not judged.
    """
    reader.pause(*(tp for tp in partitions if tp not in anchored))
    for tp, offset in anchored.items():
        reader.seek(tp, offset)
    found: dict[int, Record | None] = {}
    pending = set(anchored)
    deadline = time.monotonic() + _ANCHOR_WAIT_MS / 1000
    try:
        while pending and (left := deadline - time.monotonic()) > 0:
            try:
                # Asked of every anchored partition, so that each one's fetched records are
                # taken (aiokafka waits before fetching again for a broker with records not
                # taken); one found is paused, so that it fetches no more.
                fetched = await reader.getmany(*anchored, timeout_ms=int(left * 1000) + 1)
            except OffsetOutOfRangeError as exc:
                gone = set(exc.args[0]) if exc.args else set(pending)
                pending -= gone
                reader.pause(*gone)
                continue
            for tp, records in fetched.items():
                if records and tp in pending:
                    pending.discard(tp)
                    reader.pause(tp)
                    first = records[0]
                    found[tp.partition] = first if first.offset < starts[tp] else None
    finally:
        reader.resume(*partitions)
        for tp in anchored:
            reader.seek(tp, starts[tp])
    return found
