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
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import Counter
from pydantic import ValidationError

from hub.audit.record import DeliveryAttempt, DisclosureRecord, read_log_record
from hub.audit.store import DisclosureStore, open_store
from hub.kafka import adopt_committed_offsets, faststream_batch_consumer, hub_group
from hub.observability.logging import get_logger
from hub.settings import AuditSettings, KafkaSettings
from hub.topics import TopicLayout

__all__ = ["AuditFeed", "audit_group", "split_records"]

_log = get_logger()

RECORDS_STORED = Counter(
    "hub_audit_records_stored_total",
    "Disclosure-log records copied into the audit store.",
    ["kind"],
)
RECORDS_INVALID = Counter(
    "hub_audit_records_invalid_total", "Disclosure-log records the audit store could not read."
)


def split_records(
    values: Sequence[Mapping[str, Any]],
) -> tuple[list[DisclosureRecord], list[DeliveryAttempt]]:
    """Parse a batch of log records into disclosures and delivery attempts; unreadable ones are counted and logged."""
    disclosures: list[DisclosureRecord] = []
    attempts: list[DeliveryAttempt] = []
    for value in values:
        try:
            record = read_log_record(value)
        except (ValidationError, AttributeError):
            # Written by the hub itself, so this is a bug, not partner input: the topic
            # keeps the record; the store copy goes on without it and operators are told.
            RECORDS_INVALID.inc()
            _log.error("audit_record_invalid")
            continue
        if isinstance(record, DeliveryAttempt):
            attempts.append(record)
        else:
            disclosures.append(record)
    return disclosures, attempts


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
    ) -> None:
        self._kafka = kafka
        self._audit = audit
        self._topic = layout.disclosures
        self._group = group_id or audit_group(kafka)
        self._adopt = group_id is None  # a group of the caller's own has no predecessor
        self._retry_seconds = retry_seconds
        self._broker = faststream_batch_consumer(
            kafka, layout.disclosures, group_id=self._group, handler=self._handle
        )
        # The store's connection lives on one thread (sqlite3 objects are thread-bound);
        # running it there keeps blocking database calls off the event loop.
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="audit-store")
        self._store: DisclosureStore | None = None
        self.stored = 0

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _write(self, disclosures: list[DisclosureRecord], attempts: list[DeliveryAttempt]) -> int:
        if self._store is None:
            self._store = open_store(self._audit.store_url)
        added = self._store.add(disclosures)
        # Attempts after their disclosure: a batch may hold both, in log order.
        added += self._store.add_attempts(attempts)
        return added

    def _drop_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                store.close()

    async def _handle(self, values: list[dict[str, Any]]) -> None:
        disclosures, attempts = split_records(values)
        try:
            await self._call(self._write, disclosures, attempts)
        except Exception:
            _log.exception("audit_store_unavailable")
            # A connection that broke stays broken (psycopg does not reconnect): open a
            # new one for the next try.
            await self._call(self._drop_store)
            await asyncio.sleep(self._retry_seconds)  # no hot loop while the store is down
            raise  # NACK: the batch is rewound and read again
        RECORDS_STORED.labels(kind="disclosure").inc(len(disclosures))
        RECORDS_STORED.labels(kind="attempt").inc(len(attempts))
        self.stored += len(disclosures) + len(attempts)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set."""
        if self._adopt:
            # The feed's group was ``hub-audit`` before it carried the prefix and group id.
            await adopt_committed_offsets(
                self._kafka, legacy_group="hub-audit", group=self._group, topics=[self._topic]
            )
        await self._broker.start()
        try:
            await stop.wait()
        finally:
            await self._broker.stop()
            if self._store is not None:
                await self._call(self._store.close)
            self._pool.shutdown(wait=True)
