"""The router's retention sweep in steps: every key judged, and no step once partitions are revoked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from hub import router
from hub.kafka import TopicPartition
from hub.pipeline import OutRecord
from hub.settings import KafkaSettings, PrivacySettings, RetrySettings
from hub.state import StateStore
from hub.state.disk import DiskStore
from hub.topics import TopicLayout

_OLD = (date.today() - timedelta(days=60)).isoformat()


class _Clients:
    """Records the keys of each transaction; the ownership's callbacks may run in between."""

    def __init__(self) -> None:
        self.writes: list[list[str]] = []
        self.between: Any = None

    async def write(self, records: Sequence[OutRecord]) -> None:
        self.writes.append([(r.key or b"").decode() for r in records])
        if self.between is not None:
            between, self.between = self.between, None
            asyncio.get_running_loop().create_task(between())
        await asyncio.sleep(0)


class _Changelogs:
    def __init__(self) -> None:
        self.held = StateStore()

    async def catch_up(self, limit_seconds: float = 30.0) -> None:
        await asyncio.sleep(0)


async def test_a_sweep_takes_no_step_after_its_partitions_were_revoked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A revocation between two steps of the sweep at start ends its writing until partitions are held again."""
    monkeypatch.setattr(router, "_SWEEP_STEP", 3)
    state = DiskStore()
    state.apply({f"seen:{n:02d}": {"received_on": _OLD} for n in range(9)})
    ownership = router._Ownership(["t.inbound.gp"])
    await ownership.on_partitions_assigned([TopicPartition("t.inbound.gp", 0)])
    clients = _Clients()
    clients.between = lambda: ownership.on_partitions_revoked([TopicPartition("t.inbound.gp", 0)])
    session = SimpleNamespace(
        state=state, clients=clients, changelogs=_Changelogs(), ownership=ownership
    )
    sweep = router._Sweep(
        TopicLayout("t"), KafkaSettings(personal_retention_ms=86_400_000), PrivacySettings()
    )
    await sweep.step(session)  # type: ignore[arg-type]
    assert clients.writes == [["seen:00", "seen:01", "seen:02"]]

    await ownership.on_partitions_assigned([TopicPartition("t.inbound.gp", 0)])
    await sweep.step(session)  # type: ignore[arg-type]
    assert clients.writes[1:] == [
        ["seen:03", "seen:04", "seen:05"],
        ["seen:06", "seen:07", "seen:08"],
    ]
    assert list(state.scan()) == []
    state.close()


class _JoiningClients(_Clients):
    """A consumer that joins its group during its first fetch and returns a batch from it."""

    def __init__(self, stop: asyncio.Event) -> None:
        super().__init__()
        self._stop, self._fetched = stop, 0
        self.done: list[str] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t.inbound.gp", 0)} if self._fetched else set()

    async def fetch(self) -> dict[TopicPartition, list[object]]:
        self._fetched += 1
        if self._fetched > 1:
            self._stop.set()
            return {}
        return {TopicPartition("t.inbound.gp", 0): [object()]}

    async def write(self, records: Sequence[OutRecord]) -> None:
        self.done.append("sweep")
        await super().write(records)

    async def commit(self, batch: object, transform: object) -> None:
        self.done.append("batch")


async def test_the_sweep_at_start_comes_before_the_first_batch() -> None:
    """A batch fetched while the consumer joins its group waits for the sweep at start (legacy values stamped first)."""
    state = DiskStore()
    state.apply({"seen:00": {"seen_on": _OLD}})  # written before receipt dates: to be stamped
    ownership = router._Ownership(["t.inbound.gp"])
    await ownership.on_partitions_assigned([TopicPartition("t.inbound.gp", 0)])
    stop = asyncio.Event()
    clients = _JoiningClients(stop)
    session = SimpleNamespace(
        state=state, clients=clients, changelogs=_Changelogs(), ownership=ownership
    )
    hub_router = router.KafkaRouter(
        kafka=KafkaSettings(),
        retry=RetrySettings(),
        layout=TopicLayout("t"),
        registry=None,  # type: ignore[arg-type]
        pipeline=None,  # type: ignore[arg-type]
    )
    await hub_router._loop(session, stop)  # type: ignore[arg-type]
    assert clients.done == ["sweep", "batch"]
    state.close()
