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
# Longest one reading may take; then it counts as failed and the next one starts afresh.
_READING_LIMIT_SECONDS = 60.0


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
        """Read every interval until ``stop`` is set; a reading under way when it is set is dropped."""
        while not stop.is_set():
            # A reading waits on Kafka (minutes, while it does not answer): a stop must not.
            reading = asyncio.create_task(self._bounded())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
                return
            exc = reading.exception()
            if exc is not None:
                # A topic not there yet: the router creates it as it starts.
                expected = isinstance(exc, TopicMissing | OSError | TimeoutError)
                if not expected and not is_kafka_failure(exc):
                    raise exc
                _log.warning("deadletters_check_failed", exc_type=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)

    async def _bounded(self) -> None:
        async with asyncio.timeout(_READING_LIMIT_SECONDS):
            await self.check()
