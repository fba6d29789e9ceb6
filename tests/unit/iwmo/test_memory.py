"""``MemoryIwmoState``: the translator's reads over the routing state and its own records."""

from __future__ import annotations

from datetime import date
from typing import Any

from hub.families.state import assignment_key, care_starts
from hub.iwmo import AssignedProduct, AssignmentRecord, ProductRef
from hub.iwmo.memory import MemoryIwmoState
from hub.state import StateStore

from .iwmo_helpers import CLIENT_BSN, PROVIDER_AGB, pseudonymise

CLIENT = pseudonymise(CLIENT_BSN)
REPRESENTATIVE = pseudonymise("999900018")


def issued(**changes: Any) -> dict[str, Any]:
    """An assignment value as the care family writes it."""
    value: dict[str, Any] = {
        "provider_agb": PROVIDER_AGB,
        "status": "new",
        "law": "wmo",
        "product": {"category": "03", "code": "03B12"},
        "period": {"start": "2026-09-01", "end": "2027-08-31"},
        "result_areas": [],
        "decision_id": "BES-1",
        "subjects": sorted([CLIENT, REPRESENTATIVE]),
        "care": {},
        "plan_version": 0,
    }
    value.update(changes)
    return value


def state_with(number: str, value: dict[str, Any]) -> MemoryIwmoState:
    store = StateStore()
    store.apply({assignment_key(number): value})
    return MemoryIwmoState(store, assignment_key, care_starts)


def record(number: str, *, budget: int | None = None) -> AssignmentRecord:
    product = AssignedProduct(
        number=int(number),
        category="03",
        code=None if budget is not None else "03B12",
        issued_on=date(2026, 9, 13),
        issued_at="10:00:00",
        start=date(2026, 9, 1),
        end=date(2027, 8, 31),
        budget_cents=budget,
    )
    return AssignmentRecord(number, PROVIDER_AGB, CLIENT, False, product, date(2027, 8, 31))


def test_an_assignment_is_found_by_its_number_as_an_integer() -> None:
    """A ToewijzingNummer matches an assignment issued with leading zeros; facts come from the state."""
    state = state_with("00123", issued())
    facts = state.assignment(123)
    assert facts is not None
    assert facts.number == "00123"
    assert facts.product == ProductRef("03", "03B12")
    assert (facts.period_start, facts.period_end) == (date(2026, 9, 1), date(2027, 8, 31))
    assert facts.clients == frozenset({CLIENT, REPRESENTATIVE})
    assert facts.budget is False
    assert state.assignment(124) is None


def test_the_301_sent_gives_the_client_and_the_budget() -> None:
    """With a 301 sent, the client is its client alone and a budget scope is known."""
    state = state_with("26000311", issued())
    state.records["26000311"] = record("26000311", budget=240000)
    facts = state.assignment(26000311)
    assert facts is not None
    assert facts.clients == frozenset({CLIENT})
    assert facts.budget is True


def test_care_reported_with_json_events_is_a_start_with_its_stop() -> None:
    """Without an iWmo care record, the state's started_on/stopped_on read as one start and stop."""
    care = {"started_on": "2026-10-01", "stopped_on": "2026-12-31", "stop_reason": "02"}
    state = state_with("26000311", issued(care=care))
    state.records["26000311"] = record("26000311")
    assert state.deliveries("26000311") == {
        "starts": [
            {
                "client": CLIENT,
                "category": "03",
                "code": "03B12",
                "begin": "2026-10-01",
                "deleted": False,
                "stops": [{"end": "2026-12-31", "reason": "02", "deleted": False}],
            }
        ]
    }
    # Two subjects and no 301: whose start it was is unknown, so none is assumed.
    assert state_with("26000311", issued(care=care)).deliveries("26000311") == {"starts": []}
    assert state.deliveries("99") == {"starts": []}
