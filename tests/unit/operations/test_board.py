"""The operations page's dead letters: those not replayed, newest first, ids and codes only."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import timedelta

import pytest

from hub.errors import ErrorCode
from hub.kafka import TopicPartition
from hub.operations import board as board_module
from hub.operations.board import BoardRow, DeadLetterBoard, unresolved
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

from .test_deadletters import _Record, letter, listed


def test_a_replayed_dead_letter_is_not_unresolved_and_the_rest_show_no_data() -> None:
    """The ids the log records as replayed are left out; each row is id, partner, code, age and replays."""
    first = listed(letter(ErrorCode.UNKNOWN_REFERENCE), offset=4)
    second = listed(letter(ErrorCode.FIELD_UNKNOWN, replays=1), offset=5)
    now = first.written_at + timedelta(seconds=30)
    rows = unresolved([first, second], {"dl-2-4"}, now)
    assert rows == [
        {
            "id": "dl-2-5",
            "partner": "gp-de-linde",
            "code": "FIELD_UNKNOWN",
            "written_at": "2026-01-05T09:30:00+00:00",
            "age_seconds": 30.0,
            "replays": 1,
        }
    ]
    assert unresolved([first, second], set(), now)[1]["id"] == "dl-2-4"  # newest first


async def test_a_stop_does_not_wait_for_a_reading_kafka_does_not_answer() -> None:
    """The board returns at once when stopped while a reading hangs; a Kafka failure is logged, not raised."""
    board = DeadLetterBoard(kafka=KafkaSettings(), layout=TopicLayout("t"), interval_seconds=0.01)
    started = asyncio.Event()

    async def hanging() -> None:
        started.set()
        await asyncio.sleep(3600)

    board.check = hanging  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(board.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert board.snapshot()["checked_at"] is None

    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            stop.set()
        raise OSError("connection refused")

    board.check = refused  # type: ignore[method-assign]
    stop.clear()
    await asyncio.wait_for(board.run(stop), 5)
    assert calls == 2


def _record(replays: int = 0, offset: int = 4, partition: int = 2, minute: int = 0) -> _Record:
    dead = letter(ErrorCode.UNKNOWN_REFERENCE, replays=replays)
    record = _Record(dead.to_json(), key=dead.key, headers=list(dead.headers), offset=offset)
    record.partition, record.timestamp = partition, record.timestamp + minute * 60_000
    return record


@pytest.mark.parametrize("replays", [0, 2])
def test_a_row_says_what_the_full_listing_says(replays: int) -> None:
    """A board row (from the headers, or the value for a replay's) matches the dead letter's listing."""
    record = _record(replays)
    row, full = BoardRow.of(record), listed(letter(ErrorCode.UNKNOWN_REFERENCE, replays=replays))  # type: ignore[arg-type]
    assert (row.id, row.partner, row.code, row.written_at, row.replays) == (
        full.id,
        full.partner,
        full.code,
        full.written_at,
        full.replays,
    )


def _small_board(monkeypatch: pytest.MonkeyPatch) -> DeadLetterBoard:
    """A board that keeps 3 rows, over a topic kept for a day."""
    monkeypatch.setattr(board_module, "KEEP", 3)
    return DeadLetterBoard(
        kafka=KafkaSettings(personal_retention_ms=86_400_000),
        layout=TopicLayout("t"),
        interval_seconds=5,
    )


def test_the_board_keeps_the_newest_rows_counts_all_and_forgets_past_retention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond KEEP the oldest rows go (still counted in total); rows older than the topic's retention go too."""
    board = _small_board(monkeypatch)
    board._take(TopicPartition("t.deadletter", 2), [_record(offset=n) for n in range(5)])  # type: ignore[list-item]
    snapshot = board.snapshot()
    assert snapshot["total"] == 5
    assert [r["id"] for r in snapshot["unresolved"]] == ["dl-2-4", "dl-2-3", "dl-2-2"]
    written = board._rows[0].written_at
    board._forget_expired(written + timedelta(days=1, seconds=1))
    assert board.snapshot()["total"] == 0


def test_the_board_keeps_the_newest_of_all_partitions_newest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Partitions read one after another still give the newest KEEP rows, listed newest first."""
    board = _small_board(monkeypatch)
    # Minutes 0, 2, 4 on partition 0 and 1, 3, 5 on partition 1: partition 1 is read last.
    for partition in (0, 1):
        records = [
            _record(offset=n, partition=partition, minute=2 * n + partition) for n in range(3)
        ]
        board._take(TopicPartition("t.deadletter", partition), records)  # type: ignore[arg-type]
    snapshot = board.snapshot()
    assert snapshot["total"] == 6
    assert [r["id"] for r in snapshot["unresolved"]] == ["dl-1-2", "dl-0-2", "dl-1-1"]
    written = board._rows[0].written_at  # minute 3: the dropped minutes 0-2 went before it
    board._forget_expired(written + timedelta(days=1, microseconds=1))
    assert [r["id"] for r in board.snapshot()["unresolved"]] == ["dl-1-2", "dl-0-2"]
    assert board.snapshot()["total"] == 2


def headed(partner: str, code: str, offset: int, minute: int = 0) -> _Record:
    """A dead-letter record the board reads from its headers alone (no replays in its value)."""
    headers = [("hub-partner", partner.encode()), ("hub-reason-code", code.encode())]
    record = _Record(b"{}", key=b"k", headers=headers, offset=offset)
    record.partition, record.timestamp = 0, record.timestamp + minute * 60_000
    return record


def filled_board(records: list[_Record], replayed_ids: Collection[str] = ()) -> DeadLetterBoard:
    """A board holding ``records`` (read as one run of partition 0), with ``replayed_ids`` logged."""
    board = DeadLetterBoard(kafka=KafkaSettings(), layout=TopicLayout("t"), interval_seconds=5)
    board._take(TopicPartition("t.deadletter", 0), records)  # type: ignore[arg-type]
    board._replayed = set(replayed_ids)
    board._tally = None  # as check() leaves it after reading the log
    return board


def test_the_snapshot_lists_the_newest_up_to_its_limit_and_counts_every_unresolved_one() -> None:
    """With a limit the listing is the newest rows not replayed; the counts per partner, code and both cover all of them, the most first."""
    records = [headed("gp-a", "UNKNOWN_REFERENCE", n, minute=n) for n in range(6)]
    records += [headed("gp-b", "FIELD_UNKNOWN", 6 + n, minute=6 + n) for n in range(3)]
    records.append(headed("gp-b", "UNKNOWN_REFERENCE", 9, minute=9))
    board = filled_board(records, replayed_ids={"dl-0-9", "dl-0-0"})
    snapshot = board.snapshot(limit=3)
    assert [r["id"] for r in snapshot["unresolved"]] == ["dl-0-8", "dl-0-7", "dl-0-6"]
    assert {k: v for k, v in snapshot.items() if k != "unresolved"} == {
        "checked_at": None,
        "total": 10,
        "held": 10,
        "unresolved_count": 8,
        "by_partner": [{"partner": "gp-a", "count": 5}, {"partner": "gp-b", "count": 3}],
        "by_code": [
            {"code": "UNKNOWN_REFERENCE", "count": 5},
            {"code": "FIELD_UNKNOWN", "count": 3},
        ],
        "by_partner_and_code": [
            {"partner": "gp-a", "code": "UNKNOWN_REFERENCE", "count": 5},
            {"partner": "gp-b", "code": "FIELD_UNKNOWN", "count": 3},
        ],
        "partner": None,
        "limit": 3,
        "matching": 8,
    }
    assert len(board.snapshot()["unresolved"]) == 8  # no limit: every one, as before


def test_the_snapshot_lists_one_partners_rows_and_keeps_the_whole_boards_counts() -> None:
    """With a partner the listing is that partner's newest; ``matching`` is its count, an unknown partner's is 0."""
    records = [headed("gp-a", "UNKNOWN_REFERENCE", n, minute=n) for n in range(5)]
    records += [headed("gp-b", "FIELD_UNKNOWN", 5 + n, minute=5 + n) for n in range(5)]
    board = filled_board(records)
    snapshot = board.snapshot(limit=2, partner="gp-a")
    assert [r["id"] for r in snapshot["unresolved"]] == ["dl-0-4", "dl-0-3"]
    assert [r["partner"] for r in snapshot["unresolved"]] == ["gp-a", "gp-a"]
    assert (snapshot["partner"], snapshot["matching"], snapshot["unresolved_count"]) == (
        "gp-a",
        5,
        10,
    )
    assert len(snapshot["by_partner"]) == 2
    nobody = board.snapshot(limit=2, partner="gp-nobody")
    assert (nobody["unresolved"], nobody["matching"]) == ([], 0)


def test_the_counts_follow_new_rows_replays_and_retention() -> None:
    """The counts kept between requests are taken again after new rows, a new replay log and rows past retention."""
    board = filled_board([headed("gp-a", "FIELD_UNKNOWN", n, minute=n) for n in range(3)])
    assert board.snapshot(limit=1)["unresolved_count"] == 3
    board._take(TopicPartition("t.deadletter", 0), [headed("gp-b", "FIELD_UNKNOWN", 3, minute=3)])  # type: ignore[list-item]
    assert board.snapshot(limit=1)["by_partner"] == [
        {"partner": "gp-a", "count": 3},
        {"partner": "gp-b", "count": 1},
    ]
    board._replayed, board._tally = {"dl-0-3"}, None  # as check() sets them
    assert board.snapshot(limit=1)["by_partner"] == [{"partner": "gp-a", "count": 3}]
    board._forget_expired(board._rows[1].written_at + board._retention)
    assert board.snapshot(limit=1)["unresolved_count"] == 2
