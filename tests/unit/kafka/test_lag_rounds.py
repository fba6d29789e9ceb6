"""LagReader's reads of first unconsumed records: only what they keep is unpacked, a round at a time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

import hub.kafka.lag
from hub.kafka.lag import GroupLag, LagReader
from hub.kafka.types import TopicPartition
from hub.settings import KafkaSettings

PARTITIONS = 3
BACKLOG = 300  # records waiting in every partition, all fetched already


@dataclass(frozen=True)
class _Record:
    offset: int
    timestamp: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()


class _Admin:
    """The cluster: every topic has three partitions; no group ever committed."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [{"error_code": 0, "partitions": [{"partition": p} for p in range(PARTITIONS)]}]

    async def list_consumer_group_offsets(self, group: str, partitions: Any) -> dict[Any, Any]:
        return {}


@dataclass
class _Consumer:
    """A consumer that has fetched every partition's backlog already, as aiokafka hands it over.

    ``getmany`` returns at once, without a wait, while records are buffered; each call notes
    how many records it unpacked and the value of ``ticks`` (a task beside it counts).
    """

    ticks: list[int]
    calls: list[tuple[int, int]] = field(default_factory=list)
    _next: dict[TopicPartition, int] = field(default_factory=dict)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, BACKLOG)

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    def assign(self, tps: list[TopicPartition]) -> None:
        return None

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._next[tp] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self._next[tp]

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[_Record]]:
        batch: dict[TopicPartition, list[_Record]] = {}
        left = max_records
        for tp in tps:
            start = self._next[tp]
            got = [_Record(o) for o in range(start, min(BACKLOG, start + left))]
            if got:
                batch[tp] = got
                self._next[tp] += len(got)
                left -= len(got)
            if left == 0:
                break
        self.calls.append((sum(len(r) for r in batch.values()), self.ticks[0]))
        return batch


@dataclass
class _Built:
    """The stand-in consumers a reader built, in order, and the counter a task beside it advances."""

    ticks: list[int] = field(default_factory=lambda: [0])
    consumers: list[_Consumer] = field(default_factory=list)

    @property
    def reading(self) -> _Consumer:
        """The consumer of the one read (the reader's own, for offsets, is built first)."""
        _, reading = self.consumers
        return reading


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> _Built:
    """LagReader's clients replaced by stand-ins."""
    made = _Built()

    def consumer(*_: Any, **__: Any) -> _Consumer:
        made.consumers.append(_Consumer(made.ticks))
        return made.consumers[-1]

    monkeypatch.setattr(hub.kafka.lag, "admin_client", lambda *_: _Admin())

    async def started_consumer(*_: Any, **__: Any) -> _Consumer:
        return consumer()

    monkeypatch.setattr(hub.kafka.lag, "consumer", consumer)
    monkeypatch.setattr(hub.kafka.lag, "started_consumer", started_consumer)
    return made


async def _read_beside_a_counter(built: _Built, topics: list[str], records: int) -> GroupLag:
    reader = LagReader(KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    await reader.start()

    async def count() -> None:
        while True:
            built.ticks[0] += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count())
    try:
        return await reader.read("g", topics, records=records)
    finally:
        counter.cancel()
        await reader.close()


async def test_the_routers_lag_unpacks_one_record_per_partition(built: _Built) -> None:
    """Forty inbound topics with 300 fetched records each: 120 records unpacked, one per partition."""
    topics = [f"t.inbound.gp-{n}" for n in range(40)]
    lag = await _read_beside_a_counter(built, topics, records=1)

    assert sum(n for n, _ in built.reading.calls) == 40 * PARTITIONS
    assert lag.behind == 40 * PARTITIONS * BACKLOG
    assert all(len(p.first) == 1 for p in lag.partitions.values())


async def test_a_backlog_is_read_a_round_at_a_time(built: _Built) -> None:
    """Three partitions of 300 records, 500 kept per partition: rounds of at most 500, the loop run between them."""
    lag = await _read_beside_a_counter(built, ["t.deliveries.gp-1"], records=500)

    unpacked = [n for n, _ in built.reading.calls if n]
    assert sum(unpacked) == PARTITIONS * BACKLOG
    assert max(unpacked) <= 500
    seen = [tick for _, tick in built.reading.calls]
    assert seen == sorted(set(seen)), "another task ran between every two rounds"
    assert lag.behind == PARTITIONS * BACKLOG
