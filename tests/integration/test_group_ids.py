"""Consumer groups renamed to carry the prefix and group id keep their predecessors' positions."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub.kafka.clients import adopt_committed_offsets, hub_group
from hub.settings import KafkaSettings

from .conftest import TopicFactory


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {tp: m.offset for tp, m in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()


async def test_a_renamed_group_continues_where_its_legacy_name_stopped(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """The new group takes the legacy group's offsets on its own topics, once, and nothing else."""
    topic = await topic_factory(partitions=2)
    elsewhere = await topic_factory(partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for partition in (0, 1):
            for _ in range(6):
                await producer.send_and_wait(topic, b"x", partition=partition)
        await producer.send_and_wait(elsewhere, b"x", partition=0)
    finally:
        await producer.stop()
    run = uuid.uuid4().hex[:10]
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"g{run}")
    legacy, group = f"hub-webhook-{run}", hub_group(settings, "webhook", run)
    p0, p1, other = TopicPartition(topic, 0), TopicPartition(topic, 1), TopicPartition(elsewhere, 0)
    await _commit(kafka_bootstrap, legacy, {p0: 3, p1: 5, other: 1})

    adopted = await adopt_committed_offsets(
        settings, legacy_group=legacy, group=group, topics=[topic]
    )
    assert adopted == 2
    assert await _committed(kafka_bootstrap, group) == {p0: 3, p1: 5}

    await _commit(kafka_bootstrap, legacy, {p0: 6, p1: 6})
    again = await adopt_committed_offsets(
        settings, legacy_group=legacy, group=group, topics=[topic]
    )
    assert again == 0
    assert await _committed(kafka_bootstrap, group) == {p0: 3, p1: 5}
