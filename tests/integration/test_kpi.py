"""A real `hub run` aggregates the example scenario's flow KPIs; `hub kpi` prints them, /metrics serves them.

The hub is killed (SIGKILL) halfway and started again: the aggregator goes on from the
offsets it committed with its ledger, so nothing is counted twice, and a repeated event
counts nothing either.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import build_hub
from hub.settings import HubSettings
from hub.testing import scenario

from .hubtest import HubUnderTest, hub_cli, hub_process, isolated_settings, kill_hard
from .test_ops_metrics import _free_port

TEAM = "Wijkteam Zwolle-Zuid"
NO_TEAM = "(no team)"


async def _hub_kpi(settings: HubSettings, *args: str) -> tuple[int, str, str]:
    """`hub kpi ARGS`, run as an operator runs it."""
    return await hub_cli(settings, "kpi", *args)


async def _month_when(
    settings: HubSettings, month: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        code, out, _ = await _hub_kpi(settings, "--month", month, "--json")
        if code == 0:
            report = json.loads(out)
            if done(report):
                return report
        await asyncio.sleep(1)
    raise AssertionError(f"hub kpi --month {month} never showed what was expected: {report}")


def _counts(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(r["team"], r["kpi"]): r["count"] for r in report["kpis"]}


def _metric_lines(port: int) -> list[str]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return [line for line in text.splitlines() if line.startswith("hub_kpi_")]


@pytest.mark.timeout(420)
async def test_hub_run_aggregates_the_scenarios_kpis_once_across_a_hard_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """March's waiting time and budget, April's starts and Veilig Thuis response, July's throughput: each counted once although the hub was killed between them and an event was sent twice."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)
    hub = HubUnderTest(build_hub(settings))
    registry = hub.hub.registry
    await hub.create_topics()
    events = scenario()
    first, rest = events[:18], events[18:]  # up to the budget report; then care starts
    log = tmp_path / "hub.log"

    async def send(batch: list[dict[str, Any]]) -> None:
        for event in batch:
            sender = registry.by_source(event["source"])
            assert sender is not None
            await hub.send(sender.id, [event])

    process = hub_process(settings, log)
    try:
        await send(first)
        march = await _month_when(
            settings,
            "2025-03",
            lambda r: r["open"]["time-to-start"] == 3 and bool(r["budgets"]),
        )
        assert _counts(march) == {(TEAM, "waiting"): 1}
        kill_hard(process)

        port = _free_port()
        process = hub_process(settings, log, extra_env={"HUB_OPS__PORT": str(port)})
        intake = next(e for e in first if e["data"].get("status") == "intake-scheduled")
        await send([*rest, intake])  # the intake again: a duplicate, counted nothing
        april = await _month_when(settings, "2025-04", lambda r: sum(_counts(r).values()) >= 4)
        assert _counts(april) == {
            (NO_TEAM, "time-to-start"): 1,
            (NO_TEAM, "veilig-thuis-response"): 1,
            (TEAM, "time-to-start"): 2,
        }
        july = await _month_when(settings, "2025-07", lambda r: bool(r["kpis"]))
        assert _counts(july) == {(TEAM, "throughput"): 1}
        assert july["open"] == {
            "waiting": 1,
            "throughput": 1,
            "time-to-start": 0,
            "veilig-thuis-response": 1,
        }
        march = await _month_when(settings, "2025-03", lambda r: True)
        assert _counts(march) == {(TEAM, "waiting"): 1}
        assert march["budgets"] == [
            {
                "team": TEAM,
                "period": "2025-03",
                "budget_cents": 18500000,
                "committed_cents": 12950000,
                "spent_cents": 11730250,
            }
        ]

        code, text, _ = await _hub_kpi(settings, "--month", "2025-04", "--team", NO_TEAM)
        assert code == 0
        assert text.splitlines()[0] == f"flow KPIs 2025-04, team {NO_TEAM}"
        assert "within 5 working days 1/1 (100 %)" in text

        # The second process observed what it completed, and only that: no waiting time.
        lines = _metric_lines(port)
        assert f'hub_kpi_duration_seconds_count{{kpi="time-to-start",team="{TEAM}"}} 2.0' in lines
        assert f'hub_kpi_duration_seconds_count{{kpi="throughput",team="{TEAM}"}} 1.0' in lines
        assert not [
            line
            for line in lines
            if line.startswith("hub_kpi_duration") and 'kpi="waiting"' in line
        ]
        assert f'hub_kpi_budget_cents{{figure="spent",team="{TEAM}"}} 1.173025e+07' in lines
        assert 'hub_kpi_open_pairs{kpi="waiting"} 1.0' in lines
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
