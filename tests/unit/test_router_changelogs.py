"""The router's changelogs are read in bounded rounds, so the services beside it keep running."""

from __future__ import annotations

from pathlib import Path

import pytest

import hub.router
from hub.router import _Changelogs
from hub.settings import KafkaSettings, StateSettings

from .readers import RecordingReader


async def test_changelogs_are_read_at_most_500_records_a_round(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Loading at start and catching up later take at most 500 records a round."""
    reader = RecordingReader.fresh()

    monkeypatch.setattr(hub.router, "CompactedReader", reader)
    changelogs = _Changelogs(
        KafkaSettings(), ("t.state", "t.held"), StateSettings(directory=tmp_path)
    )
    try:
        assert await changelogs.open() == 0
        assert await changelogs.catch_up() == 0
    finally:
        await changelogs.close()
    assert reader.rounds == [("catch_up", 500), ("catch_up", 500)]
