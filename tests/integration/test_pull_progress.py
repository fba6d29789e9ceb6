"""How far a pull partner has read is committed as its group's offsets: its backlog is on Kafka."""

from __future__ import annotations

import asyncio
import gc
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.delivery.pull import pull_group
from hub.kafka.lag import GroupLag, LagReader
from hub.kafka.progress import GroupProgress
from hub.settings import KafkaSettings

from .conftest import TopicFactory
from .hubtest import isolated_settings
from .test_pull_delivery import pull, pulling_hub, referral, registry_file


async def _lag_becomes(reader: LagReader, group: str, topic: str, behind: int) -> GroupLag:
    # Polled: the commit is the gateway's background work, with nothing to wait on.
    async with asyncio.timeout(30):
        while (lag := await reader.read(group, [topic], records=10)).behind != behind:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    return lag


async def test_a_pull_partners_cursor_is_its_groups_position(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Three deliveries: 3 behind before any pull, 1 after coming back with the cursor of a page of 2, 0 after the last."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path, partitions=1)
    settings.partners_file = registry_file(tmp_path, {"swt-zwolle": {"kind": "pull"}})
    events = [referral() for _ in range(3)]
    async with pulling_hub(settings) as (hub, client):
        await hub.send("gp-de-linde", events)
        await hub.wait_for_status(events, timeout=60)
        group = pull_group(settings.kafka, "swt-zwolle")
        topic = hub.deliveries_topic("swt-zwolle")
        reader = LagReader(settings.kafka)
        await reader.start()
        try:
            assert (await reader.read(group, [topic], records=10)).behind == 3
            first, after_first = await pull(client, "swt-zwolle", {"limit": "2"})
            assert len(first) == 2
            # Taken only once the partner comes back with the cursor: still 3 behind.
            assert (await reader.read(group, [topic], records=10)).behind == 3
            second, after_second = await pull(client, "swt-zwolle", after_first)
            assert len(second) == 1
            lag = await _lag_becomes(reader, group, topic, 1)
            assert lag.oldest_ms() is not None
            await pull(client, "swt-zwolle", after_second)
            await _lag_becomes(reader, group, topic, 0)
        finally:
            await reader.close()


async def test_stopping_while_a_commit_starts_its_consumer_leaves_no_client_open(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """The gateway stopping at any moment of the first commit closes the group's consumer and still commits (an unclosed client fails the test: warnings are errors)."""
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = await topic_factory(partitions=1)
    for delay in (0.0, 0.002, 0.01, 0.03, 0.1):
        group = f"tprogress-{uuid.uuid4().hex[:8]}"
        progress = GroupProgress(kafka, interval_seconds=0)
        progress.note(group, topic, {0: 1})
        await progress.start()
        await asyncio.sleep(delay)
        await progress.stop()
        gc.collect()  # a consumer nothing closed warns when collected
        assert await _committed(kafka_bootstrap, group, topic) == 1, delay


async def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await reader.start()
    try:
        return await reader.committed(TopicPartition(topic, 0))
    finally:
        await reader.stop()
