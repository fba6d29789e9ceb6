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

from hub.envelope import from_kafka
from hub.kafka import consumer, producer
from hub.settings import KafkaSettings

__all__ = ["Received", "binary_mode", "receive", "send_events"]


def binary_mode(event: Mapping[str, Any]) -> tuple[bytes | None, list[tuple[str, bytes]], bytes]:
    """Encode a structured-mode event as a partner's producer would, without judging it.

    Unlike ``hub.envelope.to_kafka`` (which the hub uses for what it writes, and which
    refuses what it must never write), this sends whatever the partner gives, so the
    hub's own validation is what decides: tests send invalid events through it.
    """
    headers = [
        ("content-type" if name == "datacontenttype" else f"ce_{name}", str(value).encode())
        for name, value in event.items()
        if name != "data"
    ]
    subject = event.get("subject")
    key = str(subject).encode() if subject is not None else None
    return key, headers, json.dumps(event.get("data"), ensure_ascii=False).encode()


async def send_events(kafka: KafkaSettings, topic: str, events: Iterable[Mapping[str, Any]]) -> int:
    """Produce structured-mode events to a topic in binary mode (acks=all, idempotent); returns how many."""
    # No lingering: each record is sent and acknowledged before the next.
    writer = producer(kafka, linger_ms=0)
    await writer.start()
    try:
        sent = 0
        for event in events:
            key, headers, value = binary_mode(event)
            await writer.send_and_wait(topic, value=value, key=key, headers=list(headers))
            sent += 1
        return sent
    finally:
        await writer.stop()


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
    metadata_max_age_ms: int = 300_000,
) -> AsyncIterator[Received]:
    """Yield committed records from topics; stop after ``idle_seconds`` without a record (None: never).

    A topic the first metadata answer did not list is read once the consumer asks
    again, after ``metadata_max_age_ms`` (Kafka's default is five minutes).
    """
    reader = consumer(
        kafka,
        *topics,
        metadata_max_age_ms=metadata_max_age_ms,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    try:
        await reader.start()
    except BaseException:
        await reader.stop()  # a consumer that failed to start still holds its client
        raise
    try:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while idle_seconds is None or loop.time() - last < idle_seconds:
            batch = await reader.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    last = loop.time()
                    yield Received(r.topic, r.partition, r.offset, r.key, tuple(r.headers), r.value)
    finally:
        await reader.stop()
