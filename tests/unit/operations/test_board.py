"""The operations page's dead letters: those not replayed, newest first, ids and codes only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hub.errors import ErrorCode
from hub.operations.board import DeadLetterBoard, unresolved
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

from .test_deadletters import letter, listed


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
