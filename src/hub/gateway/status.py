"""What became of an event, for its sender: the router's status records plus this gateway's own.

The router writes one record per processed event to the compacted status topic
(``hub.records.StatusRecord``), keyed ``"<source> <id>"`` (UTF-8), valued JSON::

    {"event_id": ..., "source": ..., "partner": "gp-de-linde", "type": ...,
     "status": "delivered" | "dead-lettered", "codes": [...],
     "recipients": ["swt-zwolle"], "withheld": [], "at": "2026-...+00:00",
     "errors": [{"path": ..., "code": ..., "message": ...}]}

``StatusTail`` reads that topic from the beginning with a group-less ``read_committed``
consumer and keeps following it into a ``StatusBook`` in memory. The book also remembers
the events this gateway produced, so an event accepted but not yet processed reads
``accepted``, and a resend of it is answered without producing it again.

A partner sees only its own events: the key is built from the authenticated partner's
source and the record must name that partner, so another partner's id answers exactly as
an unknown one (404).
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from hub.background import BackgroundTask
from hub.connectors.registry import Partner
from hub.kafka import Record, TopicPartition, is_kafka_failure, kafka_retrying
from hub.kafka.changelog import CompactedReader
from hub.observability.logging import get_logger
from hub.records import StatusRecord
from hub.settings import KafkaSettings, RetrySettings

__all__ = ["EventStatus", "StatusBook", "StatusTail", "status_key"]


_RETRY = RetrySettings(initial_seconds=0.5, max_seconds=10.0)
# Records taken into the book per round. The tail shares the gateway's event loop: a round
# over everything its consumer held (a whole fetch of a large status topic, tens of
# thousands of small records) kept every request waiting for about a third of a second at
# 200,000 statuses (docs/benchmarks.md, "Seventh pass").
_ROUND_RECORDS: Final = 500


def status_key(source: str, event_id: str) -> str:
    """The status topic's key for an event (as the router writes it)."""
    return f"{source} {event_id}"


@dataclass(frozen=True, slots=True)
class EventStatus:
    """What became of one event: ids and codes only, never data."""

    status: str  # accepted | delivered | dead-lettered (a resend changes none of them)
    partner: str | None
    codes: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    at: str | None = None
    errors: tuple[tuple[str, str, str], ...] = ()

    def as_dict(self, event_id: str) -> dict[str, Any]:
        """The body of GET /events/{id}."""
        return {
            "id": event_id,
            "status": self.status,
            "codes": list(self.codes),
            "recipients": list(self.recipients),
            "withheld": list(self.withheld),
            "at": self.at,
            "errors": [
                {"path": path, "code": code, "message": message}
                for path, code, message in self.errors
            ],
        }


def _parse(value: bytes) -> EventStatus | None:
    record = StatusRecord.from_json(value)
    if record is None:
        return None
    return EventStatus(
        status=record.status,
        partner=record.partner,
        codes=record.codes,
        recipients=record.recipients,
        withheld=record.withheld,
        at=record.at,
        errors=record.errors,
    )


class StatusBook:
    """In-memory status per "<source> <id>": the router's records and this gateway's acceptances.

    Both parts are bounded; the oldest entries are dropped first. A dropped router record
    answers 404 until the gateway restarts and reads the topic again.
    """

    def __init__(self, *, max_records: int, recent_ids: int) -> None:
        self._records: OrderedDict[str, EventStatus] = OrderedDict()
        self._accepted: OrderedDict[str, str] = OrderedDict()
        self._max_records = max_records
        self._recent_ids = recent_ids

    def __len__(self) -> int:
        return len(self._records)

    def apply(self, key: str, value: bytes | None) -> bool:
        """Apply one status-topic record (None deletes); False when the value is unreadable."""
        if value is None:
            self._records.pop(key, None)
            return True
        status = _parse(value)
        if status is None:
            return False
        self._records[key] = status
        self._records.move_to_end(key)
        while len(self._records) > self._max_records:
            self._records.popitem(last=False)
        return True

    def mark_accepted(self, key: str, partner_id: str) -> None:
        """Remember that this gateway produced the event and Kafka acknowledged it."""
        if self._recent_ids == 0:
            return
        self._accepted[key] = partner_id
        self._accepted.move_to_end(key)
        while len(self._accepted) > self._recent_ids:
            self._accepted.popitem(last=False)

    def seen(self, key: str) -> bool:
        """True when the event was accepted here or the router has processed it."""
        return key in self._accepted or key in self._records

    def lookup(self, partner: Partner, event_id: str) -> EventStatus | None:
        """The status of this partner's event, or None when unknown or not the partner's."""
        key = status_key(partner.source, event_id)
        record = self._records.get(key)
        if record is not None:
            # The source in the key is the sender's claim; the partner is the router's finding.
            return record if record.partner == partner.id else None
        if self._accepted.get(key) == partner.id:
            return EventStatus(status="accepted", partner=partner.id)
        return None


class StatusTail:
    """Follows the status topic into a StatusBook; reconnects with backoff, never fails."""

    def __init__(self, kafka: KafkaSettings, topic: str, book: StatusBook) -> None:
        self._kafka = kafka
        self._topic = topic
        self._book = book
        self._task = BackgroundTask("gateway-status-tail", self._run)
        self._caught_up = asyncio.Event()

    @property
    def caught_up(self) -> asyncio.Event:
        """Set once the tail has read up to the topic's end at least once."""
        return self._caught_up

    async def start(self) -> None:
        """Start following in the background; returns at once."""
        self._task.start()

    async def stop(self) -> None:
        """Stop following."""
        await self._task.stop()

    async def _run(self) -> None:
        async for attempt in kafka_retrying(
            _RETRY,
            event="gateway_status_tail_retrying",
            doing="following the status topic",
            # Everything: a bug must not end the tail silently (statuses would freeze).
            retry_on=lambda exc: isinstance(exc, Exception),
            topic=self._topic,
        ):
            with attempt:
                try:
                    await self._follow()
                except Exception as exc:
                    if not is_kafka_failure(exc):
                        get_logger().error("gateway_status_tail_failed", exc_info=exc)
                    raise

    async def _follow(self) -> None:
        # Raises KafkaError (retried) until the router has created the topic.
        reader = CompactedReader(self._kafka, [self._topic], self._apply)
        try:
            await reader.open()
            if not self._caught_up.is_set():
                await reader.catch_up(limit_seconds=math.inf, max_records=_ROUND_RECORDS)
                self._caught_up.set()
                get_logger().info("gateway_status_loaded", topic=self._topic, count=len(self._book))
            while True:
                await reader.follow(max_records=_ROUND_RECORDS)
        finally:
            await reader.close()

    def _apply(self, _tp: TopicPartition, records: list[Record]) -> None:
        for record in records:
            key = (record.key or b"").decode("utf-8", "replace")
            if not self._book.apply(key, record.value):
                get_logger().warning(
                    "status_record_unreadable",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
