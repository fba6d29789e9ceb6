"""The rules that need state (messages.md), each with its exact path, code and sentence."""

from __future__ import annotations

from typing import Any

import pytest

from hub.families.state import assignment_key, is_live
from hub.routing import OutcomeKind

from .routing_helpers import InMemoryHub, example, variant

NOT_YOUR_ASSIGNMENT = {
    "path": "data.assignment_number",
    "code": "ASSIGNMENT_UNKNOWN",
    "message": "No assignment with this assignment_number is issued to the sending provider.",
}


def errors(hub: InMemoryHub, raw: dict[str, Any]) -> list[dict[str, str]]:
    """Send the event and return its rejection (asserting that it is one)."""
    outcome = hub.send(raw)
    assert outcome.kind is OutcomeKind.DEAD_LETTERED
    assert outcome.decision is not None
    assert outcome.decision.deliveries == ()
    return [e.as_dict() for e in outcome.errors]


def as_provider(raw: dict[str, Any], agb: str, number: str | None = None) -> dict[str, Any]:
    """The event as sent by another provider (and, optionally, about another assignment)."""
    raw = dict(raw)
    raw["id"] = f"{raw['id']}-as-{agb}-{number}"
    raw["source"] = f"urn:nld:agb:{agb}"
    raw["data"] = {**raw["data"], "provider_agb": agb}
    if number is not None:
        raw["data"]["assignment_number"] = number
        raw["subject"] = number
    return raw


# ------------------------------------------------------------------ ids already known


@pytest.mark.parametrize(
    ("file", "path", "message"),
    [
        (
            "referrals.submitted/valid/poh-ggz-referral.json",
            "data.referral_id",
            "A referral with this referral_id was already submitted.",
        ),
        (
            "safety-reports.submitted/valid/structural-unsafety.json",
            "data.report_id",
            "A safety report with this report_id was already submitted.",
        ),
        (
            "provisions.requested/valid/begeleiding-outputgericht.json",
            "data.request_id",
            "A provision request with this request_id was already submitted.",
        ),
        (
            "assignment-requests.submitted/valid/after-gp-referral.json",
            "data.request_id",
            "An assignment request with this request_id was already submitted.",
        ),
        (
            "assignments.issued/valid/new-outputgericht.json",
            "data.assignment_number",
            "An assignment with this assignment_number was already issued.",
        ),
    ],
)
def test_a_known_id_is_rejected(hub: InMemoryHub, file: str, path: str, message: str) -> None:
    """A second submission (new event id) with a known id or number is ID_ALREADY_KNOWN."""
    raw = example(file)
    assert hub.send(raw).kind is OutcomeKind.ACCEPTED
    again = variant(raw, "second-submission")
    assert errors(hub, again) == [{"path": path, "code": "ID_ALREADY_KNOWN", "message": message}]


# ------------------------------------------------------------------ unknown references


@pytest.mark.parametrize(
    ("file", "path", "message"),
    [
        (
            "referrals.status-changed/valid/received.json",
            "data.referral_id",
            "No referral with this referral_id is known.",
        ),
        (
            "safety-reports.feedback/valid/received.json",
            "data.report_id",
            "No safety report with this report_id is known.",
        ),
        (
            "provisions.decided/valid/begeleiding-granted.json",
            "data.request_id",
            "No provision request with this request_id is known.",
        ),
        (
            "cases.plan-updated/valid/first-plan.json",
            "data.case_id",
            "No case with this case_id is known.",
        ),
    ],
)
def test_an_unknown_reference_is_unroutable(
    hub: InMemoryHub, file: str, path: str, message: str
) -> None:
    """Naming a referral, report, request or case the hub never saw is unroutable."""
    outcome = hub.send(example(file))
    assert outcome.kind is OutcomeKind.DEAD_LETTERED
    assert outcome.unroutable is True
    assert [e.as_dict() for e in outcome.errors] == [
        {"path": path, "code": "UNKNOWN_REFERENCE", "message": message}
    ]


def test_a_plan_version_must_grow(hub: InMemoryHub) -> None:
    """A plan whose version is not higher than the last seen for the case is rejected."""
    hub.upto("cases.plan-updated/valid/first-plan.json")
    same = variant(example("cases.plan-updated/valid/first-plan.json"), "plan-again")
    assert errors(hub, same) == [
        {
            "path": "data.plan_version",
            "code": "PLAN_VERSION_NOT_NEWER",
            "message": "The plan_version must be higher than the last one the hub saw for this case.",
        }
    ]


# ------------------------------------------------------------------ assignments


def test_a_change_needs_an_earlier_new(hub: InMemoryHub) -> None:
    """A changed assignment whose number was never issued new is ASSIGNMENT_UNKNOWN."""
    assert errors(hub, example("assignments.issued/valid/changed-volume.json")) == [
        {
            "path": "data.assignment_number",
            "code": "ASSIGNMENT_UNKNOWN",
            "message": "No assignment with this assignment_number was issued; "
            "issue it with status new first.",
        }
    ]


def test_the_provider_of_an_assignment_cannot_change(hub: InMemoryHub) -> None:
    """A change naming another provider than the new did is PROVIDER_CHANGED."""
    hub.send(example("assignments.issued/valid/new-outputgericht.json"))
    moved = variant(
        example("assignments.issued/valid/changed-volume.json"), "moved", provider_agb="73730002"
    )
    assert errors(hub, moved) == [
        {
            "path": "data.provider_agb",
            "code": "PROVIDER_CHANGED",
            "message": "The provider of an assignment cannot change; withdraw it and issue a new one.",
        }
    ]


def test_nothing_follows_a_withdrawal(hub: InMemoryHub) -> None:
    """After withdrawn, another assignments.issued with that number is ASSIGNMENT_WITHDRAWN."""
    hub.send(example("assignments.issued/valid/new-taakgericht-budget.json"))
    withdrawn = example("assignments.issued/valid/withdrawn.json")
    assert hub.send(withdrawn).kind is OutcomeKind.ACCEPTED
    assert errors(hub, variant(withdrawn, "withdrawn-again")) == [
        {
            "path": "data.status",
            "code": "ASSIGNMENT_WITHDRAWN",
            "message": "This assignment was withdrawn; nothing may follow a withdrawal.",
        }
    ]


@pytest.mark.parametrize("agb", ["12345678", "01234567"], ids=["unregistered", "a-gp"])
def test_an_assignment_goes_to_a_registered_provider_only(hub: InMemoryHub, agb: str) -> None:
    """A provider_agb that is not a registered provider's (unknown, or a gp's) is PROVIDER_UNKNOWN."""
    raw = variant(example("assignments.issued/valid/new-outputgericht.json"), "x", provider_agb=agb)
    assert errors(hub, raw) == [
        {
            "path": "data.provider_agb",
            "code": "PROVIDER_UNKNOWN",
            "message": "The provider_agb is not that of a registered provider.",
        }
    ]


# ------------------------------------------------------------------ care and outcomes


@pytest.mark.parametrize(
    "file",
    [
        "care.started/valid/begeleiding-started.json",
        "outcomes.reported/valid/april.json",
    ],
)
def test_another_providers_assignment_looks_unknown(hub: InMemoryHub, file: str) -> None:
    """Probing another provider's assignment number gives exactly the unknown number's error."""
    hub.send(example("assignments.issued/valid/new-outputgericht.json"))  # to 73730001
    probe = as_provider(example(file), "73730002")
    unknown = as_provider(example(file), "73730002", number="25999999")
    own_unknown = as_provider(example(file), "73730001", number="25999998")
    assert errors(hub, probe) == [NOT_YOUR_ASSIGNMENT]
    assert errors(hub, unknown) == [NOT_YOUR_ASSIGNMENT]
    assert errors(hub, own_unknown) == [NOT_YOUR_ASSIGNMENT]


def test_care_on_a_withdrawn_assignment_is_rejected(hub: InMemoryHub) -> None:
    """A start for the sender's own withdrawn assignment is ASSIGNMENT_WITHDRAWN."""
    hub.send(example("assignments.issued/valid/new-taakgericht-budget.json"))
    hub.send(example("assignments.issued/valid/withdrawn.json"))
    start = example("care.started/valid/begeleiding-started.json")
    start["subject"] = "25000109"
    start["data"].update(assignment_number="25000109", product={"category": "01", "code": "01A01"})
    assert errors(hub, start) == [
        {
            "path": "data.assignment_number",
            "code": "ASSIGNMENT_WITHDRAWN",
            "message": "This assignment was withdrawn; nothing may be reported on it.",
        }
    ]


def test_the_product_must_be_the_assignments(hub: InMemoryHub) -> None:
    """Another product code is PRODUCT_MISMATCH; a category of another law is also reported."""
    hub.send(example("assignments.issued/valid/new-outputgericht.json"))
    raw = example("care.started/valid/begeleiding-started.json")
    other_code = variant(raw, "a", product={"category": "02", "code": "02A06"})
    other_law = variant(raw, "b", product={"category": "45", "code": "45A04"})
    mismatch = {
        "path": "data.product",
        "code": "PRODUCT_MISMATCH",
        "message": "The product must equal the product of the assignment.",
    }
    assert errors(hub, other_code) == [mismatch]
    assert errors(hub, other_law) == [
        {
            "path": "data.product.category",
            "code": "CATEGORY_LAW_MISMATCH",
            "message": "The product category does not belong to the law of the request or "
            "assignment (Wmo 01-18, Jeugdwet 40-55, Participatiewet P1-P9).",
        },
        mismatch,
    ]


OUTSIDE = "The date must lie within the assignment period."


def test_care_dates_lie_in_the_assignment_period(hub: InMemoryHub) -> None:
    """A start before the assignment period is DATE_OUTSIDE_PERIOD."""
    hub.send(example("assignments.issued/valid/new-outputgericht.json"))  # 2025-04-01..2025-12-31
    early = variant(example("care.started/valid/begeleiding-started.json"), "early",
                    started_on="2025-03-31")  # fmt: skip
    assert errors(hub, early) == [
        {"path": "data.started_on", "code": "DATE_OUTSIDE_PERIOD", "message": OUTSIDE}
    ]


def test_a_stop_needs_a_start(hub: InMemoryHub) -> None:
    """care.stopped before any (not deleted) care.started is CARE_NOT_STARTED."""
    hub.send(example("assignments.issued/valid/new-inspanningsgericht-jeugdwet.json"))
    assert errors(hub, example("care.stopped/valid/jeugdhulp-stopped.json")) == [
        {
            "path": "data.assignment_number",
            "code": "CARE_NOT_STARTED",
            "message": "Care was not started for this assignment (or its start was deleted).",
        }
    ]


def test_a_deleted_start_no_longer_counts(hub: InMemoryHub) -> None:
    """After its start is deleted, a stop is CARE_NOT_STARTED."""
    hub.send(example("assignments.issued/valid/new-inspanningsgericht-jeugdwet.json"))
    hub.send(example("care.started/valid/jeugdhulp-started-wrong-date.json"))
    hub.send(example("care.started/valid/jeugdhulp-start-deleted.json"))
    assert [
        e["code"] for e in errors(hub, example("care.stopped/valid/jeugdhulp-stopped.json"))
    ] == ["CARE_NOT_STARTED"]


def test_a_stop_is_not_before_the_start_and_has_the_laws_reason(hub: InMemoryHub) -> None:
    """stopped_on before started_on and a Wmo-only reason for Jeugdwet care are both reported."""
    hub.send(example("assignments.issued/valid/new-inspanningsgericht-jeugdwet.json"))
    hub.send(example("care.started/valid/jeugdhulp-start-corrected.json"))  # 2025-04-07
    stop = variant(example("care.stopped/valid/jeugdhulp-stopped.json"), "bad-stop",
                   stopped_on="2025-04-06", reason="19")  # fmt: skip
    assert errors(hub, stop) == [
        {
            "path": "data.stopped_on",
            "code": "STOP_BEFORE_START",
            "message": "stopped_on must not be before started_on.",
        },
        {
            "path": "data.reason",
            "code": "STOP_REASON_INVALID",
            "message": "The stop reason is not in the list for the assignment's law "
            "(WMO588 for Wmo and Participatiewet, JZ588 for Jeugdwet).",
        },
    ]


def test_a_wmo_reason_is_accepted_for_wmo_care(hub: InMemoryHub) -> None:
    """Reason 19 (WMO588 only) stops Wmo care."""
    hub.send(example("assignments.issued/valid/new-outputgericht.json"))
    hub.send(example("care.started/valid/begeleiding-started.json"))
    stop = as_provider(example("care.stopped/valid/jeugdhulp-stopped.json"), "73730001", "25000107")
    stop["data"].update(product={"category": "02", "code": "02A05"}, reason="19")
    assert hub.send(stop).kind is OutcomeKind.ACCEPTED


@pytest.mark.parametrize("started_on", ["2025-04-03", "2025-04-08"], ids=["no-start", "other-date"])
def test_a_delete_needs_the_new_it_corrects(hub: InMemoryHub, started_on: str) -> None:
    """A deleted start without a matching earlier start is DELETE_WITHOUT_NEW."""
    hub.send(example("assignments.issued/valid/new-inspanningsgericht-jeugdwet.json"))
    if started_on == "2025-04-08":
        hub.send(example("care.started/valid/jeugdhulp-start-corrected.json"))  # 2025-04-07
    delete = variant(example("care.started/valid/jeugdhulp-start-deleted.json"), "del",
                     started_on=started_on)  # fmt: skip
    assert errors(hub, delete) == [
        {
            "path": "data.delivery_status",
            "code": "DELETE_WITHOUT_NEW",
            "message": "A deleted start must correct an earlier start with the same started_on.",
        }
    ]


# The care of one assignment, as iWmo keeps a provider's deliveries (iwmo.md, section 5).
JEUGD_ISSUED = "assignments.issued/valid/new-inspanningsgericht-jeugdwet.json"  # 25000108
START = "care.started/valid/jeugdhulp-start-corrected.json"  # 2025-04-07
STOP = "care.stopped/valid/jeugdhulp-stopped.json"  # 2025-06-27, reason 02


def started(hub: InMemoryHub) -> None:
    """Assignment 25000108, its care started on 2025-04-07."""
    hub.send(example(JEUGD_ISSUED))
    assert hub.send(example(START)).kind is OutcomeKind.ACCEPTED


def codes(hub: InMemoryHub, raw: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["path"], e["code"]) for e in errors(hub, raw)]


def test_a_second_start_while_one_is_current_is_refused(hub: InMemoryHub) -> None:
    """Another start while one has no stop is OTHER_CARE_CURRENT (9326); the same start again CARE_ALREADY_STARTED (9074)."""
    started(hub)
    other = variant(example(START), "start-2", started_on="2025-05-01")
    again = variant(example(START), "start-again")
    assert codes(hub, other) == [("data.started_on", "OTHER_CARE_CURRENT")]
    assert codes(hub, again) == [("data.started_on", "CARE_ALREADY_STARTED")]


def test_a_start_with_a_stop_cannot_be_deleted(hub: InMemoryHub) -> None:
    """Deleting a start whose stop is recorded is START_HAS_STOP (9071): the stop goes first."""
    started(hub)
    assert hub.send(example(STOP)).kind is OutcomeKind.ACCEPTED
    delete = variant(example(START), "delete-start", delivery_status="deleted")
    assert codes(hub, delete) == [("data.delivery_status", "START_HAS_STOP")]
    stop_deleted = variant(example(STOP), "delete-stop", delivery_status="deleted")
    assert hub.send(stop_deleted).kind is OutcomeKind.ACCEPTED
    assert hub.send(variant(delete, "delete-start-2")).kind is OutcomeKind.ACCEPTED


def test_a_stopped_start_is_not_stopped_again_unless_the_stop_was_temporary(
    hub: InMemoryHub,
) -> None:
    """A second stop is CARE_STOPPED_OTHERWISE (9415), the same one CARE_ALREADY_STOPPED (9074); after reason 20 another is taken."""
    started(hub)
    assert hub.send(example(STOP)).kind is OutcomeKind.ACCEPTED
    later = variant(example(STOP), "stop-2", stopped_on="2025-07-01")
    assert codes(hub, later) == [("data.stopped_on", "CARE_STOPPED_OTHERWISE")]
    assert codes(hub, variant(example(STOP), "stop-again")) == [
        ("data.stopped_on", "CARE_ALREADY_STOPPED")
    ]
    hub.send(variant(example(STOP), "delete-stop", delivery_status="deleted"))
    temporary = variant(example(STOP), "stop-temporary", reason="20")
    assert hub.send(temporary).kind is OutcomeKind.ACCEPTED
    assert hub.send(variant(later, "stop-3")).kind is OutcomeKind.ACCEPTED


def test_care_started_again_after_a_stop_is_taken_and_the_assignment_is_not_live(
    hub: InMemoryHub,
) -> None:
    """A new start after a stop is taken (9326 only refuses one beside a start without stop); privacy.md: still not live, but not ended while care goes on."""
    started(hub)
    hub.send(example(STOP))
    again = variant(example(START), "restart", started_on="2025-07-01")
    assert hub.send(again).kind is OutcomeKind.ACCEPTED
    # Not live (no plans), but not ended: care is delivered, so retention does not count.
    restarted = hub.state.get(assignment_key("25000108")) or {}
    assert "ended_on" not in restarted
    assert not is_live(restarted)  # type: ignore[arg-type]
    # A stop on or after the new start stops it; one before it stops the first start,
    # which already has its stop.
    before_restart = variant(example(STOP), "stop-before-restart", stopped_on="2025-06-30")
    assert codes(hub, before_restart) == [("data.stopped_on", "CARE_STOPPED_OTHERWISE")]
    stop_2 = variant(example(STOP), "stop-restart", stopped_on="2025-08-01")
    assert hub.send(stop_2).kind is OutcomeKind.ACCEPTED
    assert "ended_on" in (hub.state.get(assignment_key("25000108")) or {})
    # Deleting the first stop leaves the second: not live, and care goes on (04-07).
    hub.send(variant(example(STOP), "delete-first-stop", delivery_status="deleted"))
    after = hub.state.get(assignment_key("25000108")) or {}
    assert "ended_on" not in after
    assert not is_live(after)  # type: ignore[arg-type]


def test_care_started_again_after_a_newer_plan_gets_no_plan_and_no_fault(hub: InMemoryHub) -> None:
    """A plan held while the assignment was ended is not released by a new start (it stays ended)."""
    hub.send(example("referrals.submitted/valid/poh-ggz-referral.json"))
    hub.send(example("cases.opened/valid/after-referral.json"))
    started(hub)
    hub.send(example(STOP))
    assert (
        hub.send(example("cases.plan-updated/valid/first-plan.json")).kind is OutcomeKind.ACCEPTED
    )
    outcome = hub.send(variant(example(START), "restart", started_on="2025-07-01"))
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.decision is not None
    assert [d.recipient for d in outcome.decision.deliveries] == ["backoffice-zwolle", "swt-zwolle"]
    # Its last stop deleted, it is live again and gets the plan it missed.
    outcome = hub.send(variant(example(STOP), "delete-stop", delivery_status="deleted"))
    assert outcome.decision is not None
    assert "provider-jeugdhulp-ijssel" in [d.recipient for d in outcome.decision.deliveries]


def test_a_deleted_stop_is_taken_from_the_start_a_new_one_would_stop(hub: InMemoryHub) -> None:
    """Two starts with the same temporary stop: deleting it removes it from the later start, as recorded."""
    started(hub)
    temporary = variant(example(STOP), "temporary", stopped_on="2025-06-01", reason="20")
    assert hub.send(temporary).kind is OutcomeKind.ACCEPTED
    hub.send(variant(example(START), "restart", started_on="2025-05-15"))
    assert hub.send(variant(temporary, "temporary-2")).kind is OutcomeKind.ACCEPTED
    hub.send(variant(temporary, "delete-temporary", delivery_status="deleted"))
    care = (hub.state.get(assignment_key("25000108")) or {})["care"]
    assert care == {
        "starts": [
            {
                "started_on": "2025-04-07",
                "stops": [{"stopped_on": "2025-06-01", "stop_reason": "20"}],
            },
            {"started_on": "2025-05-15", "stops": []},
        ]
    }


def test_care_written_by_an_earlier_version_is_read_as_its_one_start(hub: InMemoryHub) -> None:
    """An assignment value holding care as one start (started_on, stopped_on, stop_reason) keeps working."""
    hub.send(example(JEUGD_ISSUED))
    key = assignment_key("25000108")
    value = dict(hub.state.get(key) or {})
    value["care"] = {"started_on": "2025-04-07", "stopped_on": "2025-06-27", "stop_reason": "02"}
    value["ended_on"] = "2026-01-05"
    hub.state.apply({key: value})
    delete = variant(example(STOP), "delete-old-stop", delivery_status="deleted")
    assert hub.send(delete).kind is OutcomeKind.ACCEPTED
    after = hub.state.get(key) or {}
    assert after["care"] == {"starts": [{"started_on": "2025-04-07", "stops": []}]}
    assert "ended_on" not in after


def test_a_stop_left_without_its_start_by_an_earlier_version_keeps_the_assignment_not_live(
    hub: InMemoryHub,
) -> None:
    """A value holding a stop and no start (an earlier version let the start go): ended; the stop can be deleted."""
    hub.send(example(JEUGD_ISSUED))
    key = assignment_key("25000108")
    value = dict(hub.state.get(key) or {})
    value["care"] = {"stopped_on": "2025-06-27", "stop_reason": "02"}
    value["ended_on"] = "2026-01-05"
    hub.state.apply({key: value})
    assert not is_live(hub.state.get(key))  # type: ignore[arg-type]
    # The stop's start is gone: a new stop has nothing to stop.
    assert codes(hub, variant(example(STOP), "stop-again", stopped_on="2025-06-28")) == [
        ("data.assignment_number", "CARE_NOT_STARTED")
    ]
    delete = variant(example(STOP), "delete-orphan-stop", delivery_status="deleted")
    assert hub.send(delete).kind is OutcomeKind.ACCEPTED
    after = hub.state.get(key) or {}
    assert after["care"] == {"starts": []}
    assert "ended_on" not in after
    assert is_live(after)  # type: ignore[arg-type]


def test_reported_result_areas_are_the_assignments(hub: InMemoryHub) -> None:
    """An outcome for a result area the assignment does not have is RESULT_AREA_NOT_ASSIGNED."""
    hub.send(example("assignments.issued/valid/new-outputgericht.json"))
    raw = example("outcomes.reported/valid/april.json")
    raw["data"]["results"][0]["result_area"] = "veiligheid"
    raw["data"]["period"] = {"start": "2025-03-01", "end": "2025-04-30"}
    assert errors(hub, raw) == [
        {"path": "data.period.start", "code": "DATE_OUTSIDE_PERIOD", "message": OUTSIDE},
        {
            "path": "data.results[0].result_area",
            "code": "RESULT_AREA_NOT_ASSIGNED",
            "message": "This result area is not one of the assignment's result areas.",
        },
    ]


@pytest.mark.parametrize("assessed_on", ["2025-03-31", "2026-01-01"], ids=["before", "after"])
def test_an_assessment_date_lies_in_the_assignment_period(
    hub: InMemoryHub, assessed_on: str
) -> None:
    """An outcome's assessed_on outside the assignment period is DATE_OUTSIDE_PERIOD."""
    hub.send(example("assignments.issued/valid/new-outputgericht.json"))  # 2025-04-01..2025-12-31
    raw = example("outcomes.reported/valid/april.json")
    raw["data"]["results"][1]["assessed_on"] = assessed_on
    assert errors(hub, raw) == [
        {"path": "data.results[1].assessed_on", "code": "DATE_OUTSIDE_PERIOD", "message": OUTSIDE}
    ]


def test_a_change_after_the_care_stop_keeps_the_end_of_the_assignment(hub: InMemoryHub) -> None:
    """A changed assignment whose care was stopped keeps ended_on: its retention clock runs on."""
    issued = example("assignments.issued/valid/new-inspanningsgericht-jeugdwet.json")
    hub.send(issued)
    hub.send(example("care.started/valid/jeugdhulp-start-corrected.json"))
    hub.send(example("care.stopped/valid/jeugdhulp-stopped.json"))
    ended_on = (hub.state.get(assignment_key("25000108")) or {})["ended_on"]
    changed = variant(issued, "changed-after-stop", status="changed", change_reason="02")
    assert hub.send(changed).kind is OutcomeKind.ACCEPTED
    after = hub.state.get(assignment_key("25000108")) or {}
    assert (after["status"], after.get("ended_on")) == ("changed", ended_on)


def test_a_rejected_event_changes_no_state(hub: InMemoryHub) -> None:
    """A stateful rejection leaves every routing key as it was (only the seen marker is added)."""
    hub.send(example("assignments.issued/valid/new-inspanningsgericht-jeugdwet.json"))
    before = dict(hub.state.get(assignment_key("25000108")) or {})
    outcome = hub.send(example("care.stopped/valid/jeugdhulp-stopped.json"))
    assert outcome.decision is not None
    assert [k.split(":")[0] for k in outcome.decision.state_changes] == ["seen"]
    assert hub.state.get(assignment_key("25000108")) == before


def test_a_number_issued_with_other_leading_zeros_is_already_known(hub: InMemoryHub) -> None:
    """06000311 and 6000311 are one ToewijzingNummer to a provider's iWmo software."""
    raw = example("assignments.issued/valid/new-outputgericht.json")
    raw["data"]["assignment_number"] = raw["subject"] = "6000311"
    assert hub.send(raw).kind is OutcomeKind.ACCEPTED
    padded = variant(raw, "padded")
    padded["data"]["assignment_number"] = padded["subject"] = "06000311"
    assert errors(hub, padded) == [
        {
            "path": "data.assignment_number",
            "code": "ID_ALREADY_KNOWN",
            "message": "An assignment with this assignment_number was already issued.",
        }
    ]
