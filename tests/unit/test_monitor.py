"""LagMonitor's reading without Kafka: recipients read side by side, and a Kafka failure fails it as one."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from hub.kafka import KafkaError, is_kafka_failure
from hub.kafka.lag import GroupLag, LagReader
from hub.monitor import LagMonitor
from hub.settings import KafkaSettings
from hub.testing import many_webhook_partners
from hub.topics import TopicLayout

LAYOUT = TopicLayout("t")


class StandInReader:
    """Answers every read with no lag after a moment; notes how many ran at once."""

    def __init__(self, failing_topic: str | None = None) -> None:
        self.failing_topic = failing_topic
        self.topics: list[str] = []
        self.running = 0
        self.most = 0

    async def read(self, group: str, topics: list[str], *, records: int = 1) -> GroupLag:
        self.topics.extend(topics)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.01)
            if self.failing_topic in topics:
                raise KafkaError("the broker went away")
            return GroupLag({})
        finally:
            self.running -= 1


def _monitor(webhook_partners: int) -> LagMonitor:
    return LagMonitor(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        layout=LAYOUT,
        registry=many_webhook_partners(webhook_partners),
        interval_seconds=15,
    )


def _as_reader(reader: StandInReader) -> LagReader:
    return cast(LagReader, reader)


async def test_recipients_are_read_side_by_side_eight_at_a_time() -> None:
    """Twenty webhook partners: their forty backlog and parked reads overlap, never more than eight at once."""
    reader = StandInReader()
    await _monitor(20).check(_as_reader(reader))

    deliveries = [t for t in reader.topics if ".deliveries." in t]
    parked = [t for t in reader.topics if ".parked." in t]
    assert (len(deliveries), len(parked)) == (20, 20)
    assert reader.most == 8
    assert reader.topics[-1] == LAYOUT.disclosures


async def test_a_read_kafka_fails_fails_the_reading_with_kafkas_error() -> None:
    """One partner's read failing raises that Kafka error itself (``run`` skips such a reading), not a group."""
    reader = StandInReader(failing_topic="t.parked.gp-3")
    with pytest.raises(KafkaError) as raised:
        await _monitor(20).check(_as_reader(reader))
    error: Any = raised.value
    assert is_kafka_failure(error)
