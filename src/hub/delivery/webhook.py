"""WebhookDeliverer: moves each webhook partner's deliveries from Kafka to its HTTPS endpoint.

For every partner whose registry entry says ``delivery: {kind: webhook}``, one consumer
(group ``<prefix>.<group id>.webhook.<partner id>``, ``read_committed``, manual commits) reads
``<prefix>.deliveries.<partner>`` and POSTs each binary-mode CloudEvent in structured
mode, signed per Standard Webhooks. ``sender.py`` does the HTTP part, ``channel.py``
handles one record (send, park, log the attempt), ``parking.py`` holds replay.

Guarantees, and how they are kept:

- At-least-once: an offset is committed only after its record was delivered (2xx) or
  parked. A crash or restart sends the uncommitted records again with the same
  ``webhook-id`` (the CloudEvent id); receivers dedupe by it.
- Order per subject: the key is the subject, so a subject lives in one partition, and
  a partition's records are handled one at a time in offset order (partitions run side
  by side). While a partition's record is being retried, the partition is paused, not
  abandoned: the consumer keeps polling, so a long outage does not evict it from its group.
- Parking keeps order too: a record that is refused for good (a 4xx other than 408/429),
  runs out of its retry budget, cannot be decoded, or on which delivering failed three
  times on a bug (``PROCESSING_FAILED``; each failure restarts the partner's delivery
  alone) is copied to
  ``<prefix>.parked.<partner>`` with its headers, value and a ``hub-park-reason`` code.
  **While a subject has a parked record that replay has not yet taken, every later
  record of that subject is parked too** (reason ``SUBJECT_PARKED``), so the receiver
  never sees a subject's events out of order; other subjects flow on. ``replay``
  (``hub.delivery.parking``) sends the parked records again in their order; once it has
  taken all of a subject's parked records (its consumer group
  ``<prefix>.<group id>.webhook-replay.<partner>`` committed past them), the subject is delivered
  directly again. A replayed record that fails again is parked
  again, and so are the subject's later records in that run.
- One dead partner does not slow the others: each partner has its own consumer, HTTP
  connection pool and circuit breaker.
- Every transmission attempt is appended to the disclosure log as a ``delivery-attempt``
  record linked to the release's disclosure record (``hub-disclosure-id`` header);
  ``attempt`` 0 marks a record parked without a transmission.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Counter

from hub.connectors.registry import Partner, WebhookDelivery
from hub.delivery.breaker import CircuitBreaker
from hub.delivery.channel import (
    Channel,
    Record,
    WebhookTarget,
    http_client,
    new_breaker,
    tls_context,
    webhook_target,
)
from hub.delivery.parking import ParkedSubjects, replay_group
from hub.kafka import (
    Admin,
    CommitFailedError,
    Consumer,
    KafkaError,
    Producer,
    RebalanceListener,
    TopicPartition,
    admin_client,
    adopt_committed_offsets,
    consumer,
    hub_group,
    kafka_retrying,
    producer,
    stop_consumer,
)
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, RetrySettings, WebhookSettings
from hub.topics import TopicLayout

__all__ = ["WebhookDeliverer", "delivery_group"]

_POLL_MS = 200
_MAX_RECORDS = 100

_log = get_logger()


def delivery_group(kafka: KafkaSettings, partner_id: str) -> str:
    """The consumer group that delivers a partner's webhook deliveries: ``<prefix>.<group id>.webhook.<partner>``."""
    return hub_group(kafka, "webhook", partner_id)


async def _adopt_legacy_groups(kafka: KafkaSettings, layout: TopicLayout, partner: Partner) -> None:
    """Carry the offsets of the groups' names before they held the prefix (``hub-webhook-*``)."""
    await adopt_committed_offsets(
        kafka,
        legacy_group=f"hub-webhook-{partner.id}",
        group=delivery_group(kafka, partner.id),
        topics=[layout.deliveries(partner)],
    )
    await adopt_committed_offsets(
        kafka,
        legacy_group=f"hub-webhook-replay-{partner.id}",
        group=replay_group(kafka, partner.id),
        topics=[layout.parked(partner.id)],
    )


class _Worker:
    """Handles one partition's records one at a time, in offset order."""

    def __init__(self, handle: Callable[[Record], Awaitable[None]]) -> None:
        self._handle = handle
        self._queue: deque[Record] = deque()
        self._wake = asyncio.Event()
        self.done: int | None = None  # next offset to commit
        self.committed: int | None = None
        self.task = asyncio.create_task(self._run())

    @property
    def busy(self) -> bool:
        return bool(self._queue)

    def feed(self, records: Iterable[Record]) -> None:
        self._queue.extend(records)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            record = self._queue[0]
            await self._handle(record)
            self._queue.popleft()
            self.done = record.offset + 1


class _Workers(RebalanceListener):  # type: ignore[misc]
    """The partition workers of one consumer; commits what they finished, also on revocation."""

    def __init__(
        self,
        handle: Callable[[Record], Awaitable[None]],
        on_assigned: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._handle = handle
        self._on_assigned = on_assigned
        self._workers: dict[TopicPartition, _Worker] = {}
        self.consumer: Consumer | None = None
        # Set while no refresh of the parked subjects runs: aiokafka may hand out records
        # of new partitions before its rebalance listener is done, so they wait for it.
        self._refreshed = asyncio.Event()
        self._refreshed.set()
        self._refresh_failed: BaseException | None = None

    async def _handle_refreshed(self, record: Record) -> None:
        await self._refreshed.wait()
        await self._handle(record)

    def feed(self, batch: Mapping[TopicPartition, list[Record]]) -> None:
        for tp, records in batch.items():
            worker = self._workers.get(tp)
            if worker is None:
                worker = self._workers[tp] = _Worker(self._handle_refreshed)
            worker.feed(records)

    def busy(self) -> set[TopicPartition]:
        return {tp for tp, worker in self._workers.items() if worker.busy}

    def raise_if_failed(self) -> None:
        if self._refresh_failed is not None:
            # Not raised in the listener (aiokafka only logs that): the session fails here
            # and is opened again, reading the parked topic anew.
            raise self._refresh_failed
        for worker in self._workers.values():
            if worker.task.done() and not worker.task.cancelled():
                error = worker.task.exception()
                if error is not None:
                    raise error

    async def commit(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        chosen = self._workers if partitions is None else partitions
        offsets = {
            tp: worker.done
            for tp in chosen
            if (worker := self._workers.get(tp)) is not None
            and worker.done is not None
            and worker.done != worker.committed
        }
        if not offsets or self.consumer is None:
            return
        try:
            await self.consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced; the partition's new owner resends from the last commit.
            _log.warning("webhook_commit_failed", count=len(offsets))
            return
        for tp, offset in offsets.items():
            self._workers[tp].committed = offset

    async def stop(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        chosen = list(self._workers if partitions is None else partitions)
        tasks = [self._workers[tp].task for tp in chosen if tp in self._workers]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(KafkaError):
            await self.commit(chosen)
        for tp in chosen:
            self._workers.pop(tp, None)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.stop(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Partitions another instance had: what it parked must hold their subjects back
        # here too, before the first of their records is read.
        if assigned and self._on_assigned is not None:
            self._refreshed.clear()
            try:
                await self._on_assigned()
            except Exception as exc:
                self._refresh_failed = exc
            finally:
                self._refreshed.set()


@dataclass
class _Session:
    """The Kafka and HTTP clients of one run of one partner's delivery loop."""

    consumer: Consumer
    producer: Producer
    parked: ParkedSubjects
    admin: Admin
    client: httpx.AsyncClient
    workers: _Workers
    started: list[Any] = field(default_factory=list)

    async def _stop(self, client: Any) -> None:
        if client is self.admin:
            await client.close()
        elif client is self.consumer:
            await stop_consumer(client)
        else:
            await client.stop()

    async def close(self) -> None:
        await self.workers.stop()
        for client in reversed(self.started):
            with contextlib.suppress(Exception):  # closing after a failure may fail again
                await self._stop(client)
        # Clients built but never started (a failure part-way through _open) must still be
        # stopped: aiokafka warns about, and pytest fails on, an unclosed client.
        for built in (self.consumer, self.producer, self.admin):
            if built not in self.started:
                with contextlib.suppress(Exception):
                    await self._stop(built)
        with contextlib.suppress(Exception):
            await self.parked.close()
        await self.client.aclose()


class WebhookDeliverer:
    """Delivers every webhook partner's deliveries topic to its endpoint until stopped.

    Construction checks each webhook partner's URL and signing secret and raises
    ConfigurationError, so a bad entry stops the hub before it consumes anything.
    """

    def __init__(
        self,
        partners: Iterable[Partner],
        *,
        kafka: KafkaSettings,
        webhooks: WebhookSettings,
        layout: TopicLayout,
        retry: RetrySettings | None = None,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._targets = [
            webhook_target(p, env) for p in partners if isinstance(p.delivery, WebhookDelivery)
        ]
        self._kafka = kafka
        self._webhooks = webhooks
        self._layout = layout
        self._retry = retry or RetrySettings()
        self._transport = transport
        self._breakers = {t.partner.id: new_breaker(webhooks) for t in self._targets}
        # Failures met on a record (topic, partition, offset) that were neither Kafka nor
        # the endpoint, across the partner's restarts; at _PARK_AFTER_FAILURES it is parked.
        self._failures: dict[tuple[str, int, int], int] = {}
        for target in self._targets:
            # At 0 from the start: the alert watches for an increase, which a counter that
            # first appears at 1 (this partner's first failure) does not show.
            PARTNER_FAILURES.labels(target.partner.id)
        self._ready_by_partner = {t.partner.id: asyncio.Event() for t in self._targets}
        self._ready = asyncio.Event()

    @property
    def partners(self) -> tuple[str, ...]:
        """Ids of the partners this deliverer serves."""
        return tuple(t.partner.id for t in self._targets)

    @property
    def ready(self) -> asyncio.Event:
        """Set once every partner's consumer has its partitions."""
        return self._ready

    def breaker(self, partner_id: str) -> CircuitBreaker:
        """The circuit breaker of one partner (for health checks and tests)."""
        return self._breakers[partner_id]

    async def run(self, stop: asyncio.Event, *, grace_seconds: float = 5.0) -> None:
        """Run every partner's delivery loop until ``stop`` is set.

        A loop notices ``stop`` within one poll and commits what it finished; one still
        busy after ``grace_seconds`` (e.g. reconnecting to Kafka) is cancelled. Records
        in flight are not committed, so they are sent again on the next start.
        """
        tls = await asyncio.to_thread(tls_context)  # off the loop, once for every partner
        async with asyncio.TaskGroup() as group:
            loops = [group.create_task(self._run_partner(t, stop, tls)) for t in self._targets]
            group.create_task(self._watch_ready(stop))
            stopping = group.create_task(stop.wait())
            await asyncio.wait([stopping, *loops], return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set() and loops:
                _, pending = await asyncio.wait(loops, timeout=grace_seconds)
                for task in pending:
                    task.cancel()
            stopping.cancel()

    async def _watch_ready(self, stop: asyncio.Event) -> None:
        for event in self._ready_by_partner.values():
            waiter = asyncio.ensure_future(event.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if stop.is_set():
                return
        self._ready.set()

    async def _run_partner(
        self, target: WebhookTarget, stop: asyncio.Event, tls: ssl.SSLContext
    ) -> None:
        """One partner's delivery until ``stop``; a failure of its own does not end the others.

        Kafka trouble is retried inside (``_deliver``). Anything else (a bug met on one of
        its records) would, in the task group, cancel every partner's loop and stop
        `hub run`, router included, and again on every restart: so it is logged and
        counted, and this partner's session starts again after a growing pause, from its
        last commit. A record that failed so ``_PARK_AFTER_FAILURES`` times is then parked
        (``PROCESSING_FAILED``), so that one record does not hold up the partner for good.
        """
        pause = _FAILED_PAUSE_SECONDS
        while not stop.is_set():
            try:
                await self._deliver(target, stop, tls)
                return
            except Exception as exc:
                PARTNER_FAILURES.labels(target.partner.id).inc()
                # The type only: an exception's text may quote what it failed on.
                _log.error(
                    "webhook_partner_failed",
                    partner=target.partner.id,
                    exc_type=type(exc).__name__,
                    retry_seconds=pause,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, _FAILED_PAUSE_MAX_SECONDS)

    async def _deliver(
        self, target: WebhookTarget, stop: asyncio.Event, tls: ssl.SSLContext
    ) -> None:
        async for attempt in kafka_retrying(
            self._retry,
            event="webhook_deliverer_retrying",
            doing="delivering webhooks",
            retry_on=_is_kafka_trouble,
            partner=target.partner.id,
        ):
            with attempt:
                session = await self._open(target, tls)
                try:
                    await self._loop(target, session, stop)
                finally:
                    await session.close()

    async def _open(self, target: WebhookTarget, tls: ssl.SSLContext) -> _Session:
        partner = target.partner
        # No lingering: the channel waits for each attempt record before the next delivery.
        writer = producer(self._kafka, linger_ms=0)
        admin = admin_client(self._kafka)
        reader = consumer(
            self._kafka,
            group_id=delivery_group(self._kafka, partner.id),
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        parked = ParkedSubjects(
            self._kafka,
            admin,
            self._layout.parked(partner.id),
            replay_group(self._kafka, partner.id),
        )
        client = http_client(self._webhooks, self._transport, tls)
        channel = Channel(
            target,
            layout=self._layout,
            settings=self._webhooks,
            client=client,
            breaker=self._breakers[partner.id],
            producer=writer,
            on_parked=parked.note,
        )

        async def handle(record: Record) -> None:
            at = (record.topic, record.partition, record.offset)
            if self._failures.get(at, 0) >= _PARK_AFTER_FAILURES:
                # The same record failed each time: parked, so the partner's other
                # subjects flow on (its own later records follow it, SUBJECT_PARKED).
                await channel.park_failed(record)
                del self._failures[at]
                return
            try:
                await channel.handle(record, parked.is_parked)
            except Exception as exc:
                if not _is_kafka_trouble(exc):
                    self._failures[at] = self._failures.get(at, 0) + 1
                raise
            self._failures.pop(at, None)

        workers = _Workers(handle, on_assigned=parked.refresh)
        workers.consumer = reader
        session = _Session(reader, writer, parked, admin, client, workers)
        try:
            for started in (writer, admin):
                await started.start()
                session.started.append(started)
            await _adopt_legacy_groups(self._kafka, self._layout, partner)
            await parked.load()
            reader.subscribe([self._layout.deliveries(partner)], listener=workers)
            await reader.start()
            session.started.append(reader)
        except BaseException:
            await session.close()
            raise
        _log.info(
            "webhook_deliverer_started",
            partner=partner.id,
            group=delivery_group(self._kafka, partner.id),
            topic=self._layout.deliveries(partner),
        )
        return session

    async def _loop(self, target: WebhookTarget, session: _Session, stop: asyncio.Event) -> None:
        consumer = session.consumer
        ready = self._ready_by_partner[target.partner.id]
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=_POLL_MS, max_records=_MAX_RECORDS)
            assigned = consumer.assignment()
            if assigned:
                ready.set()
            session.workers.feed(batch)
            session.workers.raise_if_failed()
            # A partition whose worker still has records is not fetched further, but the
            # consumer keeps polling, so a long retry never exceeds max.poll.interval.ms.
            busy = session.workers.busy() & assigned
            paused = consumer.paused()
            if busy - paused:
                consumer.pause(*(busy - paused))
            if paused - busy:
                consumer.resume(*(paused - busy))
            await session.workers.commit()


_PARK_AFTER_FAILURES = 3
_FAILED_PAUSE_SECONDS = 1.0
_FAILED_PAUSE_MAX_SECONDS = 60.0
PARTNER_FAILURES = Counter(
    "hub_webhook_partner_failures_total",
    "Times a webhook partner's delivery failed on something other than Kafka or its "
    "endpoint (a bug met on its records) and was started again; the others go on.",
    ["partner"],
)


def _is_kafka_trouble(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError | OSError | TimeoutError)
