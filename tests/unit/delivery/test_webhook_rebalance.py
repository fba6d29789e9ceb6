"""After a rebalance, what another instance parked holds this instance's subjects back too."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition

from hub.delivery.webhook import _Workers


async def test_partitions_assigned_read_what_was_parked_since_before_any_record() -> None:
    """The parked subjects are refreshed when partitions come in, not only when the session opens."""
    refreshed: list[bool] = []

    async def refresh() -> None:
        refreshed.append(True)

    async def handle(_record: object) -> None:
        raise AssertionError("nothing is read here")

    workers = _Workers(handle, on_assigned=refresh)
    await workers.on_partitions_assigned([TopicPartition("t.deliveries.p", 0)])
    await workers.on_partitions_assigned([])  # nothing came in: nothing to read

    assert refreshed == [True]


async def test_records_handed_out_during_the_refresh_wait_for_it() -> None:
    """aiokafka may return new partitions' records before its listener is done: they wait."""
    release, done = asyncio.Event(), asyncio.Event()
    handled: list[object] = []

    async def refresh() -> None:
        await release.wait()

    async def handle(record: object) -> None:
        handled.append(record)
        done.set()

    workers = _Workers(handle, on_assigned=refresh)
    tp = TopicPartition("t.deliveries.p", 0)
    assigning = asyncio.create_task(workers.on_partitions_assigned([tp]))
    await asyncio.sleep(0.01)
    record = SimpleNamespace(
        topic=tp.topic, partition=0, offset=0, key=b"S", value=b"{}", headers=[]
    )
    workers.feed({tp: [record]})
    await asyncio.sleep(0.05)
    assert handled == []
    release.set()
    await assigning
    async with asyncio.timeout(5):
        await done.wait()
    assert handled == [record]
    await workers.stop()


async def test_a_failed_refresh_fails_the_session() -> None:
    """The listener's error is not lost in aiokafka's log: the delivery loop raises it."""

    async def refresh() -> None:
        raise TimeoutError("compacted-topic catch-up took too long")

    async def handle(_record: object) -> None:
        return None

    workers = _Workers(handle, on_assigned=refresh)
    await workers.on_partitions_assigned([TopicPartition("t.deliveries.p", 0)])
    with pytest.raises(TimeoutError):
        workers.raise_if_failed()
