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
- Several instances share the state: before each batch an instance that holds only some
  inbound partitions catches up with the state changelog up to its last stable offset, so
  every transaction committed before the batch started (including other instances') is
  visible. A partner's reply can only follow a delivery, and a delivery is committed
  together with its state, so causal order holds across instances. An instance that holds
  every inbound partition is the only writer, so it catches up once after each
  assignment and then not before every batch (``_Ownership``, docs/state.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from hub.connectors.registry import PartnerRegistry
from hub.kafka import (
    Consumer,
    KafkaFailure,
    KafkaMisconfigured,
    Producer,
    RebalanceListener,
    Record,
    TopicPartition,
    classify,
    consumer,
    producer,
    router_transactional_id,
)
from hub.kafka.changelog import CompactedReader
from hub.kafka.topics import create_topics
from hub.observability import metrics
from hub.observability.logging import get_logger
from hub.pipeline import InboundRecord, OutRecord, Pipeline
from hub.routing.retention import expired_keys, legacy_keys
from hub.settings import KafkaSettings, PrivacySettings, RetrySettings
from hub.state.store import StateStore
from hub.topics import TopicLayout

__all__ = ["KafkaMisconfigured", "KafkaRouter", "ensure_topics", "load_state"]

Batch = Mapping[TopicPartition, list[Record]]


def _is_about_a_record(exc: BaseException) -> bool:
    """Kafka refuses a record, or the hub's own code fails on one: retrying cannot help."""
    return classify(exc) in (KafkaFailure.RECORD_REJECTED, None)


def _is_retryable(exc: BaseException) -> bool:
    return classify(exc) in (KafkaFailure.TRANSIENT, KafkaFailure.PRODUCER_BROKEN)


_log = get_logger()
_LOG_APPEND_TIME = 1  # a record's timestamp_type when the broker stamped it on append


async def ensure_topics(
    settings: KafkaSettings, layout: TopicLayout, registry: PartnerRegistry
) -> None:
    """Create every topic the hub needs that does not exist yet; existing ones are left alone."""
    await create_topics(
        settings,
        layout.all_topics(registry, settings),
        append_time=[layout.inbound(p.id) for p in registry],
    )


class _Changelogs:
    """The compacted changelogs (state, held), each applied to its store, caught up on demand."""

    def __init__(self, kafka: KafkaSettings, topics: tuple[str, ...]) -> None:
        self.stores = {topic: StateStore() for topic in topics}
        self._reader = CompactedReader(kafka, topics, self._apply)

    def _apply(self, tp: TopicPartition, records: list[Record]) -> None:
        self.stores[tp.topic].apply({_key(r): _value(r) for r in records})

    async def open(self) -> int:
        """Read both changelogs to their end; returns how many records were applied."""
        await self._reader.open()
        return await self.catch_up(limit_seconds=300.0)

    async def catch_up(self, limit_seconds: float = 30.0) -> int:
        """Apply every committed change up to the current last stable offsets; returns how many."""
        applied = await self._reader.catch_up(limit_seconds)
        metrics.STATE_KEYS.set(sum(len(store) for store in self.stores.values()))
        return applied

    async def close(self) -> None:
        await self._reader.close()


def _key(record: Record) -> str:
    return (record.key or b"").decode()


def _value(record: Record) -> Mapping[str, Any] | None:
    return None if record.value is None else json.loads(record.value)


async def load_state(settings: KafkaSettings, layout: TopicLayout) -> _Changelogs:
    """Rebuild the routing state and the held content from their changelogs; keep reading them."""
    changelogs = _Changelogs(settings, (layout.state, layout.held))
    try:
        applied = await changelogs.open()
    except BaseException:
        await changelogs.close()
        raise
    _log.info("state_loaded", records=applied, count=len(changelogs.stores[layout.state]))
    return changelogs


class _Ownership(RebalanceListener):  # type: ignore[misc]
    """Tracks whether this instance alone consumes the inbound topics, and when to catch up.

    The rule (docs/state.md): only the instance that holds an inbound partition writes the
    changelog entries of that partition's events, and only an instance holding
    partitions sweeps retention. So while this instance holds every partition of every
    inbound topic, nobody else writes the changelogs and its own state is current: no
    catch-up before a batch. After any assignment change it catches up once; while it
    holds only some partitions it catches up before every batch. A revocation waits for
    the batch or sweep in progress, so its transaction is committed before another
    instance is given the partitions (and catches up).
    """

    def __init__(self, inbound: list[str]) -> None:
        self._inbound = inbound
        self.consumer: Consumer | None = None
        self.sole = False
        self.stale = True
        self.writing = asyncio.Lock()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.writing:
            self.sole = False
            self.stale = True

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.stale = True
        self.sole = self._holds_all(set(assigned))
        _log.info("router_assigned", count=len(assigned), sole=self.sole)

    def _holds_all(self, assigned: set[TopicPartition]) -> bool:
        if self.consumer is None:
            return False
        every: set[TopicPartition] = set()
        for topic in self._inbound:
            known = self.consumer.partitions_for_topic(topic)
            if not known:
                return False  # not in this client's metadata yet: assume others exist
            every.update(TopicPartition(topic, p) for p in known)
        return every <= assigned


@dataclass
class _Session:
    """The clients of one run of the router; rebuilt from scratch after a transient failure."""

    consumer: Consumer
    producer: Producer
    changelogs: _Changelogs
    state: StateStore
    held: StateStore
    ownership: _Ownership

    async def close(self) -> None:
        for close in (self.consumer.stop, self.producer.stop, self.changelogs.close):
            with contextlib.suppress(Exception):  # closing after a failure may fail again
                await close()


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
        privacy: PrivacySettings | None = None,
    ) -> None:
        self._kafka = kafka
        self._retry = retry
        self._layout = layout
        self._registry = registry
        self._pipeline = pipeline
        self._privacy = privacy or PrivacySettings()
        self._ready = asyncio.Event()

    @property
    def ready(self) -> asyncio.Event:
        """Set once topics exist, the state is loaded and the consumer has its partitions."""
        return self._ready

    @property
    def transactional_id(self) -> str:
        """Stable per instance, so a restart fences and aborts its predecessor's open transaction."""
        return router_transactional_id(self._kafka)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; transient Kafka failures are retried, never fatal."""
        async for attempt in AsyncRetrying(
            # Only what a retry can cure; a broken producer is cured by the new session.
            retry=retry_if_exception(_is_retryable),
            # multiplier, not initial: tenacity 9.2 deprecates a non-default initial.
            wait=wait_exponential_jitter(
                multiplier=self._retry.initial_seconds,
                max=self._retry.max_seconds,
                jitter=self._retry.initial_seconds,
            ),
            before_sleep=_log_retry,
            reraise=True,
        ):
            with attempt:
                session = await self._open_or_stop()
                try:
                    await self._loop(session, stop)
                except Exception as exc:
                    if classify(exc) is KafkaFailure.MISCONFIGURED:
                        raise KafkaMisconfigured(exc) from exc
                    raise
                finally:
                    self._ready.clear()
                    await session.close()

    async def _open_or_stop(self) -> _Session:
        try:
            return await self._open()
        except Exception as exc:
            if classify(exc) is KafkaFailure.MISCONFIGURED:
                raise KafkaMisconfigured(exc) from exc
            raise

    async def _open(self) -> _Session:
        await ensure_topics(self._kafka, self._layout, self._registry)
        changelogs = await load_state(self._kafka, self._layout)
        writer = producer(self._kafka, transactional_id=self.transactional_id)
        inbound = [self._layout.inbound(p.id) for p in self._registry]
        ownership = _Ownership(inbound)
        reader = consumer(
            self._kafka,
            group_id=self._kafka.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        ownership.consumer = reader
        session = _Session(
            reader,
            writer,
            changelogs,
            changelogs.stores[self._layout.state],
            changelogs.stores[self._layout.held],
            ownership,
        )
        try:
            await writer.start()
            await reader.start()
            reader.subscribe(inbound, listener=ownership)
        except BaseException:
            await session.close()
            raise
        _log.info("router_started", transactional_id=self.transactional_id)
        return session

    async def _loop(self, session: _Session, stop: asyncio.Event) -> None:
        next_sweep = 0.0  # at start, then every retention_sweep_seconds
        while not stop.is_set():
            # Only while holding partitions (docs/state.md): an instance without any must not
            # write the changelogs behind the back of one that holds them all.
            if time.monotonic() >= next_sweep and session.consumer.assignment():
                async with session.ownership.writing:
                    await _forget_expired(session, self._layout, self._kafka, self._privacy)
                next_sweep = time.monotonic() + self._privacy.retention_sweep_seconds
            batch = await session.consumer.getmany(
                timeout_ms=200, max_records=self._kafka.max_batch
            )
            if session.consumer.assignment():
                self._ready.set()
            if not batch:
                continue
            try:
                async with session.ownership.writing:
                    await self._process_batch(session, batch)
            except BaseException:
                # The transaction was aborted: rewind so the batch is read again, in order.
                with contextlib.suppress(Exception):
                    await session.consumer.seek_to_committed(*batch.keys())
                raise

    async def _process_batch(self, session: _Session, batch: Batch) -> None:
        """Handle a batch in one transaction; a record Kafka refuses is isolated, not retried."""
        started = time.monotonic()
        ownership = session.ownership
        if ownership.stale or not ownership.sole:
            # Cleared before the round trip: a rebalance meanwhile sets it again.
            ownership.stale = False
            await session.changelogs.catch_up(limit_seconds=300.0 if ownership.sole else 30.0)
        try:
            await self._commit(session, batch)
        except Exception as exc:
            if not _is_about_a_record(exc):
                raise
            # Retrying the batch would fail the same way and block every partner: find the
            # record Kafka refuses (or the hub cannot write) with one record per transaction.
            _log.warning("batch_record_rejected", exc_type=type(exc).__name__)
            for tp, records in batch.items():
                for record in records:
                    await self._commit_alone(session, tp, record)
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)

    async def _commit(self, session: _Session, batch: Batch) -> None:
        """Run every record through the pipeline and commit the output with the offsets."""
        state, held = session.state.overlay(), session.held.overlay()
        out: list[OutRecord] = []
        for records in batch.values():
            for record in records:
                out.extend(self._pipeline.handle(_inbound(record), state, held))
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        await self._write(session, out, offsets)
        state.commit()
        held.commit()
        _log.debug("batch_committed", records=sum(len(r) for r in batch.values()), count=len(out))

    async def _commit_alone(self, session: _Session, tp: TopicPartition, record: Record) -> None:
        """One record in its own transaction; if Kafka refuses its output, dead-letter it."""
        state, held = session.state.overlay(), session.held.overlay()
        inbound = _inbound(record)
        offsets = {tp: record.offset + 1}
        try:
            await self._write(session, self._pipeline.handle(inbound, state, held), offsets)
        except Exception as exc:
            if not _is_about_a_record(exc):
                raise
            # Its state changes are dropped with the overlay: the event had no effect.
            await self._write(session, self._pipeline.refused(inbound, exc), offsets)
            return
        state.commit()
        held.commit()

    async def _write(
        self, session: _Session, out: list[OutRecord], offsets: dict[TopicPartition, int]
    ) -> None:
        async with session.producer.transaction():
            sends = [
                await session.producer.send(
                    r.topic, value=r.value, key=r.key, headers=list(r.headers)
                )
                for r in out
            ]
            # Inside the transaction: aiokafka commits even when the broker refused one of
            # its records (only that send's future fails), so a refusal must abort it here.
            await asyncio.gather(*sends)
            await session.producer.send_offsets_to_transaction(offsets, self._kafka.group_id)


async def _forget_expired(
    session: _Session, layout: TopicLayout, kafka: KafkaSettings, privacy: PrivacySettings
) -> int:
    """Tombstone the routing state whose retention ran out, in a transaction of its own.

    Values written before retention counted from receipt carry no receipt date; they are
    stamped with today instead of being judged by the sender's dates (docs/state.md).
    """
    await session.changelogs.catch_up()
    today = datetime.now(UTC).date()
    keys = list(
        expired_keys(
            session.state,
            today,
            retention=timedelta(days=privacy.state_retention_days),
            seen_retention=timedelta(milliseconds=kafka.personal_retention_ms),
        )
    )
    stamped = dict(legacy_keys(session.state, today))
    if keys or stamped:
        async with session.producer.transaction():
            for key in keys:
                await session.producer.send(layout.state, key=key.encode(), value=None)
            for key, value in stamped.items():
                await session.producer.send(
                    layout.state, key=key.encode(), value=json.dumps(value).encode()
                )
        session.state.apply({**dict.fromkeys(keys), **stamped})
        _log.info("state_expired", count=len(keys), records=len(stamped))
    return len(keys)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    failure = classify(error) if error else None
    _log.warning(
        "router_retrying",
        attempt=state.attempt_number,
        exc_type=type(error).__name__ if error else None,
        failure=failure.value if failure else None,
        delay_seconds=round(state.upcoming_sleep, 2),
    )


def _inbound(record: Record) -> InboundRecord:
    return InboundRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers),
        # Receipt, not the sender's claim: the broker's append time where the topic keeps
        # it (the hub's inbound topics do), else the hub's clock when it handles the record.
        received_at=(
            datetime.fromtimestamp(record.timestamp / 1000, UTC)
            if record.timestamp_type == _LOG_APPEND_TIME
            else None
        ),
    )
