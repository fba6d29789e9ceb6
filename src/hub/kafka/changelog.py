"""A reader of compacted topics: read to the end once, then catch up on demand.

The router's changelogs (state, held), the gateway's status topic and the webhook
deliverer's parked topics are all read this way: a group-less ``read_committed``
consumer assigned every partition, reading from the start (or from given offsets) up to
the last stable offset, and later again up to the then last stable offset, so that
every transaction committed before the call (by any instance) is seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.kafka.clients import admin_client, consumer, stop_consumer, topic_partitions
from hub.kafka.types import Record
from hub.settings import KafkaSettings

__all__ = ["CompactedReader"]

_POLL_MS = 200

Apply = Callable[[TopicPartition, list[Record]], None]


class CompactedReader:
    """Reads the committed records of some topics in offset order and hands each batch to ``apply``.

    Use ``open`` (which assigns every partition), then ``catch_up`` as often as needed,
    then ``close``.
    """

    def __init__(self, kafka: KafkaSettings, topics: Sequence[str], apply: Apply) -> None:
        self._kafka = kafka
        self._topics = list(topics)
        self._apply = apply
        self._consumer: AIOKafkaConsumer | None = None
        self.partitions: list[TopicPartition] = []

    async def open(self, start: Mapping[TopicPartition, int] | None = None) -> None:
        """Connect and assign every partition, from ``start`` where given, else the beginning.

        Raises KafkaError (a transient failure) when a topic does not exist yet.
        """
        reader = consumer(
            self._kafka,
            group_id=None,  # every reader reads the whole topic: no group, no commits
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        admin = admin_client(self._kafka)
        try:
            # A consumer that fails to start still holds its client: stopped below.
            await reader.start()
            await admin.start()
            self.partitions = [
                tp for topic in self._topics for tp in await topic_partitions(admin, topic)
            ]
            reader.assign(self.partitions)
            for tp in self.partitions:
                if start is not None and tp in start:
                    reader.seek(tp, start[tp])
                else:
                    await reader.seek_to_beginning(tp)
        except BaseException:
            await stop_consumer(reader)
            raise
        finally:
            await admin.close()
        self._consumer = reader

    async def catch_up(self, limit_seconds: float = 30.0, max_records: int | None = None) -> int:
        """Apply every committed record up to the current last stable offsets; returns how many.

        Raises TimeoutError when the broker does not serve them within ``limit_seconds``.
        ``max_records``: see ``follow``; between such batches the event loop runs others.
        """
        reader = self._require()
        ends = await reader.end_offsets(self.partitions)
        applied = 0
        deadline = time.monotonic() + limit_seconds
        while any([await reader.position(tp) < end for tp, end in ends.items()]):
            if time.monotonic() > deadline:
                raise TimeoutError("compacted-topic catch-up took too long")
            applied += await self.follow(_POLL_MS, max_records)
            if max_records is not None:
                await asyncio.sleep(0)
        return applied

    async def follow(self, poll_ms: int = 500, max_records: int | None = None) -> int:
        """Apply whatever arrived within ``poll_ms``, at most ``max_records`` of it; returns how many.

        Without ``max_records``, everything the consumer holds, which after a backlog can be
        thousands of records applied in one go: a reader that shares the event loop with the
        router bounds it, so that the router is never held up for long.
        """
        batch = await self._require().getmany(
            *self.partitions, timeout_ms=poll_ms, max_records=max_records
        )
        for tp, records in batch.items():
            self._apply(tp, records)
        return sum(len(records) for records in batch.values())

    async def close(self) -> None:
        """Disconnect (safe to call twice, or after a failure)."""
        reader, self._consumer = self._consumer, None
        if reader is not None:
            await stop_consumer(reader)

    def _require(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("CompactedReader.open() was not called")
        return self._consumer
