"""The operations page's dead letters: those not replayed, newest first, ids and codes only."""

from __future__ import annotations

from datetime import timedelta

from hub.errors import ErrorCode
from hub.operations.board import unresolved

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
