"""An event whose id breaks the contract is dead-lettered without its id: it is never repeated."""

from __future__ import annotations

import pytest

from hub.errors import ErrorCode
from hub.routing.decision import OutcomeKind
from hub.testing import make_event

from .routing_helpers import InMemoryHub


@pytest.mark.parametrize(
    ("event_id", "code"),
    [
        ("Esther van Dalfsen 1986-02-11", ErrorCode.FORMAT_INVALID),
        ("999900018", ErrorCode.BSN_IN_IDENTIFIER),
        ("REF-999900018", ErrorCode.BSN_IN_IDENTIFIER),
        ("x" * 129, ErrorCode.TOO_LONG),
    ],
)
def test_an_invalid_id_is_not_reported_with_the_dead_letter(
    hub: InMemoryHub, event_id: str, code: ErrorCode
) -> None:
    """The outcome of an event with a contract-breaking id has no event_id, so no status key, dead letter or log holds it."""
    outcome = hub.send(make_event("cases.closed", envelope={"id": event_id}))
    assert outcome.kind is OutcomeKind.DEAD_LETTERED
    assert [(e.path, e.code) for e in outcome.errors] == [("id", code)]
    assert outcome.event_id is None
    assert outcome.source == "urn:nld:oin:00000001234567890000:systeem:wijkteam"


def test_a_valid_id_is_reported_with_the_dead_letter(hub: InMemoryHub) -> None:
    """An invalid event with a contract id keeps it in its outcome, so the sender can find its status."""
    outcome = hub.send(make_event("cases.closed", reason="x", envelope={"id": "ok-1"}))
    assert outcome.kind is OutcomeKind.DEAD_LETTERED
    assert outcome.event_id == "ok-1"
