"""Where accepted events go: a partner's inbound topic, acknowledged by Kafka before the 202.

``KafkaEventSink`` holds one idempotent producer (``acks="all"``): an event counts as
accepted only when every in-sync replica has it. The producer connects in the background
and reconnects with backoff, so the gateway starts (and answers 503) while Kafka is down.

When Kafka does not acknowledge in time the partner gets 503 and sends again. The first
attempt may still reach the topic later; the router then suppresses the resend as a
duplicate of (source, id), so a retry never delivers an event twice and a 503 never loses
one.

The producer heals itself (``hub.kafka.HealingProducer``). After a leader change (a
broker's controlled shutdown) an idempotent aiokafka producer can be left out of step
with the broker: every later batch to that partition fails with OutOfOrderSequenceNumber,
or its sender task has died and nothing is sent at all. The sink then builds a new
producer (a new producer id starts new sequences) and answers 503 until it is connected;
``/readyz`` is false meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hub.kafka import HealingProducer, KafkaError, KafkaMisconfigured
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, RetrySettings

__all__ = ["EventSink", "KafkaEventSink", "KafkaRecord"]


_RETRY = RetrySettings(initial_seconds=0.2, max_seconds=10.0)
_PROBE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """One binary-mode CloudEvent on its way to a topic."""

    topic: str
    key: bytes
    headers: tuple[tuple[str, bytes], ...]
    value: bytes


class EventSink(Protocol):
    """Takes records and says, per record, whether Kafka acknowledged it."""

    @property
    def connected(self) -> bool:
        """True while a producer is connected (a send may still fail)."""
        ...

    async def send(self, records: Sequence[KafkaRecord]) -> list[bool]:
        """Produce the records in order; True for each one Kafka acknowledged in time."""
        ...

    async def probe(self) -> bool:
        """Ask the cluster for metadata now: True when it answers (for /readyz)."""
        ...


class KafkaEventSink:
    """An EventSink over one aiokafka producer (acks=all, idempotent), connected in the background."""

    def __init__(self, kafka: KafkaSettings, *, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._producer = HealingProducer(
            kafka,
            name="gateway-producer",
            events="gateway",
            retry=_RETRY,
            linger_ms=2,
            # Bounds each request to the broker. With idempotence aiokafka retries a batch
            # until it lands, so a record whose partner heard 503 may still arrive later:
            # a duplicate of the resend, which the router suppresses by (source, id).
            request_timeout_ms=int(timeout_seconds * 1000),
        )

    @property
    def connected(self) -> bool:
        """True once the producer has connected."""
        return self._producer.connected

    @property
    def refused(self) -> asyncio.Event:
        """Set when Kafka refuses the gateway for good (``refusal`` says why): it must stop."""
        return self._producer.refused

    @property
    def refusal(self) -> KafkaMisconfigured | None:
        """Why Kafka refused the gateway, once it has."""
        return self._producer.refusal

    async def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        self._producer.start()

    async def stop(self) -> None:
        """Flush and close the producer (or stop trying to connect)."""
        await self._producer.stop()

    async def send(self, records: Sequence[KafkaRecord]) -> list[bool]:
        """Produce in order and wait for the acknowledgements, all within the timeout."""
        producer = self._producer.current
        if producer is None:
            return [False] * len(records)
        deadline = time.monotonic() + self._timeout
        futures: list[asyncio.Future[Any] | None] = []
        for record in records:
            try:
                async with asyncio.timeout_at(_loop_deadline(deadline)):
                    future = await producer.send(
                        record.topic,
                        value=record.value,
                        key=record.key,
                        headers=list(record.headers),
                    )
                future.add_done_callback(_consume_outcome)
                futures.append(future)
            except (KafkaError, OSError, TimeoutError) as exc:
                # Cancelling send() itself keeps the record out of Kafka (aiokafka docs).
                get_logger().warning("gateway_send_failed", exc_type=type(exc).__name__)
                futures.append(None)
        pending = [f for f in futures if f is not None]
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        acknowledged = [
            f is not None and f.done() and not f.cancelled() and f.exception() is None
            for f in futures
        ]
        if not all(acknowledged):
            # Rebuilds the producer when its state, not the cluster, is why sends failed.
            await self._producer.heal(producer, _failures(futures))
        return acknowledged

    async def probe(self) -> bool:
        """Fetch cluster metadata within a short timeout; False while the producer is rebuilt."""
        return await self._producer.probe(_PROBE_TIMEOUT)


def _failures(futures: list[asyncio.Future[Any] | None]) -> list[BaseException]:
    return [
        error
        for f in futures
        if f is not None and f.done() and not f.cancelled()
        if (error := f.exception()) is not None
    ]


def _loop_deadline(deadline: float) -> float:
    # time.monotonic() and the loop's clock are the same on CPython, but do not rely on it.
    return asyncio.get_running_loop().time() + max(0.0, deadline - time.monotonic())


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    # A send that failed after the partner got its answer must not warn "never retrieved".
    if not future.cancelled():
        future.exception()
