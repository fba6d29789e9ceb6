"""The router's changelogs are read in bounded rounds, so the services beside it keep running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hub.router
from hub.router import _Changelogs
from hub.settings import KafkaSettings, StateSettings


async def test_changelogs_are_read_at_most_500_records_a_round(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Loading at start and catching up later take at most 500 records a round."""
    rounds: list[int | None] = []

    class RecordingReader:
        """A CompactedReader stand-in that notes how many records each round may take."""

        def __init__(self, *_: Any) -> None:
            return None

        async def open(self) -> None:
            return None

        async def catch_up(self, limit_seconds: float, max_records: int | None = None) -> int:
            rounds.append(max_records)
            return 0

        async def close(self) -> None:
            return None

    monkeypatch.setattr(hub.router, "CompactedReader", RecordingReader)
    changelogs = _Changelogs(
        KafkaSettings(), ("t.state", "t.held"), StateSettings(directory=tmp_path)
    )
    try:
        assert await changelogs.open() == 0
        assert await changelogs.catch_up() == 0
    finally:
        await changelogs.close()
    assert rounds == [500, 500]
