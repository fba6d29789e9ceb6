"""hub.kafka.StreamReader on the real broker: pages from offsets, committed records only, many readers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.kafka import OffsetsOutOfRange, StreamReader
from hub.settings import KafkaSettings


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A fresh topic of two partitions, deleted afterwards."""
    name = f"tstream{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 2, 1)])
        async with asyncio.timeout(15):
            while True:
                (described,) = await admin.describe_topics([name])
                leaders = [p["leader"] for p in described["partitions"]]
                if described["error_code"] == 0 and len(leaders) == 2 and min(leaders) >= 0:
                    break
                await asyncio.sleep(0.05)
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def write(bootstrap: str, topic: str, values: list[bytes], *, commit: bool = True) -> None:
    """Write values to partition 0 in one transaction, committed or aborted."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"t-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        for value in values:
            await producer.send(topic, value=value, key=b"k", partition=0)
        if commit:
            await producer.commit_transaction()
        else:
            await producer.abort_transaction()
    finally:
        await producer.stop()


async def test_pages_stop_at_the_byte_budget_and_lose_nothing(
    kafka_bootstrap: str, topic: str
) -> None:
    """With a budget of 2.5 records a page holds two; following the positions reads each record once, in order."""
    values = [bytes([65 + n]) * 1000 for n in range(7)]
    await write(kafka_bootstrap, topic, values)
    reader = StreamReader(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), max_readers=2, max_bytes=2500
    )
    read: list[bytes] = []
    sizes: list[int] = []
    try:
        after = None
        for _ in range(10):
            page = await reader.read(topic, after, max_records=100, wait_seconds=0.2)
            if not page.records:
                break
            sizes.append(len(page.records))
            read += [r.value or b"" for r in page.records]
            after = page.positions
    finally:
        await reader.stop()
    assert read == values
    assert sizes == [2, 2, 2, 1]
    assert after is not None
    assert after[1] == 0
    assert after[0] >= 7


async def test_aborted_records_are_never_returned(kafka_bootstrap: str, topic: str) -> None:
    """read_committed: an aborted transaction's records are stepped over, the committed ones after them returned."""
    await write(kafka_bootstrap, topic, [b"aborted"] * 3, commit=False)
    await write(kafka_bootstrap, topic, [b"kept"])
    reader = StreamReader(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), max_readers=1, max_bytes=1 << 20
    )
    try:
        page = await reader.read(topic, None, max_records=10, wait_seconds=0.5)
        again = await reader.read(topic, page.positions, max_records=10, wait_seconds=0.2)
    finally:
        await reader.stop()
    assert [r.value for r in page.records] == [b"kept"]
    assert again.records == []
    assert again.positions == page.positions


async def test_many_reads_at_once_share_a_few_consumers(kafka_bootstrap: str, topic: str) -> None:
    """Twelve reads through two consumers all get the whole topic; a reused consumer hands nothing of one read to the next."""
    await write(kafka_bootstrap, topic, [b"x%d" % n for n in range(5)])
    reader = StreamReader(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), max_readers=2, max_bytes=1 << 20
    )
    try:
        pages = await asyncio.gather(
            *[reader.read(topic, {0: n % 5}, max_records=10, wait_seconds=0.2) for n in range(12)]
        )
    finally:
        await reader.stop()
    for n, page in enumerate(pages):
        assert [r.value for r in page.records] == [b"x%d" % i for i in range(n % 5, 5)]


async def test_offsets_outside_the_topic_are_refused(kafka_bootstrap: str, topic: str) -> None:
    """Past the end, or a partition the topic lacks: OffsetsOutOfRange naming the partitions, nothing read."""
    await write(kafka_bootstrap, topic, [b"one"])
    reader = StreamReader(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), max_readers=1, max_bytes=1 << 20
    )
    try:
        with pytest.raises(OffsetsOutOfRange) as past_end:
            await reader.read(topic, {0: 1000}, max_records=10, wait_seconds=0.1)
        with pytest.raises(OffsetsOutOfRange) as no_such_partition:
            await reader.read(topic, {5: 0}, max_records=10, wait_seconds=0.1)
    finally:
        await reader.stop()
    assert (past_end.value.expired, past_end.value.unknown) == ([], [0])
    assert (no_such_partition.value.expired, no_such_partition.value.unknown) == ([], [5])
