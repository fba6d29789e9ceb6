"""Acting as a partner on Kafka: send a CloudEvent to the hub, watch what a partner receives.

Used by `hub send`, `hub watch`, `hub demo` and the integration tests, so all of them
speak to the hub exactly as a partner on the cluster would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.envelope import from_kafka, to_kafka
from hub.settings import KafkaSettings

__all__ = ["Received", "receive", "send_events"]


async def send_events(kafka: KafkaSettings, topic: str, events: Iterable[Mapping[str, Any]]) -> int:
    """Produce structured-mode events to a topic in binary mode (acks=all, idempotent); returns how many."""
    from hub.router import kafka_client_options

    producer = AIOKafkaProducer(**kafka_client_options(kafka), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = 0
        for event in events:
            key, headers, value = to_kafka(event)
            await producer.send_and_wait(topic, value=value, key=key, headers=list(headers))
            sent += 1
        return sent
    finally:
        await producer.stop()


@dataclass(frozen=True, slots=True)
class Received:
    """One record read back from a hub topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    value: bytes | None

    def event(self) -> dict[str, Any]:
        """The record as a structured-mode CloudEvent (for delivery topics)."""
        return from_kafka(self.key, self.headers, self.value)

    def json(self) -> Any:
        """The value as JSON (for dead-letter, disclosure and status topics)."""
        return None if self.value is None else json.loads(self.value)


async def receive(
    kafka: KafkaSettings,
    topics: list[str],
    *,
    idle_seconds: float | None = None,
    from_beginning: bool = True,
) -> AsyncIterator[Received]:
    """Yield committed records from topics; stop after ``idle_seconds`` without a record (None: never)."""
    from hub.router import kafka_client_options

    consumer = AIOKafkaConsumer(
        *topics,
        **kafka_client_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while idle_seconds is None or loop.time() - last < idle_seconds:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    last = loop.time()
                    yield Received(r.topic, r.partition, r.offset, r.key, tuple(r.headers), r.value)
    finally:
        await consumer.stop()
