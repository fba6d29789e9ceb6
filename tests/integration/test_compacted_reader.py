"""hub.kafka.CompactedReader on the real broker: bounded rounds for readers that share the router's loop."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from hub.kafka import Record, TopicPartition
from hub.kafka.changelog import CompactedReader
from hub.settings import KafkaSettings

from .conftest import TopicFactory


async def _write(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(count):
            await producer.send(topic, value=str(n).encode(), key=b"k%d" % (n % 7))
        await producer.flush()
    finally:
        await producer.stop()


async def test_bounded_rounds_apply_every_record_once_in_order(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """With max_records a round applies at most that many; catch_up still reads to the end, in order."""
    topic = await topic_factory(partitions=1)
    await _write(kafka_bootstrap, topic, 120)
    rounds: list[int] = []
    seen: list[int] = []

    def apply(_: TopicPartition, records: list[Record]) -> None:
        rounds.append(len(records))
        seen.extend(int(r.value or b"") for r in records)

    reader = CompactedReader(KafkaSettings(bootstrap_servers=kafka_bootstrap), [topic], apply)
    await reader.open()
    try:
        assert await reader.catch_up(limit_seconds=30, max_records=25) == 120
        assert seen == list(range(120))
        assert max(rounds) <= 25
        await _write(kafka_bootstrap, topic, 40)
        followed = 0
        while followed < 40:
            applied = await reader.follow(poll_ms=500, max_records=10)
            assert applied <= 10
            followed += applied
        assert seen == list(range(120)) + list(range(40))
    finally:
        await reader.close()
