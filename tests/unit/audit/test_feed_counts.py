"""The audit feed's metrics count what the store gained: no batch twice, no checkpoint as invalid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.audit.chain import ChainHead, Signer
from hub.audit.feed import AuditFeed, BatchReport
from hub.audit.record import AttemptResult
from hub.settings import AuditSettings, KafkaSettings
from hub.topics import TopicLayout

from .store_cases import attempt, record


@pytest.fixture
def reports() -> list[BatchReport]:
    return []


@pytest.fixture
def feed(tmp_path: Path, reports: list[BatchReport]) -> Iterator[AuditFeed]:
    made = AuditFeed(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        audit=AuditSettings(store_url=f"sqlite:///{tmp_path / 'audit.sqlite3'}"),
        layout=TopicLayout("t"),
        on_batch=reports.append,
        min_round_seconds=0.0,
    )
    yield made
    made._pool.submit(made._drop_store).result()  # sqlite3 objects are thread-bound
    made._pool.shutdown(wait=True)


async def test_a_batch_read_again_after_a_restart_is_not_counted_again(
    feed: AuditFeed, reports: list[BatchReport]
) -> None:
    """A child killed before its offsets' commit reads its last batch again: the store gains nothing, the counters neither."""
    one, two = record(1), record(2)
    batch = [one.to_json(), two.to_json(), attempt(1, one, AttemptResult.FAILED, 503).to_json()]

    await feed._handle(batch)
    await feed._handle(batch)

    assert [(r.disclosures, r.attempts, r.invalid) for r in reports] == [(2, 1, 0), (0, 0, 0)]


async def test_a_chain_checkpoint_is_not_counted_as_an_unreadable_record(
    feed: AuditFeed, reports: list[BatchReport]
) -> None:
    """Signed checkpoints are part of the log (every hundredth record with signing on), not a hub bug."""
    checkpoint = Signer("demo", bytes(range(32))).checkpoint(
        "t.inbound.gp-de-linde/0", ChainHead(1, "0" * 64), datetime(2026, 11, 30, tzinfo=UTC)
    )

    await feed._handle([record(3).to_json(), checkpoint.to_json()])

    assert [(r.disclosures, r.attempts, r.invalid) for r in reports] == [(1, 0, 0)]
