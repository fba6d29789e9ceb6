"""The ledger writer: one transaction per write, a batch per partition, in order, tombstones kept."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.kafka import ledger as module
from hub.kafka.ledger import LedgerWriter
from hub.kafka.transactions import partition_for
from hub.settings import KafkaSettings

_PARTITIONS = [0, 1, 2, 3, 4, 5]


class FakeBuilder:
    """aiokafka's batch builder: holds ``room`` records, then answers None (full)."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.records: list[tuple[bytes | None, bytes | None]] = []
        self.closed = False

    def append(
        self, *, timestamp: None, key: bytes | None, value: bytes | None, headers: list[Any]
    ) -> object | None:
        if len(self.records) >= self.room:
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """Records what is sent in which transaction, partition by partition."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.sent: list[tuple[str, int, list[tuple[bytes | None, bytes | None]]]] = []
        self.transactions = 0
        self.in_transaction = False

    async def partitions_for(self, topic: str) -> set[int]:
        return set(_PARTITIONS)

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder(self.room)

    async def send_batch(self, builder: FakeBuilder, topic: str, *, partition: int) -> Any:
        assert self.in_transaction
        self.sent.append((topic, partition, list(builder.records)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.in_transaction = True
        try:
            yield
        finally:
            self.in_transaction = False
            self.transactions += 1


def _writer(monkeypatch: pytest.MonkeyPatch, room: int) -> tuple[LedgerWriter, FakeProducer]:
    fake = FakeProducer(room)
    monkeypatch.setattr(module, "producer", lambda kafka, **options: fake)
    writer = LedgerWriter(
        KafkaSettings(bootstrap_servers="127.0.0.1:9"), topic="kpi", transactional_id="hub-kpi"
    )
    return writer, fake


async def test_records_go_to_their_keys_partitions_in_order_in_one_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer, fake = _writer(monkeypatch, room=100)
    records: list[tuple[bytes, bytes | None]] = [
        (f"open\x1freferral\x1fR-{n}".encode(), f"{n}".encode()) for n in range(20)
    ]
    records.append((records[3][0], None))  # a tombstone for a key written earlier
    await writer.write(records)
    assert fake.transactions == 1
    written = {(topic, partition): batch for topic, partition, batch in fake.sent}
    for key, value in records:
        assert (key, value) in written["kpi", partition_for(key, _PARTITIONS)]
    # Within a partition, the order of the write: the tombstone after the value it replaces.
    batch = written["kpi", partition_for(records[3][0], _PARTITIONS)]
    assert batch.index((records[3][0], b"3")) < batch.index((records[3][0], None))
    assert sum(len(b) for b in written.values()) == len(records)


async def test_a_full_batch_is_sent_and_the_partitions_next_records_follow_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer, fake = _writer(monkeypatch, room=2)
    key = b"open\x1fcase\x1fC-1"
    await writer.write([(key, f"{n}".encode()) for n in range(5)])
    assert [batch for _, _, batch in fake.sent] == [
        [(key, b"0"), (key, b"1")],
        [(key, b"2"), (key, b"3")],
        [(key, b"4")],
    ]
    assert fake.transactions == 1


async def test_an_empty_write_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    writer, fake = _writer(monkeypatch, room=10)
    await writer.write([])
    assert fake.sent == []
