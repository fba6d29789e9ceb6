"""LagReader: a group's lag read from Kafka alone, transaction markers left out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from hub.kafka.lag import LagReader
from hub.settings import KafkaSettings


async def _write_in_transactions(bootstrap: str, topic: str, count: int) -> None:
    """``count`` records, one transaction each: a marker follows every record."""
    writer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"lag-test-{uuid.uuid4().hex}"
    )
    await writer.start()
    try:
        for n in range(count):
            async with writer.transaction():
                await writer.send_and_wait(topic, f"r{n}".encode(), key=b"k", partition=0)
    finally:
        await writer.stop()


async def _commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    committer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign([tp])
        await committer.commit({tp: OffsetAndMetadata(offset, "")})
    finally:
        await committer.stop()


async def test_a_groups_lag_counts_records_not_markers(
    kafka_bootstrap: str, topic_factory: Callable[..., Awaitable[str]]
) -> None:
    """Three records in three transactions: 3 behind, 1 after two are committed, 0 after the last."""
    topic = await topic_factory(partitions=1)
    tp = TopicPartition(topic, 0)
    group = f"lag-test-{uuid.uuid4().hex[:8]}"
    async with asyncio.timeout(60):
        await _write_in_transactions(kafka_bootstrap, topic, 3)  # offsets 0, 2, 4; markers 1, 3, 5
    reader = LagReader(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    await reader.start()
    try:
        async with asyncio.timeout(30):
            never = await reader.read(group, [topic], records=10)
        assert never.behind == 3
        assert [r.value for r in never.partitions[tp].first] == [b"r0", b"r1", b"r2"]
        assert never.oldest_ms() == never.partitions[tp].first[0].timestamp

        async with asyncio.timeout(60):
            await _commit(kafka_bootstrap, group, tp, 3)  # past r1 and its marker
        async with asyncio.timeout(30):
            assert (await reader.read(group, [topic], records=10)).behind == 1

        # Past the last record, before its marker: what a consumer commits after r2.
        await _commit(kafka_bootstrap, group, tp, 5)
        done = await reader.read(group, [topic], records=10)
        assert (done.behind, done.oldest_ms()) == (0, None)

        # Fewer records read than are left: counted up to the end, markers included.
        await _commit(kafka_bootstrap, group, tp, 0)
        assert (await reader.read(group, [topic], records=1)).behind == 6
    finally:
        await reader.close()
