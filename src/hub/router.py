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
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.protocol.metadata import MetadataRequest
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from hub.connectors.registry import PartnerRegistry
from hub.kafka_clients import client_options, router_transactional_id, topic_partitions
from hub.kafka_errors import KafkaFailure, KafkaMisconfigured, classify
from hub.observability import metrics
from hub.observability.logging import get_logger
from hub.pipeline import InboundRecord, OutRecord, Pipeline
from hub.routing.retention import expired_keys, legacy_keys
from hub.settings import KafkaSettings, PrivacySettings, RetrySettings
from hub.state.store import StateStore
from hub.topics import TopicLayout

__all__ = ["KafkaMisconfigured", "KafkaRouter", "ensure_topics", "load_state"]

Batch = Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


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
    admin = AIOKafkaAdminClient(**client_options(settings))
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
                response = await admin.create_topics(missing)
                for _topic, code, *_ in response.topic_errors:
                    if code not in (0, TopicAlreadyExistsError.errno):
                        # e.g. TopicAuthorizationFailed: classified (and not retried) above.
                        raise for_code(code)()
            await _wait_for_leaders(admin, [t.name for t in missing])
            _log.info("topics_created", topics=[t.name for t in missing])
        try:
            await _warn_of_create_time(admin, [layout.inbound(p.id) for p in registry])
        except Exception as exc:  # advisory only: never what stops the hub from starting
            _log.warning("inbound_topics_create_time_unknown", exc_type=type(exc).__name__)
    finally:
        await admin.close()


async def _warn_of_create_time(admin: AIOKafkaAdminClient, inbound: list[str]) -> None:
    """Name inbound topics whose records carry the sender's time, not the broker's.

    The hub creates them with LogAppendTime, but leaves existing topics alone (an
    operator's own settings; Kafka has no safe single-key change over this client). On
    those, receipt falls back to the hub's clock when the router handles a record.
    """
    described = await admin.describe_configs(
        [
            ConfigResource(ConfigResourceType.TOPIC, topic, {"message.timestamp.type": None})
            for topic in inbound
        ]
    )
    create_time = [
        name
        for response in described
        for _code, _message, _type, name, entries in response.resources
        for key, value, *_ in entries
        if key == "message.timestamp.type" and value != "LogAppendTime"
    ]
    if create_time:
        _log.warning("inbound_topics_create_time", topics=create_time, count=len(create_time))


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    """Wait until every broker lists new topics with a leader for each partition.

    A client that asks a broker which does not list a topic yet (right after it was
    created, metadata travels to each broker on its own) does not ask again for
    ``metadata.max.age.ms``, five minutes: a consumer group would leave that topic
    unread until then. So every broker is asked, not one. aiokafka 0.14 has no public
    per-node metadata call; the admin client's node request is used.
    """
    deadline = time.monotonic() + 30
    request = MetadataRequest(topics)
    while time.monotonic() < deadline:
        nodes = [broker.nodeId for broker in admin._client.cluster.brokers()]
        listed = [
            (await admin._send_request_to_node(node, request)).to_object()["topics"]
            for node in nodes
        ]
        if nodes and all(_led(described) for described in listed):
            return
        await asyncio.sleep(0.1)
    raise KafkaError("new topics have no partition leaders yet")


def _led(described: list[dict[str, Any]]) -> bool:
    """Every topic in one broker's metadata answer is known and each partition has a leader."""
    return all(
        t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
        for t in described
    )


@dataclass
class _Changelogs:
    """A group-less reader of the compacted changelogs (state, held), caught up before each batch.

    One consumer serves both topics; each record is applied to the store of its topic.
    """

    consumer: AIOKafkaConsumer
    partitions: list[TopicPartition]
    stores: dict[str, StateStore]

    async def catch_up(self, limit_seconds: float = 30.0) -> int:
        """Apply every committed change up to the current last stable offsets; returns how many."""
        ends = await self.consumer.end_offsets(self.partitions)
        applied = 0
        deadline = time.monotonic() + limit_seconds
        while any([await self.consumer.position(tp) < end for tp, end in ends.items()]):
            if time.monotonic() > deadline:
                raise TimeoutError("changelog catch-up took too long")
            batch = await self.consumer.getmany(*self.partitions, timeout_ms=200)
            for tp, records in batch.items():
                self.stores[tp.topic].apply({_key(r): _value(r) for r in records})
                applied += len(records)
        metrics.STATE_KEYS.set(sum(len(store) for store in self.stores.values()))
        return applied


def _key(record: ConsumerRecord[bytes, bytes]) -> str:
    return (record.key or b"").decode()


def _value(record: ConsumerRecord[bytes, bytes]) -> Mapping[str, Any] | None:
    return None if record.value is None else json.loads(record.value)


async def load_state(settings: KafkaSettings, layout: TopicLayout) -> _Changelogs:
    """Rebuild the routing state and the held content from their changelogs; keep reading them."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    admin = AIOKafkaAdminClient(**client_options(settings))
    await consumer.start()
    try:
        await admin.start()
        topics = (layout.state, layout.held)
        partitions = [tp for topic in topics for tp in await topic_partitions(admin, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        changelogs = _Changelogs(consumer, partitions, {t: StateStore() for t in topics})
        applied = await changelogs.catch_up(limit_seconds=300.0)
    except BaseException:
        await consumer.stop()
        raise
    finally:
        await admin.close()
    _log.info("state_loaded", records=applied, count=len(changelogs.stores[layout.state]))
    return changelogs


@dataclass
class _Session:
    """The clients of one run of the router; rebuilt from scratch after a transient failure."""

    consumer: AIOKafkaConsumer
    producer: AIOKafkaProducer
    changelogs: _Changelogs
    state: StateStore
    held: StateStore

    async def close(self) -> None:
        for client in (self.consumer, self.producer, self.changelogs.consumer):
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
        producer = AIOKafkaProducer(
            **client_options(self._kafka),
            transactional_id=self.transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )
        consumer = AIOKafkaConsumer(
            *[self._layout.inbound(p.id) for p in self._registry],
            **client_options(self._kafka),
            group_id=self._kafka.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        session = _Session(
            consumer,
            producer,
            changelogs,
            changelogs.stores[self._layout.state],
            changelogs.stores[self._layout.held],
        )
        try:
            await producer.start()
            await consumer.start()
        except BaseException:
            await session.close()
            raise
        _log.info("router_started", transactional_id=self.transactional_id)
        return session

    async def _loop(self, session: _Session, stop: asyncio.Event) -> None:
        next_sweep = 0.0  # at start, then every retention_sweep_seconds
        while not stop.is_set():
            if time.monotonic() >= next_sweep:
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
                await self._process_batch(session, batch)
            except BaseException:
                # The transaction was aborted: rewind so the batch is read again, in order.
                with contextlib.suppress(Exception):
                    await session.consumer.seek_to_committed(*batch.keys())
                raise

    async def _process_batch(self, session: _Session, batch: Batch) -> None:
        """Handle a batch in one transaction; a record Kafka refuses is isolated, not retried."""
        started = time.monotonic()
        await session.changelogs.catch_up()
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

    async def _commit_alone(
        self, session: _Session, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]
    ) -> None:
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


def _inbound(record: ConsumerRecord[bytes, bytes]) -> InboundRecord:
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
