"""How far a consumer group is behind on its topics, read from Kafka alone (for metrics).

``LagReader`` asks the cluster for a group's committed offsets and the topics' last stable
offsets, and reads the first records a group has not consumed yet, so that another
process's progress (the webhook deliverers', the audit feed's, the router's) is measured
without asking that process. It never joins a group: an admin client reads the offsets,
and a consumer without a group reads the records.

Counted in records between the committed offset and the last stable offset. A topic
written in transactions also holds a marker per partition per transaction, so
``LagReader.read`` looks at the records themselves: a partition whose rest it reads to the
end (fewer than ``records``) is behind by exactly the records it read; a longer one by
its last stable offset less the first unconsumed record's offset (markers included).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.kafka.clients import (
    admin_client,
    consumer,
    started_consumer,
    stop_consumer,
    topic_partitions,
)
from hub.kafka.types import Admin, Consumer, Record, TopicPartition
from hub.settings import KafkaSettings

__all__ = ["GroupLag", "LagReader", "PartitionLag"]

_READ_SECONDS = 2.0
# Records one round of a read may take before the event loop is handed back. A consumer
# hands over what it has already fetched without a wait, so a read of many partitions
# (the router's lag over every partner's inbound topic) would otherwise unpack them all in
# one go, holding `hub run`'s loop for a quarter of a second (docs/benchmarks.md).
_ROUND_RECORDS = 500


@dataclass
class PartitionLag:
    """One partition of a group: how many records it has not consumed, and the first of them."""

    behind: int
    """Records after the committed offset up to the last stable offset (markers included)."""
    first: list[Record] = field(default_factory=list)
    """The first unconsumed records read (at most what ``LagReader.read`` asked for)."""


@dataclass
class GroupLag:
    """A group's lag on its topics, by partition."""

    partitions: dict[TopicPartition, PartitionLag]

    @property
    def behind(self) -> int:
        """Records behind over all partitions."""
        return sum(p.behind for p in self.partitions.values())

    def oldest_ms(self) -> int | None:
        """The timestamp (ms) of the oldest unconsumed record read, or None when there is none."""
        stamps = [p.first[0].timestamp for p in self.partitions.values() if p.first]
        return min(stamps) if stamps else None


class LagReader:
    """Reads groups' lags; ``start`` and ``close`` around use. Reads may run side by side."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._admin: Admin = admin_client(kafka)
        # No group, read_committed: sees what the groups' own consumers see, commits nothing;
        # asks for offsets only (the records are read by a consumer of each read's own).
        self._consumer: Consumer = consumer(
            kafka, enable_auto_commit=False, isolation_level="read_committed"
        )
        self._started: list[Admin | Consumer] = []

    async def start(self) -> None:
        """Connect both clients."""
        await self._admin.start()
        self._started.append(self._admin)
        await self._consumer.start()
        self._started.append(self._consumer)

    async def close(self) -> None:
        """Disconnect (closing after a failure may fail again; that is ignored)."""
        for client in (self._consumer, self._admin):
            with contextlib.suppress(Exception):
                await (client.close() if client is self._admin else stop_consumer(client))

    async def read(self, group: str, topics: Sequence[str], *, records: int = 1) -> GroupLag:
        """The group's lag on ``topics``, with up to ``records`` first unconsumed records per partition.

        A partition the group never committed counts from its beginning (the hub's groups
        start at the earliest offset).
        """
        tps = [tp for topic in topics for tp in await topic_partitions(self._admin, topic)]
        committed = await self._admin.list_consumer_group_offsets(group, partitions=tps)
        ends = await self._consumer.end_offsets(tps)
        starts = await self._consumer.beginning_offsets(tps)
        positions = {}
        for tp in tps:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else 0
            positions[tp] = max(offset, starts[tp])
        lag = {tp: PartitionLag(max(0, ends[tp] - positions[tp])) for tp in tps}
        pending = {tp: ends[tp] for tp in tps if lag[tp].behind > 0}
        if pending:
            await self._read_first(positions, pending, lag, records)
        return GroupLag(lag)

    async def _read_first(
        self,
        positions: dict[TopicPartition, int],
        ends: dict[TopicPartition, int],
        lag: dict[TopicPartition, PartitionLag],
        records: int,
    ) -> None:
        # A consumer of its own per read: one reused across reads could be handed, after a
        # seek, the result of a fetch made for the read before (its records and position),
        # and take a partition as read to its end. Only reads of a backlog pay for it.
        reader = await started_consumer(
            self._kafka, enable_auto_commit=False, isolation_level="read_committed"
        )
        try:
            open_ = await self._read_with(reader, positions, ends, lag, records)
        finally:
            await stop_consumer(reader)
        for tp in ends:
            part = lag[tp]
            if tp not in open_ and len(part.first) < records:
                # Read to the end: the records are all there is, markers left out.
                part.behind = len(part.first)
            elif part.first:
                part.behind = ends[tp] - part.first[0].offset

    @staticmethod
    async def _read_with(
        reader: Consumer,
        positions: dict[TopicPartition, int],
        ends: dict[TopicPartition, int],
        lag: dict[TopicPartition, PartitionLag],
        records: int,
    ) -> set[TopicPartition]:
        """Read up to ``records`` per partition; returns the partitions not read to their end."""
        reader.assign(list(ends))
        for tp in ends:
            reader.seek(tp, positions[tp])
        open_ = set(ends)
        deadline = time.monotonic() + _READ_SECONDS
        while open_ and time.monotonic() < deadline:
            # No more than the fullest open partition still wants: a record is unpacked
            # only to be kept (one per partition for the router's lag, not 500).
            wanted = max(records - len(lag[tp].first) for tp in open_)
            batch = await reader.getmany(
                *open_, timeout_ms=200, max_records=min(wanted, _ROUND_RECORDS)
            )
            for tp, got in batch.items():
                fresh = [r for r in got if positions[tp] <= r.offset < ends[tp]]
                lag[tp].first.extend(fresh[: records - len(lag[tp].first)])
            for tp in list(open_):
                if len(lag[tp].first) >= records or await reader.position(tp) >= ends[tp]:
                    open_.discard(tp)
            await asyncio.sleep(0)  # the loop is the router's too: one round at a time
        return open_
