"""KafkaRouter: runs the pipeline on Kafka, one transaction per batch.

Why aiokafka directly and not FastStream here: FastStream 0.7 has no Kafka
transactions, and the privacy contract needs "no release without its record": the
deliveries, their disclosure records, the state changelog and the input offsets are
committed together or not at all (consume-transform-produce). FastStream serves the
simpler consumers (the audit store feed), where at-least-once plus an idempotent sink
is enough.

Guarantees, and how they are kept:

- At-least-once in, effectively once out: offsets are committed inside the transaction
  (``send_offsets_to_transaction``); a crash before commit aborts it, and readers use
  ``read_committed``, so a replayed batch leaves no duplicate. Duplicates that partners
  send are suppressed by (source, id) in the state.
- Order per subject: one consumer per partition, records handled in offset order,
  outputs keyed by subject through an idempotent producer.
- Nothing blocks a partition: invalid events go to the dead-letter topic; an event that
  makes the hub's own code fail is dead-lettered with PROCESSING_FAILED.
- Transient failures (broker unavailable) abort the transaction, rewind to the last
  committed offsets and retry with bounded exponential backoff and jitter; never dropped,
  never a hot loop.
- Several instances share the state: before each batch the instance catches up with the
  state changelog up to its last stable offset, so every transaction committed before the
  batch started (including other instances') is visible. A partner's reply can only
  follow a delivery, and a delivery is committed together with its state, so causal
  order holds across instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from hub.connectors.registry import PartnerRegistry
from hub.ops import metrics
from hub.ops.logging import get_logger
from hub.pipeline import InboundRecord, OutRecord, Pipeline
from hub.settings import KafkaSettings, RetrySettings
from hub.state.store import StateStore
from hub.topics import TopicLayout

__all__ = ["KafkaRouter", "ensure_topics", "kafka_client_options", "load_state"]

_log = get_logger()


def kafka_client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Connection options shared by every aiokafka client the hub creates."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return options


async def ensure_topics(
    settings: KafkaSettings, layout: TopicLayout, registry: PartnerRegistry
) -> None:
    """Create every topic the hub needs that does not exist yet; existing ones are left alone."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                spec.name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=spec.config,
            )
            for spec in layout.all_topics(registry, settings)
            if spec.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance won the race
                await admin.create_topics(missing)
            _log.info("topics_created", topics=[t.name for t in missing])
    finally:
        await admin.close()


@dataclass
class _StateTail:
    """A group-less reader of the state changelog that the router catches up before each batch."""

    consumer: AIOKafkaConsumer
    partitions: list[TopicPartition]

    async def catch_up(self, store: StateStore, limit_seconds: float = 30.0) -> int:
        """Apply every committed change up to the current last stable offset; returns how many."""
        ends = await self.consumer.end_offsets(self.partitions)
        applied = 0
        deadline = time.monotonic() + limit_seconds
        while any([await self._behind(tp, end) for tp, end in ends.items()]):
            if time.monotonic() > deadline:
                raise TimeoutError("state changelog catch-up took too long")
            batch = await self.consumer.getmany(*self.partitions, timeout_ms=200)
            for records in batch.values():
                store.apply({_key(r): _value(r) for r in records})
                applied += len(records)
        metrics.STATE_KEYS.set(len(store))
        return applied

    async def _behind(self, tp: TopicPartition, end: int) -> bool:
        return bool(await self.consumer.position(tp) < end)


def _key(record: ConsumerRecord[bytes, bytes]) -> str:
    return (record.key or b"").decode()


def _value(record: ConsumerRecord[bytes, bytes]) -> Mapping[str, Any] | None:
    return None if record.value is None else json.loads(record.value)  # type: ignore[no-any-return]


async def load_state(settings: KafkaSettings, layout: TopicLayout) -> tuple[StateStore, _StateTail]:
    """Rebuild the routing state from its changelog and keep a tail open for catching up."""
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    partitions = [
        TopicPartition(layout.state, p)
        for p in sorted(consumer.partitions_for_topic(layout.state) or ())
    ]
    if not partitions:
        await consumer.stop()
        raise KafkaError(f"state topic {layout.state} has no partitions")
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    store = StateStore()
    tail = _StateTail(consumer, partitions)
    applied = await tail.catch_up(store, limit_seconds=300.0)
    _log.info("state_loaded", records=applied, count=len(store))
    return store, tail


@dataclass
class _Session:
    """The clients of one run of the router; rebuilt from scratch after a transient failure."""

    consumer: AIOKafkaConsumer
    producer: AIOKafkaProducer
    store: StateStore
    tail: _StateTail

    async def close(self) -> None:
        for client in (self.consumer, self.producer, self.tail.consumer):
            with contextlib.suppress(Exception):  # closing after a failure may fail again
                await client.stop()


class KafkaRouter:
    """Consumes every partner's inbound topic and runs each batch through the pipeline in a transaction."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        retry: RetrySettings,
        layout: TopicLayout,
        registry: PartnerRegistry,
        pipeline: Pipeline,
    ) -> None:
        self._kafka = kafka
        self._retry = retry
        self._layout = layout
        self._registry = registry
        self._pipeline = pipeline
        self._ready = asyncio.Event()

    @property
    def ready(self) -> asyncio.Event:
        """Set once topics exist, the state is loaded and the consumer has its partitions."""
        return self._ready

    @property
    def transactional_id(self) -> str:
        """Stable per instance, so a restart fences and aborts its predecessor's open transaction."""
        return f"{self._kafka.group_id}-{self._kafka.instance_id}"

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; transient Kafka failures are retried, never fatal."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((KafkaError, OSError, TimeoutError)),
            wait=wait_exponential_jitter(
                initial=self._retry.initial_seconds, max=self._retry.max_seconds
            ),
            before_sleep=_log_retry,
            reraise=True,
        ):
            with attempt:
                session = await self._open()
                try:
                    await self._loop(session, stop)
                finally:
                    self._ready.clear()
                    await session.close()

    async def _open(self) -> _Session:
        await ensure_topics(self._kafka, self._layout, self._registry)
        store, tail = await load_state(self._kafka, self._layout)
        producer = AIOKafkaProducer(
            **kafka_client_options(self._kafka),
            transactional_id=self.transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )
        consumer = AIOKafkaConsumer(
            *[self._layout.inbound(p.id) for p in self._registry],
            **kafka_client_options(self._kafka),
            group_id=self._kafka.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        session = _Session(consumer, producer, store, tail)
        try:
            await producer.start()
            await consumer.start()
        except BaseException:
            await session.close()
            raise
        _log.info("router_started", transactional_id=self.transactional_id)
        return session

    async def _loop(self, session: _Session, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await session.consumer.getmany(
                timeout_ms=200, max_records=self._kafka.max_batch
            )
            if session.consumer.assignment():
                self._ready.set()
            if not batch:
                continue
            try:
                await self._process_batch(session, batch)
            except BaseException:
                # The transaction was aborted: rewind so the batch is read again, in order.
                with contextlib.suppress(Exception):
                    await session.consumer.seek_to_committed(*batch.keys())
                raise

    async def _process_batch(
        self, session: _Session, batch: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        started = time.monotonic()
        await session.tail.catch_up(session.store)
        overlay = session.store.overlay()
        out: list[OutRecord] = []
        for records in batch.values():
            for record in records:
                out.extend(self._pipeline.handle(_inbound(record), overlay))
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        async with session.producer.transaction():
            sends = [
                await session.producer.send(
                    r.topic, value=r.value, key=r.key, headers=list(r.headers)
                )
                for r in out
            ]
            await session.producer.send_offsets_to_transaction(offsets, self._kafka.group_id)
        await asyncio.gather(*sends)  # acknowledged by the commit; surfaces any send error
        overlay.commit()
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)
        _log.debug("batch_committed", records=sum(len(r) for r in batch.values()), count=len(out))


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    _log.warning(
        "router_retrying",
        attempt=state.attempt_number,
        exc_type=type(error).__name__ if error else None,
        delay_seconds=round(state.upcoming_sleep, 2),
    )


def _inbound(record: ConsumerRecord[bytes, bytes]) -> InboundRecord:
    return InboundRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers),
    )
