"""The aggregator's reading of inbound records: binary mode, other types skipped, offsets, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY

from hub.envelope import to_kafka
from hub.kafka import TopicPartition
from hub.kpi.aggregator import KpiAggregator, KpiGauges
from hub.settings import KafkaSettings
from hub.testing import demo_registry, scenario, sender_of
from hub.topics import TopicLayout

LAYOUT = TopicLayout("kpitest")


@dataclass
class _Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: int
    timestamp_type: int = 1  # stamped by the broker on append, as the hub's inbound topics are


def _aggregator(**options: Any) -> KpiAggregator:
    return KpiAggregator(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1", topic_prefix="kpitest"),
        layout=LAYOUT,
        registry=demo_registry(),
        retention_days=730,
        **{"interval_seconds": 5.0, **options},
    )


def _feed(aggregator: KpiAggregator, events: list[dict[str, Any]]) -> None:
    for offset, event in enumerate(events):
        topic = LAYOUT.inbound(sender_of(event).id)
        key, headers, value = to_kafka(event)
        record = _Record(topic, 0, offset, key, value, headers, 1_700_000_000_000 + offset)
        aggregator._apply(TopicPartition(topic, 0), [record])  # type: ignore[list-item]


def test_the_scenario_read_from_inbound_records_gives_its_kpis_and_offsets() -> None:
    """Every scenario event as a binary-mode record on its sender's topic: the month's figures, and each partition read past its last record."""
    aggregator = _aggregator()
    events = scenario()
    _feed(aggregator, events)
    march = aggregator.snapshot(now=datetime(2025, 3, 15, tzinfo=UTC))
    assert [(r["team"], r["kpi"], r["count"]) for r in march["kpis"]] == [
        ("Wijkteam Zwolle-Zuid", "waiting", 1)
    ]
    assert march["budgets"][0]["spent_cents"] == 11730250
    assert march["ready"] is False  # not following Kafka: nothing was read from it
    ledger = aggregator._ledger
    assert ledger.offsets[(LAYOUT.inbound("swt-zwolle"), 0)] == len(events)


def test_completions_reach_the_metrics_only_when_observed_after_a_commit() -> None:
    """The duration histogram moves for the team and KPI once the batch is committed."""
    aggregator = _aggregator()
    labels = {"team": "Wijkteam Zwolle-Zuid", "kpi": "waiting"}
    before = REGISTRY.get_sample_value("hub_kpi_duration_seconds_count", labels) or 0.0
    _feed(aggregator, scenario()[:3])
    assert (REGISTRY.get_sample_value("hub_kpi_duration_seconds_count", labels) or 0.0) == before
    aggregator._observe()
    assert REGISTRY.get_sample_value("hub_kpi_duration_seconds_count", labels) == before + 1


def test_a_sender_stamped_time_does_not_time_a_pairs_retention() -> None:
    """On a topic kept with the sender's timestamps, the hub's clock times the pair, not the record."""
    import time

    from hub.testing import make_event

    aggregator = _aggregator()
    event = make_event("nl.sociaaldomein.referrals.submitted.v1")
    topic = LAYOUT.inbound(sender_of(event).id)
    key, headers, value = to_kafka(event)
    record = _Record(topic, 0, 0, key, value, headers, timestamp=0, timestamp_type=0)
    aggregator._apply(TopicPartition(topic, 0), [record])  # type: ignore[list-item]
    [(_, held)] = aggregator._ledger.open.scan()
    seen = held["seen_ms"]
    assert abs(seen - time.time() * 1000) < 60_000


def test_the_process_side_shows_not_ready_until_a_report_then_its_snapshot_and_metrics() -> None:
    """`hub run`'s side of the child: an empty snapshot first; a report moves the metrics here."""
    from hub.kpi.aggregator import KpiAggregatorProcess, KpiReport
    from hub.kpi.ledger import Completion
    from hub.settings import LoggingSettings

    process = KpiAggregatorProcess(build_reporting_nothing, (), logging=LoggingSettings())
    empty = process.snapshot()
    assert empty["ready"] is False
    assert empty["kpis"] == []
    assert set(empty["open"]) >= {"waiting"}

    labels = {"team": "Team in a child", "kpi": "waiting"}
    before = REGISTRY.get_sample_value("hub_kpi_duration_seconds_count", labels) or 0.0
    shown = {"ready": True, "month": "2025-03", "kpis": [], "budgets": [], "open": {}}
    position = {"budget_cents": 500, "committed_cents": 200, "spent_cents": 100}
    process._take(
        KpiReport(
            (Completion("waiting", "Team in a child", "2025-03", 3600.0, True),),
            {"waiting": 4},
            (("Team in a child", "2025-Q1", position),),
            shown,
            1_700_000_000.0,
        )
    )
    assert process.snapshot() is shown
    assert REGISTRY.get_sample_value("hub_kpi_duration_seconds_count", labels) == before + 1
    assert REGISTRY.get_sample_value("hub_kpi_open_pairs", {"kpi": "waiting"}) == 4
    spent = {"team": "Team in a child", "figure": "spent"}
    assert REGISTRY.get_sample_value("hub_kpi_budget_cents", spent) == 100
    assert REGISTRY.get_sample_value("hub_kpi_updated_timestamp_seconds") == 1_700_000_000.0

    # A report without a snapshot (between the child's once-a-second ones) keeps the last.
    process._take(KpiReport((), {"waiting": 3}, (), None, 1_700_000_001.0))
    assert process.snapshot() is shown

    # The child ended (it is started again): its last figures stay, shown as not live.
    process._not_live()
    assert process.snapshot() == {**shown, "ready": False}


def build_reporting_nothing(*, on_report: Any) -> Any:
    raise AssertionError("the child is not started in this test")


async def test_a_failing_session_leaves_the_updated_time_where_the_last_commit_left_it() -> None:
    """hub_kpi_updated_timestamp_seconds stops moving while the aggregator cannot read or commit."""
    import asyncio

    from hub.kpi.aggregator import KpiReport
    from hub.observability import metrics

    reports: list[KpiReport] = []
    aggregator = _aggregator(interval_seconds=0.01, on_report=reports.append, snapshots=True)
    stop = asyncio.Event()
    failures = 0

    async def failing(_: asyncio.Event) -> None:
        nonlocal failures
        failures += 1
        if failures == 3:
            stop.set()
        raise ConnectionRefusedError  # Kafka away: the aggregator retries after its interval

    aggregator._session = failing  # type: ignore[method-assign]
    metrics.KPI_UPDATED.set(1_700_000_000.0)
    await asyncio.wait_for(aggregator.run(stop), 10)
    assert len(reports) == 3
    assert all(r.at is None for r in reports)
    assert all(r.snapshot is not None and r.snapshot["ready"] is False for r in reports)
    for report in reports:
        KpiGauges().apply(report)
    assert REGISTRY.get_sample_value("hub_kpi_updated_timestamp_seconds") == 1_700_000_000.0


def test_the_childs_snapshots_follow_changes_and_are_sent_once_a_minute_when_idle(
    monkeypatch: Any,
) -> None:
    """A changed ledger is shown within a second; an idle one once a minute (the month turns)."""
    import hub.kpi.aggregator as module

    now = [1_000.0]
    monkeypatch.setattr(module.time, "time", lambda: now[0])
    reports: list[Any] = []
    aggregator = _aggregator(on_report=reports.append, snapshots=True)

    def shown(seconds: float, *, changed: bool) -> bool:
        now[0] += seconds
        aggregator._observe(changed=changed)
        return reports[-1].snapshot is not None

    assert shown(0, changed=True)  # the first
    assert not shown(0.2, changed=True)  # within the second: kept for later
    assert shown(1.0, changed=False)  # the change above, shown though this round changed nothing
    assert not shown(5, changed=False)  # idle
    assert shown(60, changed=False)  # once a minute
