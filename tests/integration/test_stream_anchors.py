"""The pull stream's anchors on the real broker: read apart from the page, so the page keeps its wait and budget.

A pull reads the record its cursor's anchor names in a fetch of its own before the page:
the anchored record is always there, so read with the page it would end the long-poll at
once, and in the page's byte budget a large one could leave room for nothing else.
"""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaProducer

from hub.kafka import StreamReader
from hub.settings import KafkaSettings

from .conftest import TopicFactory


async def _write_in_transactions(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Each value in a transaction of its own, as the router writes: a marker after each."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"anchors-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        for n, value in enumerate(values):
            async with producer.transaction():
                await producer.send(topic, value, key=b"k", headers=[("ce_id", f"d-{n}".encode())])
    finally:
        await producer.stop()


async def test_an_anchored_read_with_nothing_new_still_waits(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """Nothing after the cursor: the read waits its wait_seconds for a record, as an unanchored one does."""
    topic = await topic_factory(partitions=1)
    await _write_in_transactions(kafka_bootstrap, topic, [b"one"])
    reader = StreamReader(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), max_readers=2, max_bytes=1 << 20
    )
    try:
        first = await reader.read(topic, None, max_records=10, wait_seconds=0)
        [record] = first.records
        started = time.monotonic()
        page = await reader.read(
            topic, first.positions, max_records=10, wait_seconds=1.5, anchors={0: record.offset}
        )
        waited = time.monotonic() - started
    finally:
        await reader.stop()
    assert page.records == []
    assert page.anchors[0] is not None
    assert page.anchors[0].offset == record.offset
    assert waited >= 1.0  # ended by the wait, not by the anchored record


async def test_an_anchored_read_of_large_records_moves_on(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """40 KB deliveries and a 64 KiB budget: every read from an anchored cursor returns the next record."""
    topic = await topic_factory(partitions=1)
    await _write_in_transactions(
        kafka_bootstrap, topic, [bytes([65 + n]) * 40_000 for n in range(4)]
    )
    reader = StreamReader(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), max_readers=2, max_bytes=64 * 1024
    )
    seen: list[bytes] = []
    after: dict[int, int] | None = None
    anchors: dict[int, int] = {}
    try:
        for _ in range(6):
            page = await reader.read(topic, after, max_records=10, wait_seconds=0, anchors=anchors)
            seen += [r.value or b"" for r in page.records]
            if page.records:
                anchors = {0: page.records[-1].offset}
            after = page.positions
    finally:
        await reader.stop()
    assert [value[:1] for value in seen] == [b"A", b"B", b"C", b"D"]
