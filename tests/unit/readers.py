"""A stand-in for hub.kafka.CompactedReader that notes how many records each round may take."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar


class RecordingReader:
    """Reads nothing; notes each round in ``rounds`` as (method, max_records), and ``followed``."""

    rounds: ClassVar[list[tuple[str, int | None]]] = []
    followed: ClassVar[asyncio.Event] = asyncio.Event()

    def __init__(self, *_: Any) -> None:
        return None

    @classmethod
    def fresh(cls) -> type[RecordingReader]:
        """A subclass with its own rounds and event, for one test."""
        return type("RecordingReader", (cls,), {"rounds": [], "followed": asyncio.Event()})

    async def open(self, *_: Any) -> None:
        return None

    async def catch_up(self, limit_seconds: float = 30.0, max_records: int | None = None) -> int:
        self.rounds.append(("catch_up", max_records))
        return 0

    async def follow(self, poll_ms: int = 500, max_records: int | None = None) -> int:
        self.rounds.append(("follow", max_records))
        self.followed.set()
        await asyncio.sleep(0.01)
        return 0

    async def close(self) -> None:
        return None
