"""KafkaRouter: runs the pipeline on Kafka, one transaction per batch.

The Kafka half (clients, transactions, rewinds, isolating a refused record, retries) is
the seam's ``hub.kafka.transactions``; this module is the hub's half: topics, the state
changelogs, retention sweeps and the pipeline as the transform. Why a transactional
aiokafka loop and not FastStream here: FastStream 0.7 has no Kafka transactions, and the
privacy contract needs "no release without its record": the deliveries, their
disclosure records, the state changelog and the input offsets are committed together or
not at all (consume-transform-produce). FastStream serves the simpler consumers (the
audit store feed), where at-least-once plus an idempotent sink is enough.

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
import itertools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hub.connectors.registry import PartnerRegistry
from hub.kafka import (
    Consumer,
    KafkaMisconfigured,
    RebalanceListener,
    Record,
    TopicPartition,
    UnreadableRecord,
    router_transactional_id,
    tolerate_unreadable,
)
from hub.kafka.changelog import CompactedReader
from hub.kafka.topics import create_topics
from hub.kafka.transactions import TransactionalClients, session_retrying, stop_if_misconfigured
from hub.observability import metrics
from hub.observability.logging import get_logger
from hub.pipeline import InboundRecord, OutRecord, Pipeline
from hub.records import Replay
from hub.routing.retention import expired_keys, held_sweep, legacy_keys
from hub.settings import KafkaSettings, PrivacySettings, RetrySettings, StateSettings
from hub.state import DiskStore, Overlay, StateStore
from hub.topics import TopicLayout

__all__ = ["KafkaMisconfigured", "KafkaRouter", "ensure_topics", "load_state"]

_log = get_logger()
_LOG_APPEND_TIME = 1  # a record's timestamp_type when the broker stamped it on append
_SOLE_CATCH_UP_SECONDS = 30.0
# Keys the retention sweep judges per step, between batches: a few milliseconds.
_SWEEP_STEP = 2_000
# Changelog records applied per round. The other services of `hub run` share the router's
# event loop while it reads the changelogs at start: a round over a whole fetch (tens of
# thousands of records into SQLite) held them for about 0.4 s at 100,000 keys
# (docs/benchmarks.md, "Seventh pass").
_CHANGELOG_ROUND_RECORDS: Final = 500


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

    def __init__(self, kafka: KafkaSettings, topics: tuple[str, str], state: StateSettings) -> None:
        # The routing state gains a duplicate marker per event: off the heap. The held
        # content (one plan per open case) stays in memory, and so never on disk.
        self.state = DiskStore(state.directory, cached=state.cached_values)
        self.held = StateStore()
        self._state_topic = topics[0]
        self._reader = CompactedReader(kafka, topics, self._apply)

    def _apply(self, tp: TopicPartition, records: list[Record]) -> None:
        if tp.topic == self._state_topic:  # stored as the changelog's bytes: nothing to decode
            self.state.apply_encoded({_key(r): r.value for r in records})
        else:
            self.held.apply({_key(r): _value(r) for r in records})

    async def open(self) -> int:
        """Read both changelogs to their end; returns how many records were applied."""
        await self._reader.open()
        return await self.catch_up(limit_seconds=300.0)

    async def catch_up(self, limit_seconds: float = 30.0) -> int:
        """Apply every committed change up to the current last stable offsets; returns how many."""
        applied = await self._reader.catch_up(limit_seconds, _CHANGELOG_ROUND_RECORDS)
        metrics.STATE_KEYS.set(len(self.state) + len(self.held))
        return applied

    async def close(self) -> None:
        try:
            await self._reader.close()
        finally:
            self.state.close()


def _key(record: Record) -> str:
    return (record.key or b"").decode()


def _value(record: Record) -> Mapping[str, Any] | None:
    return None if record.value is None else json.loads(record.value)


async def load_state(
    settings: KafkaSettings, layout: TopicLayout, state: StateSettings | None = None
) -> _Changelogs:
    """Rebuild the routing state and the held content from their changelogs; keep reading them."""
    changelogs = _Changelogs(settings, (layout.state, layout.held), state or StateSettings())
    try:
        applied = await changelogs.open()
    except BaseException:
        await changelogs.close()
        raise
    _log.info("state_loaded", records=applied, count=len(changelogs.state))
    return changelogs


class _Ownership(RebalanceListener):  # type: ignore[misc]
    """Tracks whether this instance alone consumes the inbound topics, and when to catch up.

    The rule (docs/state.md): only the instance that holds an inbound partition writes the
    changelog entries of that partition's events, and only an instance holding
    partitions sweeps retention. So while this instance holds every partition of every
    inbound topic, nobody else writes the changelogs and its own state is current: no
    catch-up before a batch. After any assignment change it catches up once; while it
    holds only some partitions it catches up before every batch (and a sole owner every
    30 seconds, to keep that one short). A revocation waits for the batch or sweep step in
    progress, so its transaction is committed before another instance is given the
    partitions (and catches up); no sweep step follows it until partitions are assigned.
    """

    def __init__(self, inbound: list[str]) -> None:
        self._inbound = inbound
        self.consumer: Consumer | None = None
        self.sole = False
        self.stale = True
        self.holding = False  # partitions assigned and not revoked since (a sweep step's check)
        self.caught_up_at = 0.0
        self.writing = asyncio.Lock()

    def must_catch_up(self) -> bool:
        """Whether to read the changelogs before the next batch (see the class docstring)."""
        if self.stale or not self.sole:
            return True
        # Not needed for correctness: keeps the reader near its end, so that the catch-up
        # after a rebalance reads minutes of this instance's own writes, not hours.
        return time.monotonic() - self.caught_up_at > _SOLE_CATCH_UP_SECONDS

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.writing:
            self.sole = False
            self.stale = True
            self.holding = False

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.stale = True
        self.holding = bool(assigned)
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
    """The clients and state of one run of the router; rebuilt from scratch after a failure."""

    clients: TransactionalClients
    changelogs: _Changelogs
    ownership: _Ownership

    @property
    def state(self) -> DiskStore:
        return self.changelogs.state

    async def close(self) -> None:
        await self.clients.close()
        with contextlib.suppress(Exception):  # closing after a failure may fail again
            await self.changelogs.close()


@dataclass
class _Outcome:
    """The pipeline's output for some records, and the state overlays to keep once committed."""

    records: list[OutRecord]
    overlays: tuple[Overlay, ...] = ()

    def keep(self) -> None:
        for overlay in self.overlays:
            overlay.commit()


@dataclass
class _PipelineTransform:
    """The pipeline as the transactional loop's transform, over the changelogs' state."""

    pipeline: Pipeline
    state: DiskStore
    held: StateStore

    replay_topic: str

    def handle(self, records: Sequence[Record]) -> _Outcome:
        state, held = self.state.overlay(), self.held.overlay()
        inbound = [_inbound(record, self.replay_topic) for record in records]
        return _Outcome(self.pipeline.handle_batch(inbound, state, held), (state, held))

    def refused(self, record: Record, exc: BaseException) -> _Outcome:
        # No overlays: the record's state changes are dropped, it had no effect.
        return _Outcome(self.pipeline.refused(_inbound(record, self.replay_topic), exc))


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
        state: StateSettings | None = None,
    ) -> None:
        self._kafka = kafka
        self._state = state or StateSettings()
        self._retry = retry
        self._layout = layout
        self._registry = registry
        self._pipeline = pipeline
        self._privacy = privacy or PrivacySettings()
        self._ready = asyncio.Event()
        self._topics = asyncio.Event()
        self._in_session = False
        self._session: _Session | None = None

    @property
    def ready(self) -> asyncio.Event:
        """Set once topics exist, the state is loaded and the consumer has its partitions."""
        return self._ready

    @property
    def topics_exist(self) -> asyncio.Event:
        """Set once the router made sure its topics exist (it stays set: topics are not removed)."""
        return self._topics

    async def broker_answers(self) -> bool:
        """True when the cluster answers the router's own producer now (for /readyz)."""
        session = self._session
        return session is not None and await session.clients.probe()

    async def consuming(self) -> bool:
        """True once the router holds its partitions and consumes (for /readyz)."""
        return self._ready.is_set()

    async def state_rebuilt(self) -> bool:
        """True while a session runs whose routing state was rebuilt from the changelogs (for /readyz)."""
        return self._session is not None

    @property
    def transactional_id(self) -> str:
        """Stable per instance, so a restart fences and aborts its predecessor's open transaction."""
        return router_transactional_id(self._kafka)

    async def run(self, stop: asyncio.Event, *, grace_seconds: float = 10.0) -> None:
        """Run until ``stop`` is set; transient Kafka failures are retried, never fatal.

        A stop while the router opens a session or waits to retry one (Kafka unreachable)
        ends it at once: nothing is in flight then. A stop while it consumes is noticed
        within one poll, after the batch in progress is committed, and the session's
        clients are closed; a session still busy after ``grace_seconds`` (Kafka went away
        meanwhile) is cancelled, its transaction aborted and read again on the next start.
        """
        running = asyncio.create_task(self._run(stop))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not running.done():
                if self._in_session:
                    await asyncio.wait({running}, timeout=grace_seconds)
                running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        finally:
            stopping.cancel()
            if not running.done():  # run() itself was cancelled: the session still closes
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

    async def _run(self, stop: asyncio.Event) -> None:
        async for attempt in session_retrying(
            self._retry, event="router_retrying", on_retry=self._retrying
        ):
            with attempt, stop_if_misconfigured():
                session = await self._open()
                # Until the session is closed: a stop then waits (within the grace) rather
                # than cancel a close half done, which would leave the clients open.
                self._in_session = True
                try:
                    self._session = session
                    metrics.ROUTER_RETRYING.set(0)
                    await self._loop(session, stop)
                finally:
                    self._session = None
                    self._ready.clear()
                    try:
                        await session.close()
                    finally:
                        self._in_session = False

    def _retrying(self) -> None:
        metrics.ROUTER_RETRYING.set(1)
        metrics.ROUTER_RETRIES.inc()

    async def _open(self) -> _Session:
        await ensure_topics(self._kafka, self._layout, self._registry)
        self._topics.set()
        changelogs = await load_state(self._kafka, self._layout, self._state)
        # The replay topic is read as one more inbound topic (an operator's `hub dlq replay`),
        # and counts as one for who alone writes the changelogs.
        inbound = [self._layout.inbound(p.id) for p in self._registry] + [self._layout.replay]
        # A partner's record the client cannot unpack is dead-lettered by its place, not
        # a stop for every partner (hub.kafka.unreadable).
        tolerate_unreadable(self._layout.inbound_prefix)
        ownership = _Ownership(inbound)
        try:
            clients = TransactionalClients(
                self._kafka,
                topics=inbound,
                transactional_id=self.transactional_id,
                listener=ownership,
            )
            ownership.consumer = clients.consumer
            await clients.start()
        except BaseException:
            await changelogs.close()
            raise
        _log.info("router_started", transactional_id=self.transactional_id)
        return _Session(clients, changelogs, ownership)

    async def _loop(self, session: _Session, stop: asyncio.Event) -> None:
        clients, ownership = session.clients, session.ownership
        transform = _PipelineTransform(
            self._pipeline, session.state, session.changelogs.held, self._layout.replay
        )
        sweep = _Sweep(self._layout, self._kafka, self._privacy)
        while not stop.is_set():
            batch = await clients.fetch()
            # Only while holding partitions (docs/state.md): an instance without any must not
            # write the changelogs behind the back of one that holds them all. After the
            # fetch, before its batch: the consumer may join its group during the first
            # fetch and return a batch from it, which the sweep at start must precede.
            if clients.assignment():
                await sweep.step(session)
                self._ready.set()
            if not batch:
                continue
            started = time.monotonic()
            async with ownership.writing:
                if ownership.must_catch_up():
                    # Cleared before the round trip: a rebalance meanwhile sets it again.
                    ownership.stale = False
                    await session.changelogs.catch_up(
                        limit_seconds=300.0 if ownership.sole else 30.0
                    )
                    ownership.caught_up_at = time.monotonic()
                await clients.commit(batch, transform)
            metrics.BATCH_SECONDS.observe(time.monotonic() - started)
            _log.debug("batch_committed", records=sum(len(r) for r in batch.values()))


class _Sweep:
    """The retention sweep: whole at start, then every ``retention_sweep_seconds`` in steps.

    Whole at start, before the first batch, so that every value from before receipt dates
    is stamped before a batch reads it; later sweeps take one step of ``_SWEEP_STEP`` keys
    between batches, so the router is never held up for long (``_forget_expired``).
    """

    def __init__(self, layout: TopicLayout, kafka: KafkaSettings, privacy: PrivacySettings) -> None:
        self._args = (layout, kafka, privacy)
        self._interval = privacy.retention_sweep_seconds
        self._after: str | None = ""  # where the next step starts; None between sweeps
        self._next_at = 0.0
        self._whole = True
        self._counts = (0, 0)  # tombstoned and stamped by this sweep so far

    async def step(self, session: _Session) -> None:
        """The next step when a sweep is under way or due (the whole sweep at start)."""
        if self._after is None:
            if time.monotonic() < self._next_at:
                return
            self._after, self._counts = "", (0, 0)
        while self._after is not None:
            async with session.ownership.writing:
                if not session.ownership.holding:
                    # Revoked between two steps (the consumer still lists the partitions
                    # until the new assignment): go on once partitions are held again.
                    return
                self._after, expired, stamped = await _forget_expired(
                    session, *self._args, after=self._after
                )
            self._counts = (self._counts[0] + expired, self._counts[1] + stamped)
            if self._after is not None and not self._whole:
                return  # the next step after the next batch
        self._whole = False
        self._next_at = time.monotonic() + self._interval
        if any(self._counts):
            _log.info("state_expired", count=self._counts[0], records=self._counts[1])


async def _forget_expired(
    session: _Session,
    layout: TopicLayout,
    kafka: KafkaSettings,
    privacy: PrivacySettings,
    *,
    after: str,
) -> tuple[str | None, int, int]:
    """One step of the retention sweep: the next keys after ``after``, in a transaction of their own.

    Tombstones the routing state among them whose retention ran out; returns where the
    next step starts (None: the sweep is done), how many were tombstoned and stamped. In steps,
    because one pass over the whole state held the router's event loop for about a second
    per 300,000 keys (docs/benchmarks.md, "Seventh pass"). Values written before retention
    counted from receipt carry no receipt date; they are stamped with today instead of
    being judged by the sender's dates (docs/state.md).
    """
    if not after or not session.ownership.sole or session.ownership.stale:
        # Others' writes first (another instance may hold partitions), as a batch would.
        await session.changelogs.catch_up()
    today = datetime.now(UTC).date()
    entries = list(itertools.islice(session.state.scan(after=after), _SWEEP_STEP))
    keys = list(
        expired_keys(
            session.state,
            today,
            retention=timedelta(days=privacy.state_retention_days),
            seen_retention=timedelta(milliseconds=kafka.personal_retention_ms),
            entries=entries,
        )
    )
    stamped = dict(legacy_keys(session.state, today, entries=entries))
    # The held plans (one per open case, far fewer than the state's keys) in the first step.
    held_expired, held_stamped = (
        held_sweep(
            session.changelogs.held,
            today,
            retention=timedelta(milliseconds=kafka.personal_retention_ms),
        )
        if not after
        else ([], {})
    )
    if keys or stamped or held_expired or held_stamped:
        await session.clients.write(
            [OutRecord(layout.state, key.encode(), None) for key in keys]
            + [
                OutRecord(layout.state, key.encode(), json.dumps(value).encode())
                for key, value in stamped.items()
            ]
            + [OutRecord(layout.held, key.encode(), None) for key in held_expired]
            + [
                OutRecord(layout.held, key.encode(), json.dumps(value).encode())
                for key, value in held_stamped.items()
            ]
        )
        session.state.apply({**dict.fromkeys(keys), **stamped})
        session.changelogs.held.apply({**dict.fromkeys(held_expired), **held_stamped})
    expired = len(keys) + len(held_expired)
    return (
        (entries[-1][0] if len(entries) == _SWEEP_STEP else None),
        expired,
        len(stamped) + len(held_stamped),
    )


def _inbound(record: Record, replay_topic: str) -> InboundRecord:
    """The pipeline's view of a record; a replayed one is its sender's original, at its origin."""
    topic, partition, offset = record.topic, record.partition, record.offset
    headers, replays, replay_of = tuple(record.headers), 0, None
    if topic == replay_topic:
        replay, headers = Replay.split(record.headers)
        if replay is not None:
            # The origin names the sending partner's inbound topic: the replay topic is
            # written by operators only (ACLs), so the header is trusted as that topic is.
            topic, partition, offset = replay.topic, replay.partition, replay.offset
            replays, replay_of = replay.count, replay.of
    return InboundRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        key=record.key,
        value=record.value,
        headers=headers,
        replays=replays,
        replay_of=replay_of,
        unreadable=record.problem if isinstance(record, UnreadableRecord) else None,
        # Receipt, not the sender's claim: the broker's append time where the topic keeps
        # it (the hub's inbound topics do), else the hub's clock when it handles the record.
        received_at=(
            datetime.fromtimestamp(record.timestamp / 1000, UTC)
            if record.timestamp_type == _LOG_APPEND_TIME
            else None
        ),
    )
