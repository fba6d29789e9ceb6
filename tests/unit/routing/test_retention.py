"""Routing state is forgotten after its retention, and only then (privacy.md, "Retention")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hub.routing.retention import expired_keys, held_sweep, legacy_keys
from hub.state import StateStore
from hub.testing import OMIT, InMemoryPipeline, make_event

TODAY = date(2028, 1, 1)
TWO_YEARS = timedelta(days=730)
THIRTY_DAYS = timedelta(days=30)


def _expired(values: dict[str, dict[str, object]]) -> list[str]:
    store = StateStore()
    store.apply(values)
    return sorted(expired_keys(store, TODAY, retention=TWO_YEARS, seen_retention=THIRTY_DAYS))


def test_seen_markers_last_as_long_as_the_inbound_topics() -> None:
    """A dedupe marker goes after the inbound retention; a recent one stays."""
    assert _expired(
        {
            "seen:old": {"received_on": "2027-11-30"},
            "seen:recent": {"received_on": "2027-12-15"},
        }
    ) == ["seen:old"]


@pytest.mark.parametrize(
    ("hours", "kept_through"),
    [(12, "2027-12-31"), (24, "2027-12-31"), (36, "2027-12-30"), (48, "2027-12-30")],
)
def test_an_inbound_retention_with_part_of_a_day_counts_the_whole_day(
    hours: int, kept_through: str
) -> None:
    """Receipt is dated by day (it may have come at 23:59): 36 hours keep a marker two days."""
    store = StateStore()
    store.apply({"seen:a": {"received_on": kept_through}})
    retention = timedelta(hours=hours)
    assert not list(expired_keys(store, TODAY, retention=TWO_YEARS, seen_retention=retention))
    day_before = (date.fromisoformat(kept_through) - timedelta(days=1)).isoformat()
    store.apply({"seen:a": {"received_on": day_before}})
    expired = list(expired_keys(store, TODAY, retention=TWO_YEARS, seen_retention=retention))
    assert expired == ["seen:a"]


def test_ended_assignments_and_closed_cases_go_two_years_after_they_ended() -> None:
    """An assignment or case is kept two years after it ended; a live one is kept however old."""
    assert _expired(
        {
            "assignment:1": {"ended_on": "2025-12-01", "received_on": "2025-12-01"},
            "assignment:2": {"ended_on": "2026-06-01", "received_on": "2026-06-01"},
            "assignment:3": {"received_on": "2020-01-01"},  # live: never ended
            "case:A": {
                "closed_on": "2025-12-01",
                "ended_on": "2025-12-01",
                "received_on": "2025-12-01",
            },
            "case-assignments:A": {"assignments": ["1"], "received_on": "2025-01-01"},
            "case:B": {"received_on": "2020-01-01"},  # open
            "case-assignments:B": {"assignments": ["3"], "received_on": "2020-01-01"},
        }
    ) == ["assignment:1", "case-assignments:A", "case:A"]


def test_linked_keys_stay_while_their_case_is_open() -> None:
    """An old referral of an open case stays; of a closed-and-expired case, or of none, it goes."""
    assert _expired(
        {
            "case:OPEN": {"received_on": "2020-01-01"},
            "case:SHUT": {
                "closed_on": "2025-01-01",
                "ended_on": "2025-01-01",
                "received_on": "2025-01-01",
            },
            "referral:1": {"case_id": "OPEN", "received_on": "2020-01-01"},
            "referral:2": {"case_id": "SHUT", "received_on": "2025-01-01"},
            "referral:3": {"received_on": "2025-01-01"},
            "referral:4": {"received_on": "2027-01-01"},
            "decision:D": {"request_id": "R", "received_on": "2025-01-01"},
        }
    ) == ["case:SHUT", "decision:D", "referral:2", "referral:3"]


def test_what_a_case_links_stays_the_retention_after_the_case_ended() -> None:
    """A referral or request received years before its case closed goes two years after the closing, not after its own receipt."""
    assert (
        _expired(
            {
                "case:LONG": {
                    "closed_on": "2027-03-01",
                    "ended_on": "2027-03-01",
                    "received_on": "2027-03-01",
                },
                "referral:R": {"case_id": "LONG", "received_on": "2024-01-05"},
                "provision-request:Q": {"case_id": "LONG", "received_on": "2024-02-01"},
                "case-assignments:LONG": {"assignments": ["7"], "received_on": "2024-03-01"},
            }
        )
        == []
    )


def test_a_decision_and_a_handed_over_report_stay_with_the_case_they_are_linked_to() -> None:
    """A decision goes with its request's case, a safety report with the case its handover became."""
    open_case = {"received_on": "2025-04-01"}
    assert _expired(
        {
            "case:OPEN": open_case,
            "provision-request:Q": {"case_id": "OPEN", "received_on": "2025-04-01"},
            "decision:D": {"request_id": "Q", "received_on": "2025-04-01"},
            "decision:GONE": {"request_id": "UNKNOWN", "received_on": "2025-04-01"},
            "safety-case:VT": {"case_id": "OPEN", "report_id": "R", "received_on": "2025-04-01"},
            "case:SHUT": {"ended_on": "2025-05-01", "received_on": "2025-05-01"},
            "safety-case:VT2": {"case_id": "SHUT", "report_id": "R", "received_on": "2025-04-01"},
            # Handed over twice: kept while either case is open.
            "safety-report:R": {"safety_case_ids": ["VT2", "VT"], "received_on": "2025-04-01"},
        }
    ) == ["case:SHUT", "decision:GONE", "safety-case:VT2"]


def test_an_index_of_assignments_issued_before_their_case_counts_from_its_receipt() -> None:
    """Assignments may name a case the hub has not seen opened yet: their index is kept, not swept at once."""
    assert _expired(
        {
            "case-assignments:NOT-YET": {"assignments": ["7"], "received_on": "2027-12-30"},
            "case-assignments:NEVER": {"assignments": ["8"], "received_on": "2025-01-01"},
        }
    ) == ["case-assignments:NEVER"]


def test_a_closed_case_counts_from_receipt_of_its_closure_not_from_closed_on() -> None:
    """A case closed (by its data) in 2020 but whose closure the hub received recently is kept."""
    assert (
        _expired(
            {
                "case:LATE": {
                    "closed_on": "2020-01-01",
                    "ended_on": "2027-06-01",
                    "received_on": "2027-06-01",
                }
            }
        )
        == []
    )


def test_values_without_receipt_dates_are_never_swept_by_their_old_dates() -> None:
    """State written before receipt dates is stamped with today, not judged by the sender's dates."""
    values: dict[str, dict[str, object]] = {
        "seen:old": {"seen_on": "2020-01-01"},
        "referral:R": {"updated_on": "2020-01-01", "consent": True},
        "assignment:1": {"ended_on": "2020-01-01", "updated_on": "2020-01-01"},
        "case:C": {"closed_on": "2020-01-01", "updated_on": "2020-01-01"},
        "seen:new": {"received_on": "2027-12-31"},
    }
    assert _expired(values) == []
    store = StateStore()
    store.apply(values)
    assert dict(legacy_keys(store, TODAY)) == {
        "seen:old": {"received_on": "2028-01-01"},
        "referral:R": {"consent": True, "received_on": "2028-01-01"},
        "assignment:1": {"ended_on": "2028-01-01", "received_on": "2028-01-01"},
        "case:C": {
            "closed_on": "2020-01-01",
            "ended_on": "2028-01-01",
            "received_on": "2028-01-01",
        },
    }


def test_what_iwmo_keeps_per_301_goes_with_its_assignments() -> None:
    """A kept record goes with its assignment; a client index or a 301 sent with the last it lists."""
    assert _expired(
        {
            "assignment:1": {"ended_on": "2025-12-01", "received_on": "2025-12-01"},
            "assignment:2": {"received_on": "2020-01-01"},  # live
            "iwmo-assignment:1": {"number": "1", "received_on": "2025-01-01"},
            "iwmo-assignment:2": {"number": "2", "received_on": "2020-01-01"},
            "iwmo-assignment:3": {"number": "3", "received_on": "2027-12-01"},  # no assignment
            "iwmo-client:aa": {"numbers": ["1"], "received_on": "2025-01-01"},
            "iwmo-client:bb": {"numbers": ["1", "2"], "received_on": "2020-01-01"},
            "iwmo-301:73730001:0c4435bad64e": {"numbers": ["1"], "received_on": "2025-01-01"},
            "iwmo-301:73730001:1d5546cbe75f": {"numbers": ["2", "1"], "received_on": "2020-01-01"},
        }
    ) == [
        "assignment:1",
        "iwmo-301:73730001:0c4435bad64e",
        "iwmo-assignment:1",
        "iwmo-assignment:3",
        "iwmo-client:aa",
    ]


def test_a_step_judges_only_its_entries_against_the_whole_state() -> None:
    """With ``entries`` only those keys are judged, and what they link to is read from the state."""
    store = StateStore()
    store.apply(
        {
            "case:A": {
                "closed_on": "2025-12-01",
                "ended_on": "2025-12-01",
                "received_on": "2025-12-01",
            },
            "case-assignments:A": {"assignments": ["1"], "received_on": "2025-01-01"},
            "seen:old": {"received_on": "2027-11-30"},
            "seen:legacy": {"seen_on": "2020-01-01"},
        }
    )
    step = [(key, value) for key, value in store.scan() if key != "case:A"]
    expired = expired_keys(
        store, TODAY, retention=TWO_YEARS, seen_retention=THIRTY_DAYS, entries=step
    )
    assert sorted(expired) == ["case-assignments:A", "seen:old"]
    assert [
        key for key, _ in legacy_keys(store, TODAY, entries=[e for e in step if e[0] == "seen:old"])
    ] == []
    assert [key for key, _ in legacy_keys(store, TODAY, entries=step)] == ["seen:legacy"]


def test_a_case_opened_again_after_its_closing_is_open() -> None:
    """Re-opened, a case loses its closing: its retention does not run from the earlier one."""
    hub = InMemoryPipeline()
    opened = {"case_id": "C5", "origin": OMIT, "envelope": {"subject": "C5"}}
    hub.feed(make_event("cases.opened", **opened))
    hub.feed(make_event("cases.closed", case_id="C5", envelope={"subject": "C5"}))
    assert "ended_on" in (hub.state.get("case:C5") or {})
    hub.feed(make_event("cases.opened", **opened))
    case = hub.state.get("case:C5") or {}
    assert "ended_on" not in case
    assert "closed_on" not in case


def test_held_plans_go_after_the_personal_data_retention_and_unstamped_ones_are_stamped() -> None:
    """Held content is personal data: its own retention, from receipt; a plan held before stamps is stamped today."""
    held = StateStore()
    held.apply(
        {
            "plan:OLD": {"plan_version": 1, "received_on": "2025-12-01"},
            "plan:EDGE": {"plan_version": 1, "received_on": "2025-12-06"},
            "plan:LEGACY": {"plan_version": 1},
        }
    )
    expired, stamped = held_sweep(held, date(2026, 1, 5), retention=timedelta(days=30))
    assert expired == ["plan:OLD"]
    assert stamped == {"plan:LEGACY": {"plan_version": 1, "received_on": "2026-01-05"}}


def test_an_assignment_whose_period_ran_out_goes_two_years_after_it_and_after_its_last_event() -> (
    None
):
    """Never stopped or withdrawn, its period over: ended too, but its clock still counts from receipt."""
    assert _expired(
        {
            # Period over in 2025, last event then: two years on, gone.
            "assignment:1": {
                "period": {"start": "2025-04-01", "end": "2025-12-31"},
                "received_on": "2025-03-24",
            },
            # Period over long ago, but received lately: kept two years from receipt.
            "assignment:2": {
                "period": {"start": "2020-01-01", "end": "2020-12-31"},
                "received_on": "2027-06-01",
            },
            # Period still running (or extended): kept.
            "assignment:3": {
                "period": {"start": "2025-04-01", "end": "2031-12-31"},
                "received_on": "2025-03-24",
            },
        }
    ) == ["assignment:1"]
