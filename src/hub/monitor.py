"""LagMonitor: the backlog gauges of `hub run`, derived from Kafka every interval.

What another consumer has not yet done is read from its group's committed offsets, not
asked of the consumer: the router's lag per inbound partition, each webhook recipient's
backlog and the age of its oldest undelivered delivery (by event type too), each webhook
partner's parked records not yet replayed, and the audit store's lag (the feed runs in a
child process). A figure is therefore right even while the process that should move it is
stuck, which is when it matters. One reading every ``HUB_OPS__LAG_INTERVAL_SECONDS``;
Kafka trouble skips a reading (``lag_check_failed``) and is tried again at the next, so
``hub_lag_checked_timestamp_seconds`` stops moving and the gauges keep their last values.

Recipients measured: webhook partners (their deliverer's group), pull partners (the group
the gateway commits each cursor they come back with to, ``hub.kafka.progress``) and Kafka
partners whose own consumer group is named in ``HUB_OPS__PARTNER_GROUPS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.audit.feed import audit_group
from hub.connectors.registry import Partner, PartnerRegistry, PullDelivery, WebhookDelivery
from hub.delivery.parking import replay_group
from hub.delivery.pull import pull_group
from hub.delivery.webhook import delivery_group
from hub.errors import ConfigurationError
from hub.kafka import is_kafka_failure
from hub.kafka.lag import GroupLag, LagReader
from hub.observability import metrics
from hub.observability.logging import get_logger
from hub.schemas import TYPES
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

__all__ = ["LagMonitor"]

_log = get_logger()
# Records read per partition of a backlog on a topic written in transactions: a backlog up
# to this is counted exactly (no markers), and each type's oldest is found among them; a
# type seen only further on counts from the recipient-wide age (docs/operations.md).
_TYPE_SCAN_RECORDS = 500
# A reading that hangs (a broker that accepts connections but does not answer) is given up.
_CHECK_SECONDS = 60.0
# Recipients read side by side. Each read mostly waits on the broker (a consumer of its own
# for a backlog, a few offset requests), and one after another a hundred partners with
# backlogs took longer than _CHECK_SECONDS, so no reading ever completed (docs/benchmarks.md).
_READS_AT_ONCE = 8


class LagMonitor:
    """Sets the lag and backlog gauges from Kafka every ``interval_seconds`` until stopped."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        layout: TopicLayout,
        registry: PartnerRegistry,
        interval_seconds: float,
        partner_groups: Mapping[str, str] | None = None,
    ) -> None:
        self._kafka = kafka
        self._layout = layout
        self._registry = registry
        self._interval = interval_seconds
        # Each measured recipient with the group whose offsets say what it has taken.
        own = partner_groups or {}
        unknown = sorted(set(own) - {p.id for p in registry})
        if unknown:
            raise ConfigurationError(
                "settings", "HUB_OPS__PARTNER_GROUPS", f"no registered partner {unknown[0]}"
            )
        self._recipients = [
            (p, group) for p in registry if (group := _group(kafka, p, own)) is not None
        ]
        self._webhook = [p for p in registry if isinstance(p.delivery, WebhookDelivery)]
        self._typed: set[tuple[str, str]] = set()  # (recipient, type) children set before
        for partner in registry:
            metrics.PARTNER_INFO.labels(partner.id, partner.role, partner.delivery.kind).set(1)

    async def run(self, stop: asyncio.Event) -> None:
        """Read every interval until ``stop`` is set."""
        reader: LagReader | None = None
        try:
            while not stop.is_set():
                try:
                    if reader is None:
                        reader = LagReader(self._kafka)
                        await reader.start()
                    await self._check_until(reader, stop)
                except Exception as exc:
                    if not is_kafka_failure(exc) and not isinstance(exc, OSError | TimeoutError):
                        raise
                    _log.warning("lag_check_failed", exc_type=type(exc).__name__)
                    if reader is not None:
                        await reader.close()
                    reader = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)
        finally:
            if reader is not None:
                await reader.close()

    async def _check_until(self, reader: LagReader, stop: asyncio.Event) -> None:
        """One reading, given up on a stop (at once) or after _CHECK_SECONDS (TimeoutError)."""
        checking = asyncio.create_task(self.check(reader))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait(
                {checking, stopping}, timeout=_CHECK_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopping.cancel()
            if not checking.done():
                checking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checking
        if checking.cancelled():
            if stop.is_set():
                return
            raise TimeoutError("reading the groups' lag took too long")
        checking.result()

    async def check(self, reader: LagReader) -> None:
        """One reading of every group's lag into the gauges."""
        router = await reader.read(
            self._kafka.group_id, [self._layout.inbound(p.id) for p in self._registry]
        )
        owner = {self._layout.inbound(p.id): p.id for p in self._registry}
        for tp, part in router.partitions.items():
            metrics.ROUTER_LAG.labels(owner[tp.topic], str(tp.partition)).set(part.behind)
        now_ms = time.time() * 1000
        limit = asyncio.Semaphore(_READS_AT_ONCE)

        async def backlog(group: str, topic: str) -> _Backlog:
            async with limit:
                lag = await reader.read(group, [topic], records=_TYPE_SCAN_RECORDS)
            # Summed up here, beside its read: the records of every recipient together
            # would be a long step on the loop, and held in memory all at once.
            return _Backlog(lag.behind, _age(lag, now_ms), _oldest_by_type(lag))

        try:
            async with asyncio.TaskGroup() as reads:
                backlogs = [
                    reads.create_task(backlog(group, self._layout.deliveries(partner)))
                    for partner, group in self._recipients
                ]
                parked = [
                    reads.create_task(
                        backlog(replay_group(self._kafka, p.id), self._layout.parked(p.id))
                    )
                    for p in self._webhook
                ]
        except ExceptionGroup as failed:
            # The first failure fails the reading, as one read after another did (``run``
            # skips a reading that Kafka failed, and lets anything else through).
            raise failed.exceptions[0] from None
        typed: set[tuple[str, str]] = set()
        for (partner, _), read in zip(self._recipients, backlogs, strict=True):
            found = read.result()
            metrics.DELIVERY_BACKLOG.labels(partner.id).set(found.behind)
            metrics.DELIVERY_OLDEST_SECONDS.labels(partner.id).set(found.age_seconds)
            for kind, oldest in found.oldest_by_type.items():
                typed.add((partner.id, kind))
                metrics.DELIVERY_OLDEST_BY_TYPE_SECONDS.labels(partner.id, kind).set(
                    max(0.0, (now_ms - oldest) / 1000)
                )
        for partner, read in zip(self._webhook, parked, strict=True):
            metrics.WEBHOOK_PARKED.labels(partner.id).set(read.result().behind)
        for recipient, kind in self._typed - typed:
            metrics.DELIVERY_OLDEST_BY_TYPE_SECONDS.labels(recipient, kind).set(0)
        self._typed = typed
        audit = await reader.read(
            audit_group(self._kafka), [self._layout.disclosures], records=_TYPE_SCAN_RECORDS
        )
        metrics.AUDIT_LAG_RECORDS.set(audit.behind)
        metrics.AUDIT_LAG_SECONDS.set(_age(audit, now_ms))
        metrics.LAG_CHECKED.set(now_ms / 1000)


@dataclass(frozen=True, slots=True)
class _Backlog:
    """What a reading keeps of one group's lag on one topic."""

    behind: int
    age_seconds: float
    oldest_by_type: dict[str, int]


def _group(kafka: KafkaSettings, partner: Partner, own: Mapping[str, str]) -> str | None:
    """The group whose offsets say how far a partner has taken its deliveries, if the hub knows one."""
    if isinstance(partner.delivery, WebhookDelivery):
        return delivery_group(kafka, partner.id)
    if isinstance(partner.delivery, PullDelivery):
        return pull_group(kafka, partner.id)
    return own.get(partner.id)


def _age(lag: GroupLag, now_ms: float) -> float:
    oldest = lag.oldest_ms()
    return 0.0 if oldest is None else max(0.0, (now_ms - oldest) / 1000)


def _oldest_by_type(lag: GroupLag) -> dict[str, int]:
    """The timestamp of the first unconsumed record of each event type (``ce_type``) read."""
    oldest: dict[str, int] = {}
    for part in lag.partitions.values():
        for record in part.first:
            kind = _type_of(record.headers)
            if kind not in oldest or record.timestamp < oldest[kind]:
                oldest[kind] = record.timestamp
    return oldest


def _type_of(headers: Iterable[tuple[str, bytes]]) -> str:
    for name, value in headers:
        if name == "ce_type":
            kind = value.decode(errors="replace")
            return kind if kind in TYPES else "unknown"
    return "unknown"
