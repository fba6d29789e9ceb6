"""``hub.app.build_kpi_aggregator``: the KPI child follows the parent's partners."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from hub.app import build_kpi_aggregator
from hub.kpi.aggregator import KpiAggregator
from hub.settings import HubSettings, KafkaSettings
from hub.testing import demo_registry
from hub.topics import TopicLayout


def test_the_kpi_child_follows_the_parents_partners_not_the_file_read_again(
    tmp_path: Path,
) -> None:
    """The child starts once the topics exist, maybe hours on: a registry file changed or gone since is not read."""
    registry = demo_registry()
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", topic_prefix="kpitest")
    settings = HubSettings(kafka=kafka, partners_file=tmp_path / "edited-since.yaml")
    layout = TopicLayout("kpitest")
    # As ``spawn`` hands them to the child.
    args: Any = pickle.loads(pickle.dumps((settings, layout, tuple(registry))))
    aggregator = build_kpi_aggregator(*args, on_report=lambda _: None)
    parents = KpiAggregator(
        kafka=kafka, layout=layout, registry=registry, retention_days=730, interval_seconds=5.0
    )
    assert sorted(aggregator._partners) == sorted(parents._partners)
