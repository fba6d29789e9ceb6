"""AuditFeed: copies the disclosure log from its Kafka topic into the queryable store.

The topic is the durable, append-only log; the store is the copy that answers "who
received what about this resident". FastStream is enough here: the feed needs
at-least-once, and the store inserts idempotently by disclosure_id and attempt_id, so a
redelivered record is one row. A batch is acknowledged only after the store took it; a
store that is down is retried (the batch is rewound), never skipped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from hub.audit.chain import Checkpoint
from hub.audit.record import DeliveryAttempt, DisclosureRecord, read_log_record
from hub.audit.store import DisclosureStore, open_store
from hub.child import ChildService
from hub.errors import AuditStoreError
from hub.kafka import (
    adopt_committed_offsets,
    faststream_batch_consumer,
    hub_group,
    stop_faststream,
)
from hub.observability.logging import get_logger
from hub.settings import AuditSettings, KafkaSettings, LoggingSettings
from hub.topics import TopicLayout

__all__ = ["AuditFeed", "AuditFeedProcess", "BatchReport", "audit_group", "split_records"]

_log = get_logger()

RECORDS_STORED = Counter(
    "hub_audit_records_stored_total",
    "Disclosure-log records copied into the audit store (new ones: a batch read again is not counted).",
    ["kind"],
)
_RECORD_TYPE = b'"record_type"'

RECORDS_INVALID = Counter(
    "hub_audit_records_invalid_total", "Disclosure-log records the audit store could not read."
)
WRITE_SECONDS = Histogram(
    "hub_audit_write_seconds",
    "Time to write one batch of disclosure-log records into the audit store.",
)
_STORED_DISCLOSURES = RECORDS_STORED.labels(kind="disclosure")
_STORED_ATTEMPTS = RECORDS_STORED.labels(kind="attempt")


class BatchReport(NamedTuple):
    """What the feed did with one batch: the figures of its metrics (no ids, no content).

    ``disclosures`` and ``attempts`` count the records new to the store: a batch read again
    (after a restart, before its offsets were committed) is not counted twice.
    """

    disclosures: int
    attempts: int
    invalid: int
    write_seconds: float


def _count(report: BatchReport, *, invalid: bool) -> None:
    _STORED_DISCLOSURES.inc(report.disclosures)
    _STORED_ATTEMPTS.inc(report.attempts)
    WRITE_SECONDS.observe(report.write_seconds)
    if invalid:
        RECORDS_INVALID.inc(report.invalid)


# Records in one batch at most; a batch of fewer means the feed has caught up.
_MAX_RECORDS: Final = 500
# A batch of fewer is followed by the next no sooner than this after it began: the store is
# a queryable copy of the topic, a second behind is nothing, and storing and committing a
# few records at a time cost more CPU per record than reading them (docs/benchmarks.md).
_MIN_ROUND_SECONDS: Final = 1.0


def split_records(
    values: Sequence[bytes],
) -> tuple[list[DisclosureRecord], list[DeliveryAttempt], list[Checkpoint]]:
    """Parse a batch of log records into disclosures, delivery attempts and chain checkpoints.

    Unreadable ones are counted and logged.
    """
    disclosures: list[DisclosureRecord] = []
    attempts: list[DeliveryAttempt] = []
    checkpoints: list[Checkpoint] = []
    for value in values:
        try:
            record = _read(value)
        except (ValidationError, ValueError, AttributeError):
            # Written by the hub itself, so this is a bug, not partner input: the topic
            # keeps the record; the store copy goes on without it and operators are told.
            RECORDS_INVALID.inc()
            _log.error("audit_record_invalid")
            continue
        if isinstance(record, DeliveryAttempt):
            attempts.append(record)
        elif isinstance(record, Checkpoint):
            checkpoints.append(record)
        else:
            disclosures.append(record)
    return disclosures, attempts, checkpoints


def _read(value: bytes) -> DisclosureRecord | DeliveryAttempt | Checkpoint:
    # Most records are disclosures: parsed and validated by pydantic-core in one call, as
    # read_log_record would after a json.loads. A value that names a record type
    # (attempts do) takes read_log_record's way.
    if _RECORD_TYPE in value:
        return read_log_record(json.loads(value))
    return DisclosureRecord.model_validate_json(value)


def audit_group(kafka: KafkaSettings) -> str:
    """The feed's consumer group, ``<prefix>.<group id>.audit``: one per deployment."""
    return hub_group(kafka, "audit")


class AuditFeed:
    """A FastStream consumer of the disclosure topic (built by the Kafka seam) that writes into the audit store."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        audit: AuditSettings,
        layout: TopicLayout,
        group_id: str | None = None,
        retry_seconds: float = 2.0,
        on_batch: Callable[[BatchReport], None] | None = None,
        min_round_seconds: float = _MIN_ROUND_SECONDS,
    ) -> None:
        self._kafka = kafka
        self._audit = audit
        self._topic = layout.disclosures
        self._group = group_id or audit_group(kafka)
        self._adopt = group_id is None  # a group of the caller's own has no predecessor
        self._retry_seconds = retry_seconds
        self._min_round_seconds = min_round_seconds
        self._stopping = asyncio.Event()
        self._broker = faststream_batch_consumer(
            kafka,
            layout.disclosures,
            group_id=self._group,
            handler=self._handle,
            max_records=_MAX_RECORDS,
        )
        # The store's connection lives on one thread (sqlite3 objects are thread-bound);
        # running it there keeps blocking database calls off the event loop.
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="audit-store")
        self._store: DisclosureStore | None = None
        self._on_batch = on_batch
        self.stored = 0

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _write(
        self,
        disclosures: list[DisclosureRecord],
        attempts: list[DeliveryAttempt],
        checkpoints: list[Checkpoint],
    ) -> tuple[int, int]:
        """Store the batch; how many of its disclosures and of its attempts were new."""
        if self._store is None:
            self._store = open_store(self._audit.store_url)
        new_disclosures = self._store.add(disclosures)
        # Attempts after their disclosure: a batch may hold both, in log order.
        new_attempts = self._store.add_attempts(attempts)
        if checkpoints:
            self._store.add_checkpoints(checkpoints)
        return new_disclosures, new_attempts

    def _drop_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                store.close()

    async def _handle(self, values: list[bytes]) -> None:
        began = time.monotonic()
        disclosures, attempts, checkpoints = split_records(values)
        started = time.monotonic()
        try:
            new_disclosures, new_attempts = await self._call(
                self._write, disclosures, attempts, checkpoints
            )
        except Exception:
            _log.exception("audit_store_unavailable")
            # A connection that broke stays broken (psycopg does not reconnect): open a
            # new one for the next try.
            await self._call(self._drop_store)
            await asyncio.sleep(self._retry_seconds)  # no hot loop while the store is down
            raise  # NACK: the batch is rewound and read again
        report = BatchReport(
            new_disclosures,
            new_attempts,
            len(values) - len(disclosures) - len(attempts) - len(checkpoints),
            time.monotonic() - started,
        )
        if self._on_batch is None:
            _count(report, invalid=False)  # split_records counted those in this process
        else:
            self._on_batch(report)
        self.stored += len(disclosures) + len(attempts)
        if len(values) < _MAX_RECORDS:
            # Keeping up: the next batch no sooner than a round after this one began, so a
            # steady load is stored (and its offsets committed) in batches of hundreds, not
            # of the few records each fetch brings; the topic holds them meanwhile.
            with contextlib.suppress(TimeoutError):
                rest = self._min_round_seconds - (time.monotonic() - began)
                await asyncio.wait_for(self._stopping.wait(), max(rest, 0.0))

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set.

        A stop while the feed is still starting (Kafka unreachable: adopting offsets or
        joining the group is being retried) ends it at once; nothing was consumed yet.
        """
        starting = asyncio.create_task(self._start())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
                return
            starting.result()  # its failure, if it failed
            await stop.wait()
        finally:
            self._stopping.set()  # a batch waiting out its round ends it now
            stopping.cancel()
            if not starting.done():  # run() itself was cancelled
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
            await stop_faststream(self._broker)
            if self._store is not None:
                await self._call(self._store.close)
            self._pool.shutdown(wait=True)

    async def _start(self) -> None:
        if self._adopt:
            # The feed's group was ``hub-audit`` before it carried the prefix and group id.
            await adopt_committed_offsets(
                self._kafka, legacy_group="hub-audit", group=self._group, topics=[self._topic]
            )
        await self._broker.start()


class AuditFeedProcess:
    """The audit feed in a child process of its own, as `hub run` runs it (``hub.child``).

    Why a process: in the router's process the feed's SQLite inserts and JSON work took
    the GIL from the router; out of it, `hub run` drains about a quarter faster
    (docs/benchmarks.md, "Fourth pass: drain"). The child runs an ``AuditFeed``, so the
    feed's guarantees are unchanged. When the child ends on its own, ``run`` raises its
    ConfigurationError (so `hub run` stops); after any other end (AuditStoreError, with its
    exit code) the child is started again and takes up from its last commit, while the
    router goes on (``hub.child``).

    The child's metrics are counted in this process, so that `hub run` serves them on its
    one ops port: the child sends a ``BatchReport`` (four numbers) per batch.
    """

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        audit: AuditSettings,
        layout: TopicLayout,
        logging: LoggingSettings,
        stop_seconds: float = 30.0,
        nice: int = 0,
    ) -> None:
        self._child = ChildService(
            "hub-audit-feed",
            _build_feed,
            (kafka, audit, layout),
            logging=logging,
            on_report=_count_report,
            failed=lambda code: AuditStoreError(f"the audit feed's process ended with code {code}"),
            stop_seconds=stop_seconds,
            nice=nice,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Run the feed in its process until ``stop`` is set or the process ends."""
        await self._child.run(stop)


def _count_report(report: BatchReport) -> None:
    """Count one batch's report of the child's in this process's metrics."""
    _count(report, invalid=True)


def _build_feed(
    kafka: KafkaSettings,
    audit: AuditSettings,
    layout: TopicLayout,
    *,
    on_report: Callable[[BatchReport], None],
) -> AuditFeed:
    """The child's feed (a module-level function: ``spawn`` pickles it by name)."""
    return AuditFeed(kafka=kafka, audit=audit, layout=layout, on_batch=on_report)
