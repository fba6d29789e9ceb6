"""After a rebalance, what another instance parked holds this instance's subjects back too."""

from __future__ import annotations

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
