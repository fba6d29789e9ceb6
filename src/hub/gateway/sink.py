"""Where accepted events go: a partner's inbound topic, acknowledged by Kafka before the 202.

``KafkaEventSink`` holds one idempotent producer (``acks="all"``): an event counts as
accepted only when every in-sync replica has it. The producer connects in the background
and reconnects with backoff, so the gateway starts (and answers 503) while Kafka is down.

When Kafka does not acknowledge in time the partner gets 503 and sends again. The first
attempt may still reach the topic later; the router then suppresses the resend as a
duplicate of (source, id), so a retry never delivers an event twice and a 503 never loses
one.

The producer heals itself. After a leader change (a broker's controlled shutdown) an
idempotent aiokafka producer can be left out of step with the broker: every later batch
to that partition fails with OutOfOrderSequenceNumber, or its sender task has died and
nothing is sent at all. The sink then builds a new producer (a new producer id starts
new sequences) and answers 503 until it is connected; ``/readyz`` is false meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hub.gateway.background import BackgroundTask
from hub.kafka import (
    KafkaError,
    KafkaFailure,
    KafkaMisconfigured,
    classify,
    kafka_retrying,
    producer,
)
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, RetrySettings

__all__ = ["EventSink", "KafkaEventSink", "KafkaRecord"]


_RETRY = RetrySettings(initial_seconds=0.2, max_seconds=10.0)
_PROBE_TIMEOUT = 2.0
_RETIRE_TIMEOUT = 10.0


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
        self._kafka = kafka
        self._timeout = timeout_seconds
        self._producer: Any = None
        self._connector = BackgroundTask("gateway-producer", self._connect)
        self._retired: set[asyncio.Task[None]] = set()
        self._refused = asyncio.Event()
        self.refusal: KafkaMisconfigured | None = None

    @property
    def connected(self) -> bool:
        """True once the producer has connected."""
        return self._producer is not None

    @property
    def refused(self) -> asyncio.Event:
        """Set when Kafka refuses the gateway for good (``refusal`` says why): it must stop."""
        return self._refused

    async def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        self._connector.start()

    async def stop(self) -> None:
        """Flush and close the producer (or stop trying to connect)."""
        await self._connector.stop()
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await producer.stop()
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)

    async def _connect(self) -> None:
        try:
            async for attempt in kafka_retrying(
                _RETRY,
                event="gateway_kafka_unavailable",
                doing="connecting the gateway's producer",
                retry_on=_can_retry_connecting,
            ):
                with attempt:
                    connected = await self._start_producer()
        except (KafkaError, OSError) as exc:
            if classify(exc) is not KafkaFailure.MISCONFIGURED:
                raise
            self._refuse(exc)
            return
        self._producer = connected
        get_logger().info("gateway_kafka_connected")

    async def _start_producer(self) -> Any:
        started = producer(
            self._kafka,
            linger_ms=2,
            # Bounds each request to the broker. With idempotence aiokafka retries a batch
            # until it lands, so a record whose partner heard 503 may still arrive later:
            # a duplicate of the resend, which the router suppresses by (source, id).
            request_timeout_ms=int(self._timeout * 1000),
        )
        try:
            await started.start()
        except BaseException:
            with contextlib.suppress(KafkaError, OSError):
                await started.stop()
            raise
        return started

    async def send(self, records: Sequence[KafkaRecord]) -> list[bool]:
        """Produce in order and wait for the acknowledgements, all within the timeout."""
        producer = self._producer
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
            await self._heal_if_broken(producer, futures)
        return acknowledged

    async def _heal_if_broken(
        self, producer: Any, futures: list[asyncio.Future[Any] | None]
    ) -> None:
        """Rebuild the producer when its state, not the cluster, is why sends fail."""
        if producer is not self._producer:
            return  # another request already started the rebuild
        errors = [
            f.exception()
            for f in futures
            if f is not None and f.done() and not f.cancelled() and f.exception() is not None
        ]
        broken = next(
            (e for e in errors if e and classify(e) is KafkaFailure.PRODUCER_BROKEN), None
        )
        refused = next((e for e in errors if e and classify(e) is KafkaFailure.MISCONFIGURED), None)
        if refused is not None:
            self._producer = None
            self._retire(producer)
            self._refuse(refused)
        elif broken is not None:
            self._rebuild(producer, type(broken).__name__)
        elif _sender_stopped(producer):
            self._rebuild(producer, "SenderStopped")

    def _rebuild(self, producer: Any, reason: str) -> None:
        get_logger().warning("gateway_producer_rebuilt", exc_type=reason)
        self._producer = None
        self._retire(producer)
        self._connector.replace()

    def _retire(self, producer: Any) -> None:
        retired = asyncio.create_task(_stop_quietly(producer), name="gateway-producer-retired")
        self._retired.add(retired)
        retired.add_done_callback(self._retired.discard)

    def _refuse(self, exc: BaseException) -> None:
        get_logger().error("gateway_kafka_refused", exc_type=type(exc).__name__)
        self.refusal = KafkaMisconfigured(exc)
        self._refused.set()

    async def probe(self) -> bool:
        """Fetch cluster metadata within a short timeout; False while the producer is rebuilt."""
        producer = self._producer
        if producer is None or _sender_stopped(producer):
            return False
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT):
                await producer.client.fetch_all_metadata()
        except (KafkaError, OSError, TimeoutError):
            return False
        return True


def _can_retry_connecting(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError | OSError) and classify(exc) is not KafkaFailure.MISCONFIGURED


def _sender_stopped(producer: Any) -> bool:
    # aiokafka ends its sender task on OutOfOrderSequenceNumber or ProducerFenced and then
    # never sends again, without a public way to ask; its `_sender.sender_task` is the only
    # sign. Read defensively: an aiokafka without it just loses this early detection.
    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    return isinstance(task, asyncio.Task) and task.done()


async def _stop_quietly(producer: Any) -> None:
    # Bounded: stop() flushes what the old producer still holds, and waits for a broker
    # that may be away. Records it still lands are duplicates of the partners' resends
    # (they got 503), which the router suppresses by (source, id).
    try:
        await asyncio.wait_for(producer.stop(), timeout=_RETIRE_TIMEOUT)
    except TimeoutError:
        # stop() was cancelled mid-flush and leaves its sender and connections behind:
        # end them here (aiokafka has no public "close without flushing").
        task = getattr(getattr(producer, "_sender", None), "sender_task", None)
        if isinstance(task, asyncio.Task) and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await producer.client.close()
    except Exception:  # noqa: S110 - a producer already out of step may fail to stop; it is gone either way
        pass


def _loop_deadline(deadline: float) -> float:
    # time.monotonic() and the loop's clock are the same on CPython, but do not rely on it.
    return asyncio.get_running_loop().time() + max(0.0, deadline - time.monotonic())


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    # A send that failed after the partner got its answer must not warn "never retrieved".
    if not future.cancelled():
        future.exception()
