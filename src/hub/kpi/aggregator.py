"""KpiAggregator: the flow KPIs of `hub run`, kept beside the router rather than in it.

It follows every partner's inbound topic with a reader of its own (no consumer group,
``read_committed``), takes from each record of a KPI type the few facts a KPI needs
(``hub.kpi.facts``; other types are skipped by their ``ce_type`` header, unparsed) and
keeps the ledger (``hub.kpi.ledger``) in the compacted ``<prefix>.kpi`` topic: after
each batch it writes what changed and the inbound offsets it has read up to in one
Kafka transaction. On start, and after Kafka trouble, it reads that topic back and goes
on from those offsets, so no event is counted twice or lost while the inbound topics
still hold it. The router's transaction, records and hot path are untouched; `hub run`
runs the aggregator in a child process of its own (``KpiAggregatorProcess``), whose
reports move the metrics and the page's figures in `hub run`'s process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from hub.child import Build, ChildService
from hub.connectors.registry import Partner, PartnerRegistry
from hub.errors import HubError
from hub.inbound import KAFKA_ADAPTERS, KafkaAdapter, choose_kafka
from hub.kafka import (
    Record,
    TopicPartition,
    UnreadableRecord,
    is_kafka_failure,
    tolerate_unreadable,
)
from hub.kafka.changelog import CompactedReader
from hub.kafka.ledger import LedgerWriter
from hub.kpi.calendar import month_of
from hub.kpi.facts import KPI_TYPES, SUBJECT_ONLY, fact_of
from hub.kpi.ledger import KPIS, Completion, KpiLedger
from hub.observability import metrics
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, LoggingSettings
from hub.topics import TopicLayout

__all__ = [
    "KPI_TEAM_LABELS",
    "KpiAggregator",
    "KpiAggregatorProcess",
    "KpiGauges",
    "KpiReport",
    "kpi_transactional_id",
]

_log = get_logger()
KPI_TEAM_LABELS: Final = 50
"""Teams with a metric label of their own; more are labelled "(other teams)"."""
_OTHER_TEAMS: Final = "(other teams)"
_POLL_MS: Final = 500
# Records taken into the ledger per round. The aggregator shares the router's event loop:
# a round over everything its readers held after a backlog (a restart, a burst) kept the
# router waiting for a quarter of a second at 20,000 referrals (docs/benchmarks.md).
_ROUND_RECORDS: Final = 500
_LOG_APPEND_TIME: Final = 1  # Kafka's timestamp type of a broker-stamped record
# The retention is counted in days (HUB_PRIVACY__STATE_RETENTION_DAYS): an hourly sweep
# over the open and done pairs is plenty, and keeps its cost off most batches.
_SWEEP_SECONDS: Final = 3600.0
# Reading the ledger back: a few records per team, month and open pair, so seconds; a
# broker that does not serve it within this is Kafka trouble (tried again after the interval).
_RESTORE_SECONDS: Final = 300.0
_KPI_TYPE_HEADERS: Final = frozenset(t.encode() for t in KPI_TYPES)
_SUBJECT_HEADERS: Final = frozenset({"ce_type", "ce_subject", "ce_source", "ce_time"})
# A child process's snapshot for the page, at most this often (the page polls every 1.5 s).
_SNAPSHOT_SECONDS: Final = 1.0
_IDLE_SNAPSHOT_SECONDS: Final = 60.0  # no round changed the ledger: only the month can turn
# A round that took less than a full one is followed by the next no sooner than this: the
# KPIs are steering figures, a second late is nothing, and a transaction per few records
# cost more CPU per event than the reading (docs/benchmarks.md).
_MIN_ROUND_SECONDS: Final = 1.0


def kpi_transactional_id(kafka: KafkaSettings) -> str:
    """The aggregator's transactional id: one per deployment, so a second aggregator fences the first."""
    return f"{kafka.group_id}.kpi"


class KpiReport(NamedTuple):
    """What the aggregator committed in a round, for the metrics and the page: figures only.

    It crosses a process boundary (``KpiAggregatorProcess``), so it holds plain values.
    """

    completions: tuple[Completion, ...]
    open_counts: dict[str, int]
    budgets: tuple[tuple[str, str, dict[str, Any]], ...]
    """(team, period, position) of the budgets reported since the last report."""
    snapshot: dict[str, Any] | None
    """The page's figures (``KpiAggregator.snapshot``), when the aggregator sends them."""
    at: float | None
    """When the round was committed (Unix time); None when nothing was (a failed session)."""


class KpiGauges:
    """The KPI metrics of the process that serves /metrics, moved by the aggregator's reports."""

    def __init__(self) -> None:
        self._labelled: set[str] = set()
        self._shown: dict[str, str] = {}  # team -> the budget period its gauges show

    def apply(self, report: KpiReport) -> None:
        """Observe the report's completions, open pairs and budgets; note when it was committed."""
        for done in report.completions:
            team = self._label(done.team)
            metrics.KPI_DURATION_SECONDS.labels(team, done.kpi).observe(done.seconds)
            if done.kpi == "veilig-thuis-response" and not done.within_target:
                metrics.KPI_SAFETY_LATE.labels(team).inc()
        for kpi, count in report.open_counts.items():
            metrics.KPI_OPEN_PAIRS.labels(kpi).set(count)
        for team, period, position in report.budgets:
            self._show_budget(team, period, position)
        if report.at is not None:  # a failure moves it not: its standing still is the sign
            metrics.KPI_UPDATED.set(report.at)

    def _show_budget(self, team: str, period: str, position: Mapping[str, Any]) -> None:
        """Show the team's budget of this period when it is the team's latest one."""
        if period < self._shown.get(team, ""):
            return
        label = self._label(team)
        if label == _OTHER_TEAMS:
            return  # one gauge cannot hold several teams' budgets: those have `hub kpi`
        self._shown[team] = period
        for figure in ("budget", "committed", "spent"):
            metrics.KPI_BUDGET_CENTS.labels(label, figure).set(
                float(position.get(f"{figure}_cents", 0))
            )

    def _label(self, team: str) -> str:
        if team in self._labelled or len(self._labelled) < KPI_TEAM_LABELS:
            self._labelled.add(team)
            return team
        return _OTHER_TEAMS


class KpiAggregator:
    """Follows the inbound topics into the KPI ledger until stopped; ``snapshot`` serves the page.

    After each round it sends a ``KpiReport`` to ``on_report``: by default into this
    process's metrics (``KpiGauges``); in `hub run`, over the pipe of the child process it
    runs in (``KpiAggregatorProcess``), with the page's snapshot when ``snapshots``.
    """

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        layout: TopicLayout,
        registry: PartnerRegistry,
        retention_days: int,
        interval_seconds: float,
        adapters: Mapping[str, Sequence[KafkaAdapter]] | None = None,
        state_directory: Path | None = None,
        on_report: Callable[[KpiReport], None] | None = None,
        snapshots: bool = False,
    ) -> None:
        self._kafka = kafka
        self._layout = layout
        self._partners: dict[str, Partner] = {layout.inbound(p.id): p for p in registry}
        self._adapters = adapters or {}
        self._retention_ms = retention_days * 86_400_000
        self._interval = interval_seconds
        self._directory = state_directory
        self._ledger = KpiLedger(self._retention_ms, directory=state_directory)
        self._ready = False
        self._completed: list[Completion] = []
        self._budgets: list[tuple[str, str]] = []  # (team, period) reported since the last report
        self._on_report = on_report or KpiGauges().apply
        self._snapshots = snapshots
        self._snapshot_at = 0.0
        self._unshown = False  # a round changed the ledger since the last snapshot

    def snapshot(self, now: datetime | None = None) -> dict[str, Any]:
        """This month's figures per team and KPI, budget positions, open pairs (no personal data)."""
        month = month_of(now or datetime.now(UTC))
        report = self._ledger.month_report(month)
        for row in report["kpis"]:
            row.pop("buckets", None)
        return {"ready": self._ready, **report, "open": self._ledger.open_counts()}

    async def run(self, stop: asyncio.Event) -> None:
        """Aggregate until ``stop`` is set; Kafka trouble restarts from the ledger after the interval."""
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                except Exception as exc:
                    if not is_kafka_failure(exc) and not isinstance(exc, OSError | TimeoutError):
                        raise
                    _log.warning("kpi_aggregation_failed", exc_type=type(exc).__name__)
                self._ready = False
                # What the failed round took is not committed: it is read again, not shown.
                self._completed, self._budgets = [], []
                # The page shows it is not following now. Nothing was committed since the
                # last report: the updated time stays, and stops moving while this fails.
                self._observe(snapshot=True, committed=False)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)
        finally:
            self._ledger.close()  # the page's snapshot reads only what stays in memory

    async def _session(self, stop: asyncio.Event) -> None:
        ledger = KpiLedger(self._retention_ms, directory=self._directory)
        try:
            await self._follow(ledger, stop)
        finally:
            if ledger is not self._ledger:
                ledger.close()  # it never took over (Kafka failed while reading it back)

    async def _follow(self, ledger: KpiLedger, stop: asyncio.Event) -> None:

        def load(_: TopicPartition, records: list[Record]) -> None:
            for record in records:
                ledger.load(record.key, record.value)

        writer = LedgerWriter(
            self._kafka, topic=self._layout.kpi, transactional_id=kpi_transactional_id(self._kafka)
        )
        restore = CompactedReader(self._kafka, [self._layout.kpi], load)
        # A partner's record the client cannot unpack is passed over, not a crash at every
        # start (hub.kafka.unreadable; the router dead-letters it).
        tolerate_unreadable(self._layout.inbound_prefix)
        tail = CompactedReader(self._kafka, sorted(self._partners), self._apply)
        try:
            # The writer first: starting it fences any other writer of the ledger, so no
            # transaction can commit between reading the ledger back and writing on it.
            await writer.start()
            try:
                await restore.open()
                await restore.catch_up(_RESTORE_SECONDS, _ROUND_RECORDS)
            finally:
                await restore.close()
            previous, self._ledger, self._completed = self._ledger, ledger, []
            previous.close()
            self._budgets = sorted(ledger.budgets)  # every team's, read back: shown again
            start = {TopicPartition(t, p): o for (t, p), o in ledger.offsets.items()}
            await tail.open(start)
            _log.info("kpi_aggregator_started", count=sum(ledger.open_counts().values()))
            self._ready = True
            self._observe(snapshot=True)
            # The retention sweep: at once, then hourly, a step per round (``expire_step``).
            # ``sweeping`` is its place in the ledger's keys; None between sweeps.
            sweeping: str | None = ""
            swept, expired = time.monotonic(), 0
            while not stop.is_set():
                began = time.monotonic()
                taken = await tail.follow(_POLL_MS, _ROUND_RECORDS)
                if sweeping is None and time.monotonic() - swept > _SWEEP_SECONDS:
                    sweeping = ""
                if sweeping is not None:
                    count, sweeping = ledger.expire_step(int(time.time() * 1000), sweeping)
                    expired += count
                    if sweeping is None:
                        if expired:
                            _log.info("kpi_pairs_expired", count=expired)
                        swept, expired = time.monotonic(), 0
                changed = ledger.dirty
                if changed:
                    await writer.write(ledger.changes())
                # Every round: what was committed, and that it still runs.
                self._observe(changed=changed)
                if 0 < taken < _ROUND_RECORDS:
                    # Keeping up: a round a second at most, so a steady load is committed
                    # in rounds of hundreds rather than a transaction per few records.
                    with contextlib.suppress(TimeoutError):
                        rest = _MIN_ROUND_SECONDS - (time.monotonic() - began)
                        await asyncio.wait_for(stop.wait(), max(rest, 0.0))
        finally:
            await tail.close()
            await writer.close()

    def _apply(self, tp: TopicPartition, records: list[Record]) -> None:
        """Take a batch of one inbound partition into the ledger (written after the batch)."""
        partner = self._partners[tp.topic]
        adapters = (*self._adapters.get(partner.role, ()), *KAFKA_ADAPTERS)
        for record in records:
            self._ledger.advance(tp.topic, tp.partition, record.offset + 1)
            if isinstance(record, UnreadableRecord):
                continue  # nothing to count: the router dead-letters it
            kind = next((v for n, v in record.headers if n == "ce_type"), None)
            if kind is not None and kind not in _KPI_TYPE_HEADERS:
                continue  # binary mode names its type: nothing else is parsed
            try:
                self._take(record, partner, adapters)
            except Exception as exc:
                # A KPI is not worth stopping `hub run` for: the record is skipped, loudly.
                _log.error(
                    "kpi_record_failed",
                    topic=tp.topic,
                    partition=tp.partition,
                    offset=record.offset,
                    exc_type=type(exc).__name__,
                )

    def _take(self, record: Record, partner: Partner, adapters: Sequence[KafkaAdapter]) -> None:
        event = _from_headers(record.headers)
        if event is None:
            adapter = choose_kafka(adapters, record.headers)
            event = adapter.read(record).event if adapter is not None else None
        fact = fact_of(event, partner) if event is not None else None
        if fact is None:
            return
        # Receipt, not the sender's claim: the broker's append time where the topic keeps
        # it (the hub's inbound topics do), else now. It times the pair's retention.
        seen_ms = (
            record.timestamp
            if record.timestamp_type == _LOG_APPEND_TIME
            else int(time.time() * 1000)
        )
        done = self._ledger.apply(fact, seen_ms)
        if done is not None:
            self._completed.append(done)
        elif fact.kind == "budget" and fact.team is not None and fact.budget is not None:
            self._budgets.append((fact.team, fact.budget.period))

    def _observe(
        self, *, snapshot: bool = False, committed: bool = True, changed: bool = True
    ) -> None:
        """Report the committed round: its completions, the open pairs, the budgets reported.

        With ``snapshots``, the page's figures ride along at most once a second while a
        round has changed the ledger since the last, once a minute while none has (only
        the month can turn), and at once when ``snapshot`` (the aggregator started or stopped
        following). Not ``committed``: the report carries no time (``KpiReport.at``), so
        the updated time does not move.
        """
        now = time.time()
        shown = None
        self._unshown = self._unshown or changed
        every = _SNAPSHOT_SECONDS if self._unshown else _IDLE_SNAPSHOT_SECONDS
        if self._snapshots and (snapshot or now - self._snapshot_at >= every):
            shown, self._snapshot_at, self._unshown = self.snapshot(), now, False
        budgets = tuple(
            (team, period, dict(position))
            for team, period in self._budgets
            if (position := self._ledger.budgets.get((team, period))) is not None
        )
        report = KpiReport(
            tuple(self._completed),
            self._ledger.open_counts(),
            budgets,
            shown,
            now if committed else None,
        )
        self._completed, self._budgets = [], []
        self._on_report(report)


class KpiAggregatorProcess:
    """The KPI aggregator in a child process of its own, as `hub run` runs it (``hub.child``).

    Why a process: the aggregator reads every inbound record again, and at a steady load
    that took about a sixth of the router's process's CPU, which the router then did not
    have (docs/benchmarks.md). ``build`` makes the child's ``KpiAggregator`` from ``args``
    (the composition root's function: the parent's partners; the child loads the connectors itself).
    Its reports move this process's metrics, and the last snapshot serves the page. A
    child that ends on its own is started again (``hub.child``); the page's figures wait
    for it meanwhile.
    """

    def __init__(
        self, build: Build, args: tuple[Any, ...], *, logging: LoggingSettings, nice: int = 0
    ) -> None:
        self._gauges = KpiGauges()
        self._snapshot: dict[str, Any] | None = None
        self._child = ChildService(
            "hub-kpi",
            build,
            args,
            logging=logging,
            on_report=self._take,
            failed=lambda code: HubError(f"the KPI aggregator's process ended with code {code}"),
            on_end=self._not_live,
            nice=nice,
        )

    def snapshot(self) -> dict[str, Any]:
        """The child's last snapshot, or an empty one while it has sent none (not ready)."""
        if self._snapshot is not None:
            return self._snapshot
        empty = {"month": month_of(datetime.now(UTC)), "kpis": [], "budgets": []}
        return {"ready": False, **empty, "open": dict.fromkeys(KPIS.values(), 0)}

    async def run(self, stop: asyncio.Event) -> None:
        """Run the aggregator in its process until ``stop`` is set (started again when it dies)."""
        await self._child.run(stop)

    def _not_live(self) -> None:
        # The child has ended: its last figures stay shown, as not ready, until a new child
        # has read its ledger back and reports again.
        if self._snapshot is not None:
            self._snapshot = {**self._snapshot, "ready": False}

    def _take(self, report: KpiReport) -> None:
        self._gauges.apply(report)
        if report.snapshot is not None:
            self._snapshot = report.snapshot


def _from_headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, Any] | None:
    """A binary-mode event of a ``SUBJECT_ONLY`` type as far as its fact needs it, from its headers.

    None for any other record: read in full by its adapter.
    """
    found = {name: value for name, value in headers if name in _SUBJECT_HEADERS}
    kind = found.get("ce_type")
    field = SUBJECT_ONLY.get(kind.decode(errors="replace")) if kind is not None else None
    subject, source, at = (found.get(h) for h in ("ce_subject", "ce_source", "ce_time"))
    if field is None or subject is None or source is None or at is None:
        return None
    try:
        return {
            "type": kind.decode() if kind is not None else None,
            "source": source.decode(),
            "time": at.decode(),
            "data": {field: subject.decode()},
        }
    except UnicodeDecodeError:
        return None
