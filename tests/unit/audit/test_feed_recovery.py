"""The audit feed and group adoption recover from failures that the fault suite found."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError

from hub.audit import feed as feed_module
from hub.audit.feed import AuditFeed
from hub.kafka import clients as kafka_clients
from hub.settings import AuditSettings, KafkaSettings
from hub.topics import TopicLayout


class _BrokenThenFine:
    """A store whose first connection breaks (as after a PostgreSQL restart)."""

    opened = 0

    def __init__(self) -> None:
        type(self).opened += 1
        self.broken = type(self).opened == 1
        self.closed = False

    def add(self, records: Any) -> int:
        if self.broken:
            raise OSError("server closed the connection unexpectedly")
        return len(records)

    def add_attempts(self, attempts: Any) -> int:
        return len(attempts)

    def close(self) -> None:
        self.closed = True
        if self.broken:
            raise OSError("already closed")


async def test_the_feed_opens_a_new_store_connection_after_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the store fails, the batch is rewound and the next try uses a new connection, not the broken one."""
    monkeypatch.setattr(feed_module, "open_store", lambda _url: _BrokenThenFine())
    feed = AuditFeed(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1,127.0.0.1:2,"),
        audit=AuditSettings(),
        layout=TopicLayout("t"),
        retry_seconds=0.0,
        min_round_seconds=0.0,
    )
    try:
        with pytest.raises(OSError, match="closed the connection"):
            await feed._handle([])
        await feed._handle([])
    finally:
        feed._pool.shutdown(wait=True)
    assert _BrokenThenFine.opened == 2


async def test_adopting_offsets_waits_for_a_group_coordinator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a fresh cluster (no group coordinator yet) adoption is retried, not fatal."""
    calls: list[int] = []

    async def flaky(*_: Any, **__: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise GroupCoordinatorNotAvailableError()
        return 3

    monkeypatch.setattr(kafka_clients, "_adopt_committed_offsets", flaky)
    adopted = await kafka_clients.adopt_committed_offsets(
        KafkaSettings(bootstrap_servers="127.0.0.1:1"), legacy_group="old", group="new", topics=[]
    )
    assert (adopted, len(calls)) == (3, 2)
