"""The audit feed keeps up in rounds: a batch of fewer than its most waits out its round."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.audit import feed as feed_module
from hub.audit.feed import AuditFeed
from hub.settings import AuditSettings, KafkaSettings
from hub.topics import TopicLayout


class _Store:
    def add(self, records: Any) -> int:
        return len(records)

    def add_attempts(self, attempts: Any) -> int:
        return len(attempts)

    def close(self) -> None:
        pass


@pytest.fixture
def feed(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(feed_module, "open_store", lambda _url: _Store())
    monkeypatch.setattr(feed_module, "split_records", lambda values: ([], [], []))
    made = AuditFeed(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        audit=AuditSettings(),
        layout=TopicLayout("t"),
        min_round_seconds=3600.0,
    )
    yield made
    made._pool.shutdown(wait=True)


async def test_a_small_batch_waits_out_its_round_until_the_feed_stops(feed: AuditFeed) -> None:
    """Caught up: the next batch (and its offsets' commit) waits; a stop ends the wait at once."""
    handling = asyncio.create_task(feed._handle([b"{}"] * 3))
    await asyncio.sleep(0.05)
    assert not handling.done()
    feed._stopping.set()
    async with asyncio.timeout(5):
        await handling


async def test_a_full_batch_is_followed_by_the_next_at_once(feed: AuditFeed) -> None:
    """Behind: batches of the most records follow each other without a wait."""
    async with asyncio.timeout(5):
        await feed._handle([b"{}"] * feed_module._MAX_RECORDS)
