"""The unresolved dead letters for the operations page, read by `hub run` in the background.

Every interval it reads the dead-letter topic and the operators' log as `hub dlq list`
does, and keeps those the log does not record as replayed (``replayed``): a replay that
is dead-lettered again is a new dead letter with an id of its own, so it is listed anew.
The page reads the last snapshot; a request never waits for Kafka. Kafka trouble keeps
the last snapshot (``deadletters_check_failed``) and is tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from hub.kafka import is_kafka_failure
from hub.kafka.inspection import TopicMissing
from hub.observability.logging import get_logger
from hub.operations.deadletters import ListedDeadLetter, read_dead_letters
from hub.operations.log import read_operations, replayed
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

__all__ = ["DeadLetterBoard", "unresolved"]

_log = get_logger()


def unresolved(
    letters: list[ListedDeadLetter], replayed_ids: set[str], now: datetime
) -> list[dict[str, Any]]:
    """The dead letters not replayed, newest first: id, partner, code, age; never event data."""
    return [
        {
            "id": d.id,
            "partner": d.partner,
            "code": d.code,
            "written_at": d.written_at.isoformat(),
            "age_seconds": max(0.0, (now - d.written_at).total_seconds()),
            "replays": d.replays,
        }
        for d in reversed(letters)
        if d.id not in replayed_ids
    ]


class DeadLetterBoard:
    """Keeps a snapshot of the unresolved dead letters, refreshed every ``interval_seconds``."""

    def __init__(self, *, kafka: KafkaSettings, layout: TopicLayout, interval_seconds: float):
        self._kafka = kafka
        self._layout = layout
        self._interval = interval_seconds
        self._letters: list[ListedDeadLetter] = []
        self._replayed: set[str] = set()
        self._checked_at: float | None = None

    def snapshot(self) -> dict[str, Any]:
        """The last reading: when, how many dead letters in all, and the unresolved ones (ages now)."""
        open_ = unresolved(self._letters, self._replayed, datetime.now(UTC))
        return {
            "checked_at": self._checked_at,
            "total": len(self._letters),
            "unresolved_count": len(open_),
            "unresolved": open_,
        }

    async def check(self) -> None:
        """Read the dead-letter topic and the operators' log once."""
        letters = await read_dead_letters(self._kafka, self._layout)
        operations = await read_operations(self._kafka, self._layout)
        self._letters, self._replayed = letters, set(replayed(operations))
        self._checked_at = time.time()

    async def run(self, stop: asyncio.Event) -> None:
        """Read every interval until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.check()
            except Exception as exc:
                # A topic not there yet: the router creates it as it starts.
                expected = isinstance(exc, TopicMissing | OSError | TimeoutError)
                if not expected and not is_kafka_failure(exc):
                    raise
                _log.warning("deadletters_check_failed", exc_type=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
