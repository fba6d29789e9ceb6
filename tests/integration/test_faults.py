"""The fault suite, short runs: one fault mid-stream each, then every event counted on real brokers.

The scenarios live in bench/faults.py (the long runs use them with larger sizes); here
each runs small and its figures are asserted exactly. Brokers that a scenario stops or
kills are this module's own (ports 21092-21197), never the shared dev broker.

Each scenario runs under ``asyncio.timeout`` a minute inside the test's own limit, so on a
hang it is cancelled and its clean-up (killing ``hub run``, stopping servers) still runs.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.faults import (
    CLUSTER_BASE_PORT,
    SINGLE_PORTS,
    LocalPostgres,
    audit_store_down,
    broker_restarts,
    cluster_loses_broker,
    hub_kills,
    oversized,
    webhook_down,
)

from hub.dev.localcluster import LocalCluster
from hub.dev.localkafka import LocalKafka
from hub.settings import WebhookSettings

_TEST_SECONDS = 300
_SCENARIO_SECONDS = _TEST_SECONDS - 60


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A single broker of this test alone, deleted afterwards."""
    kafka = LocalKafka("fault-test", *SINGLE_PORTS, run_dir=tmp_path / "kafka")
    try:
        yield kafka
    finally:
        kafka.reset()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A three-broker KRaft cluster of this test alone, deleted afterwards."""
    cluster = LocalCluster("fault-test", CLUSTER_BASE_PORT, tmp_path / "cluster")
    try:
        yield cluster
    finally:
        cluster.reset()


@pytest.mark.timeout(_TEST_SECONDS)
async def test_oversized_events_are_dead_lettered_and_everyone_else_keeps_flowing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Events of 300 KB and 900 KB from one provider are dead-lettered EVENT_TOO_LARGE while every other event is delivered once, in order."""
    async with asyncio.timeout(_SCENARIO_SECONDS):
        result = await oversized(
            kafka_bootstrap, tmp_path, subjects=20, steps=10, sizes=(300_000, 900_000)
        )

    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0), result.notes
    assert result.dead_letter_codes == Counter({"EVENT_TOO_LARGE": 2})
    assert result.disclosure_mismatch == 0
    assert result.notes == []


@pytest.mark.timeout(_TEST_SECONDS)
async def test_broker_stopped_and_killed_mid_stream_router_and_gateway_recover_by_themselves(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    """After a single broker is stopped with SIGTERM and later killed with SIGKILL, the gateway answers 202 on every partition within 30 s and the router delivers everything once, in order."""
    async with asyncio.timeout(_SCENARIO_SECONDS):
        rows = await broker_restarts(
            own_broker,
            tmp_path,
            subjects=20,
            steps=15,
            downtime=3,
            signals=(signal.SIGTERM, signal.SIGKILL),
            gateway_within=30,
        )

    assert [row.notes for row in rows] == [[], []]
    assert [sorted(row.recovered) for row in rows] == [["gateway, all partitions", "router"]] * 2
    final = rows[-1]
    assert (final.lost, final.duplicated, final.out_of_order) == (0, 0, 0)
    assert (final.dead_lettered, final.disclosure_mismatch) == (0, 0)


@pytest.mark.timeout(_TEST_SECONDS)
async def test_hub_killed_every_few_seconds_delivers_everything_once_in_order(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A `hub run` killed with SIGKILL 3 s into each incarnation while a partner sends 100 events/s delivers 2,000 events exactly once, in order per subject."""
    async with asyncio.timeout(_SCENARIO_SECONDS):
        result = await hub_kills(
            kafka_bootstrap, tmp_path, subjects=100, steps=19, interval=3, rate=100, bound=90
        )

    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0), result.notes
    assert (result.dead_lettered, result.disclosure_mismatch) == (0, 0)
    assert result.notes[:-1] == []  # every kill was followed by a delivery
    assert int(result.notes[-1].split()[0]) >= 1, result.notes  # a kill landed mid-stream


@pytest.mark.timeout(_TEST_SECONDS)
async def test_cluster_losing_one_of_three_brokers_keeps_delivering(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    """With one of three brokers killed mid-stream and started again, every event is delivered once, in order, and deliveries go on while it is down."""
    # Longer than acks=all needs to drop the dead follower (replica.lag.time.max.ms, 10 s).
    async with asyncio.timeout(_SCENARIO_SECONDS):
        result = await cluster_loses_broker(
            own_cluster, tmp_path, subjects=20, steps=15, downtime=25
        )

    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0), result.notes
    assert (result.dead_lettered, result.disclosure_mismatch) == (0, 0)
    assert result.notes == []
    assert len(result.recovered) == 1


@pytest.mark.timeout(_TEST_SECONDS)
async def test_webhook_partner_down_then_back_gets_everything_once_in_order(
    kafka_bootstrap: str,
) -> None:
    """A webhook partner refusing connections for 20 s then back receives every event exactly once, in order per subject, and nothing is parked."""
    # The defaults' backoff (up to 300 s) and breaker cool-down (30 s) suit a 10-minute
    # outage in bench/faults.py; a 20 s outage here gets a proportionally shorter schedule.
    webhooks = WebhookSettings(
        initial_backoff_seconds=0.5,
        max_backoff_seconds=3,
        jitter_seconds=0.2,
        breaker_cooldown_seconds=2,
    )
    async with asyncio.timeout(_SCENARIO_SECONDS):
        result = await webhook_down(
            kafka_bootstrap, subjects=10, steps=20, downtime=20, webhooks=webhooks, bound=60
        )

    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0), result.notes
    assert result.dead_lettered == 0  # parked
    assert result.notes == []
    assert len(result.recovered) == 1


@pytest.mark.timeout(_TEST_SECONDS)
async def test_audit_store_down_then_back_ends_complete(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """With the audit store's PostgreSQL stopped for 15 s mid-stream, deliveries go on and the store ends holding every disclosure record."""
    postgres = LocalPostgres()
    try:
        async with asyncio.timeout(_SCENARIO_SECONDS):
            result = await audit_store_down(
                kafka_bootstrap, postgres, tmp_path, subjects=20, steps=15, downtime=15, bound=60
            )
    finally:
        postgres.remove()

    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0), result.notes
    assert (result.dead_lettered, result.disclosure_mismatch) == (0, 0)
    assert result.notes == []
    assert len(result.recovered) == 1
