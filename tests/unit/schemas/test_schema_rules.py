"""Cross-field rules of the contract, each shown passing and failing."""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import ErrorCode, InvalidEvent
from hub.schemas import LAW_CATEGORIES, STOP_REASONS, validate_event
from hub.testing import OMIT, demo_registry, examples_for, make_event, sender_of


def errors_of(event: dict[str, Any], **options: Any) -> list[tuple[str, ErrorCode]]:
    """The (path, code) pairs validation reports for an event; [] when it is valid."""
    try:
        validate_event(event, sender=sender_of(event), **options)
    except InvalidEvent as exc:
        return [(e.path, e.code) for e in exc.errors]
    return []


# --- referrals.submitted -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        ({"status_feedback": False}, []),
        ({"status_feedback": False, "content_feedback": False}, []),
        ({"status_feedback": True, "recorded_on": "2025-03-03"}, []),
        ({"status_feedback": True, "content_feedback": True, "recorded_on": "2025-03-03"}, []),
        (
            {"status_feedback": False, "content_feedback": True, "recorded_on": "2025-03-03"},
            [("data.consent.content_feedback", ErrorCode.CONSENT_INCONSISTENT)],
        ),
        ({"status_feedback": True}, [("data.consent.recorded_on", ErrorCode.CONSENT_INCONSISTENT)]),
        (
            {"status_feedback": False, "content_feedback": True},
            [
                ("data.consent.content_feedback", ErrorCode.CONSENT_INCONSISTENT),
                ("data.consent.recorded_on", ErrorCode.CONSENT_INCONSISTENT),
            ],
        ),
    ],
)
def test_consent(consent: dict[str, Any], expected: list[Any]) -> None:
    """Content feedback needs status feedback; any consent given needs recorded_on."""
    assert errors_of(make_event("referrals.submitted", consent=consent)) == expected


@pytest.mark.parametrize(
    ("birth_date", "expected"),
    [
        ("2002-03-04", []),
        ("2002-03-03", [("data.youth_care", ErrorCode.YOUTH_CARE_AGE)]),
        ("1986-02-11", [("data.youth_care", ErrorCode.YOUTH_CARE_AGE)]),
        ("2025-03-03", []),
    ],
)
def test_youth_care_client_is_younger_than_23_on_the_event_date(
    birth_date: str, expected: list[Any]
) -> None:
    """A youth-care referral (event date 2025-03-03) is rejected from the 23rd birthday on."""
    event = make_event("referrals.submitted", youth_care=True)
    event["data"]["client"]["birth_date"] = birth_date
    assert errors_of(event) == expected


def test_youth_care_false_has_no_age_limit() -> None:
    """Without youth_care the client's age does not matter."""
    event = make_event("referrals.submitted", youth_care=False)
    event["data"]["client"]["birth_date"] = "1930-01-01"
    assert errors_of(event) == []


def test_household_members_at_most_20() -> None:
    """A referral lists at most 20 household members."""
    member = make_event("referrals.submitted")["data"]["household_members"][0]
    assert errors_of(make_event("referrals.submitted", household_members=[member] * 20)) == []
    assert errors_of(make_event("referrals.submitted", household_members=[member] * 21)) == [
        ("data.household_members", ErrorCode.TOO_LONG)
    ]


# --- safety-reports.submitted ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "acute", "expected"),
    [
        ([1, 2, 3, 4], False, []),
        ([4, 3, 2, 1], False, []),
        (
            [1, 2, 3],
            False,
            [("data.meldcode_steps_completed", ErrorCode.MELDCODE_STEPS_INCOMPLETE)],
        ),
        ([1, 3], True, []),
        ([2], True, []),
        ([], True, [("data.meldcode_steps_completed", ErrorCode.TOO_SHORT)]),
        ([0, 1, 2, 3, 4], False, [("data.meldcode_steps_completed[0]", ErrorCode.OUT_OF_RANGE)]),
        (
            [1, 2, 2, 3],
            False,
            [
                ("data.meldcode_steps_completed[2]", ErrorCode.ITEMS_NOT_UNIQUE),
                ("data.meldcode_steps_completed", ErrorCode.MELDCODE_STEPS_INCOMPLETE),
            ],
        ),
    ],
)
def test_meldcode_steps(steps: list[int], acute: bool, expected: list[Any]) -> None:
    """Distinct steps 1-4; all four unless the danger is acute, then any non-empty subset."""
    event = make_event("safety-reports.submitted", meldcode_steps_completed=steps)
    event["data"]["concern"]["acute_danger"] = acute
    assert errors_of(event) == expected


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["victim"], []),
        (["child"], []),
        (["witness", "child"], []),
        (
            ["alleged-perpetrator", "witness", "other"],
            [("data.persons", ErrorCode.VICTIM_OR_CHILD_REQUIRED)],
        ),
    ],
)
def test_persons_include_a_victim_or_a_child(roles: list[str], expected: list[Any]) -> None:
    """A safety report names at least one victim or child."""
    persons = [{"role": role, "person": {"family_name": "Oosterhof"}} for role in roles]
    assert errors_of(make_event("safety-reports.submitted", persons=persons)) == expected


@pytest.mark.parametrize(
    ("informed", "reason", "expected"),
    [
        (True, OMIT, []),
        (True, "Niet van toepassing.", []),
        (False, "Informeren brengt het kind in gevaar.", []),
        (False, OMIT, [("data.not_informed_reason", ErrorCode.NOT_INFORMED_REASON_REQUIRED)]),
    ],
)
def test_not_informed_reason(informed: bool, reason: Any, expected: list[Any]) -> None:
    """A household that was not informed needs the reason."""
    event = make_event(
        "safety-reports.submitted", household_informed=informed, not_informed_reason=reason
    )
    assert errors_of(event) == expected


# --- provisions ----------------------------------------------------------------------------

VOLUME_OUTPUT = {"volume": 1, "unit": "82", "frequency": "4"}
VOLUME_EUROS = {"volume": 450, "unit": "83", "frequency": "6"}
VOLUME_HOURS = {"volume": 3, "unit": "04", "frequency": "2"}
VOLUME_PIECES_EFFORT = {"volume": 8, "unit": "84", "frequency": "4"}
BUDGET = {"budget_cents": 240000}
MISMATCH = [("data.scope", ErrorCode.VARIANT_SCOPE_MISMATCH)]
LEGAL_REPRESENTATIVE_REQUIRED = (
    "data.legal_representative",
    ErrorCode.LEGAL_REPRESENTATIVE_REQUIRED,
)


@pytest.mark.parametrize(
    ("variant", "scope", "areas", "expected"),
    [
        ("outputgericht", VOLUME_OUTPUT, ["veiligheid"], []),
        ("outputgericht", VOLUME_EUROS, ["veiligheid"], []),
        ("outputgericht", VOLUME_HOURS, ["veiligheid"], MISMATCH),
        ("outputgericht", BUDGET, ["veiligheid"], MISMATCH),
        ("outputgericht", OMIT, ["veiligheid"], MISMATCH),
        (
            "outputgericht",
            VOLUME_OUTPUT,
            [],
            [("data.result_areas", ErrorCode.RESULT_AREAS_REQUIRED)],
        ),
        ("inspanningsgericht", VOLUME_HOURS, [], []),
        ("inspanningsgericht", VOLUME_PIECES_EFFORT, [], []),
        ("inspanningsgericht", {"volume": 2, "unit": "14", "frequency": "4"}, [], []),
        ("inspanningsgericht", {"volume": 2, "unit": "16", "frequency": "2"}, [], []),
        ("inspanningsgericht", {"volume": 30, "unit": "01", "frequency": "1"}, [], []),
        ("inspanningsgericht", BUDGET, [], []),
        ("inspanningsgericht", VOLUME_OUTPUT, [], MISMATCH),
        ("inspanningsgericht", OMIT, [], MISMATCH),
        ("taakgericht", BUDGET, [], []),
        ("taakgericht", OMIT, [], []),
        ("taakgericht", VOLUME_HOURS, [], MISMATCH),
    ],
)
def test_variant_and_scope(variant: str, scope: Any, areas: list[str], expected: list[Any]) -> None:
    """Each variant allows its own scopes; outputgericht needs result areas; only taakgericht may omit scope."""
    event = make_event("provisions.requested", variant=variant, scope=scope, result_areas=areas)
    assert errors_of(event) == expected


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({}, [("data.scope", ErrorCode.SCOPE_INVALID)]),
        ({**VOLUME_OUTPUT, **BUDGET}, [("data.scope", ErrorCode.SCOPE_INVALID)]),
        (
            {"volume": 1},
            [
                ("data.scope.unit", ErrorCode.FIELD_REQUIRED),
                ("data.scope.frequency", ErrorCode.FIELD_REQUIRED),
            ],
        ),
        ({"budget_cents": 0}, [("data.scope.budget_cents", ErrorCode.OUT_OF_RANGE)]),
        (
            {**VOLUME_OUTPUT, "frequency": "3"},
            [("data.scope.frequency", ErrorCode.VALUE_NOT_ALLOWED)],
        ),
        ({**VOLUME_OUTPUT, "unit": 82}, [("data.scope.unit", ErrorCode.TYPE_MISMATCH)]),
    ],
)
def test_scope_shape(scope: dict[str, Any], expected: list[Any]) -> None:
    """A scope is {volume, unit, frequency} or {budget_cents}, with code lists WJ756 and WMO757."""
    assert errors_of(make_event("provisions.requested", scope=scope)) == expected


@pytest.mark.parametrize("law", sorted(LAW_CATEGORIES))
def test_category_belongs_to_law(law: str) -> None:
    """Each category of a law passes with that law and fails with the other two."""
    for category in sorted(LAW_CATEGORIES[law]):
        for other in LAW_CATEGORIES:
            event = make_event(
                "assignment-requests.submitted",
                law=other,
                product={"category": category, "code": "X1"},
            )
            expected = (
                [] if other == law else [("data.product.category", ErrorCode.CATEGORY_LAW_MISMATCH)]
            )
            assert errors_of(event) == expected, (category, other)


@pytest.mark.parametrize("category", ["00", "19", "39", "56", "P0", "p1", "1", "PA"])
def test_category_outside_every_list(category: str) -> None:
    """A category in none of WMO020, JZ020 or Participatiewet P1-P9 is not allowed."""
    event = make_event("provisions.requested", product={"category": category, "code": "X1"})
    assert errors_of(event) == [("data.product.category", ErrorCode.VALUE_NOT_ALLOWED)]


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ({"start": "2025-04-01"}, []),
        ({"start": "2025-04-01", "end": "2025-04-01"}, []),
        (
            {"start": "2025-04-01", "end": "2025-03-31"},
            [("data.period.end", ErrorCode.PERIOD_INVALID)],
        ),
    ],
)
def test_period_end_not_before_start(period: dict[str, str], expected: list[Any]) -> None:
    """A period may end on its start day, not before it; a request may leave the end open."""
    assert errors_of(make_event("provisions.requested", period=period)) == expected


@pytest.mark.parametrize(
    ("outcome", "omitted", "expected"),
    [
        ("denied", ["period", "product"], []),
        ("granted", [], []),
        ("granted", ["scope"], []),
        ("granted", ["period"], [("data.period", ErrorCode.DECISION_FIELDS_REQUIRED)]),
        (
            "partially-granted",
            ["period", "product"],
            [
                ("data.period", ErrorCode.DECISION_FIELDS_REQUIRED),
                ("data.product", ErrorCode.DECISION_FIELDS_REQUIRED),
            ],
        ),
    ],
)
def test_decision_needs_period_and_product_unless_denied(
    outcome: str, omitted: list[str], expected: list[Any]
) -> None:
    """Period and product may be omitted only from a denied decision; scope is always optional."""
    event = make_event("provisions.decided", outcome=outcome, **dict.fromkeys(omitted, OMIT))
    assert errors_of(event) == expected


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        ("2025-03-21", []),
        ("2025-05-02", []),
        ("2025-03-20", [("data.objection_deadline", ErrorCode.OBJECTION_DEADLINE_INVALID)]),
    ],
)
def test_objection_deadline_not_before_decision(deadline: str, expected: list[Any]) -> None:
    """The objection deadline (decided 2025-03-21) may be that day or later."""
    assert errors_of(make_event("provisions.decided", objection_deadline=deadline)) == expected


# --- assignments and care -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("new", OMIT, []),
        ("new", "02", [("data.change_reason", ErrorCode.CHANGE_REASON_NOT_ALLOWED)]),
        ("changed", "14", []),
        ("changed", OMIT, [("data.change_reason", ErrorCode.CHANGE_REASON_REQUIRED)]),
        ("withdrawn", "02", []),
        ("withdrawn", OMIT, [("data.change_reason", ErrorCode.CHANGE_REASON_REQUIRED)]),
        ("changed", "15", [("data.change_reason", ErrorCode.VALUE_NOT_ALLOWED)]),
        ("changed", "01", [("data.change_reason", ErrorCode.VALUE_NOT_ALLOWED)]),
    ],
)
def test_change_reason(status: str, reason: Any, expected: list[Any]) -> None:
    """change_reason (JZ002 02-14) is absent on a new assignment and required otherwise."""
    event = make_event("assignments.issued", status=status, change_reason=reason)
    assert errors_of(event) == expected


@pytest.mark.parametrize(
    ("law", "birth_date", "representative", "expected"),
    [
        ("jeugdwet", "2012-06-14", True, []),
        ("jeugdwet", "2012-06-14", False, [LEGAL_REPRESENTATIVE_REQUIRED]),
        ("jeugdwet", "2007-03-25", False, [LEGAL_REPRESENTATIVE_REQUIRED]),
        ("jeugdwet", "2007-03-24", False, []),
        ("wmo", "2012-06-14", False, []),
    ],
)
def test_legal_representative_for_jeugdwet_minors(
    law: str, birth_date: str, representative: bool, expected: list[Any]
) -> None:
    """A Jeugdwet client under 18 on issued_on (2025-03-24) needs a legal representative."""
    event = next(
        e
        for e in examples_for("assignments.issued")
        if e["data"]["assignment_number"] == "25000108"
    )
    data = event["data"]
    data["client"]["birth_date"] = birth_date
    if law == "wmo":
        data["law"] = "wmo"
        data["product"] = {"category": "02", "code": "02A05"}
    if not representative:
        del data["legal_representative"]
    assert errors_of(event) == expected


@pytest.mark.parametrize("reason", sorted(STOP_REASONS["wmo"] | STOP_REASONS["jeugdwet"]))
def test_stop_reason_from_either_list_is_accepted(reason: str) -> None:
    """care.stopped has no law, so any WMO588 or JZ588 reason passes statelessly."""
    assert errors_of(make_event("care.stopped", reason=reason)) == []


@pytest.mark.parametrize("reason", ["01", "18", "24", "30", "40", "2", "002"])
def test_stop_reason_in_no_list_is_rejected(reason: str) -> None:
    """A reason in neither WMO588 nor JZ588 is STOP_REASON_INVALID."""
    assert errors_of(make_event("care.stopped", reason=reason)) == [
        ("data.reason", ErrorCode.STOP_REASON_INVALID)
    ]


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ({"type": "huisarts", "agb": "01765432"}, []),
        ({"type": "gemeente"}, []),
        ({"type": "zelfverwijzer"}, []),
        ({"type": "gecertificeerde-instelling", "agb": "12345678"}, []),
        ({"type": "huisarts"}, [("data.referrer.agb", ErrorCode.REFERRER_AGB_REQUIRED)]),
        ({"type": "jeugdarts"}, [("data.referrer.agb", ErrorCode.REFERRER_AGB_REQUIRED)]),
        ({"type": "medisch-specialist"}, [("data.referrer.agb", ErrorCode.REFERRER_AGB_REQUIRED)]),
    ],
)
def test_referrer_agb_for_medical_referrers(referrer: dict[str, str], expected: list[Any]) -> None:
    """A huisarts, jeugdarts or medisch-specialist referrer needs an AGB; others may omit it."""
    assert errors_of(make_event("assignment-requests.submitted", referrer=referrer)) == expected


def test_outcome_result_areas_are_distinct() -> None:
    """One result per result area in an outcome report."""
    event = make_event("outcomes.reported")
    event["data"]["results"][1]["result_area"] = "financien-op-orde"
    assert errors_of(event) == [("data.results[1].result_area", ErrorCode.ITEMS_NOT_UNIQUE)]


# --- result areas and the sender's AGB --------------------------------------------------------


def test_result_areas_come_from_the_municipality() -> None:
    """A configured result-area list replaces the default one."""
    event = make_event("provisions.requested", result_areas=["grip-op-geld"])
    assert errors_of(event) == [("data.result_areas[0]", ErrorCode.RESULT_AREA_UNKNOWN)]
    areas = frozenset({"grip-op-geld"})
    assert errors_of(event, result_areas=areas) == []
    plan = make_event("cases.plan-updated")
    assert errors_of(plan, result_areas=areas) == [
        ("data.goals[0].result_area", ErrorCode.RESULT_AREA_UNKNOWN),
        ("data.goals[1].result_area", ErrorCode.RESULT_AREA_UNKNOWN),
        ("data.goals[2].result_area", ErrorCode.RESULT_AREA_UNKNOWN),
    ]


@pytest.mark.parametrize(
    ("type_", "path"),
    [
        ("referrals.submitted", "data.referrer.agb"),
        ("care.started", "data.provider_agb"),
        ("care.stopped", "data.provider_agb"),
        ("outcomes.reported", "data.provider_agb"),
        ("assignment-requests.submitted", "data.provider_agb"),
    ],
)
def test_agb_must_be_the_senders(type_: str, path: str) -> None:
    """The AGB naming the sender must be the sending partner's own; without a sender it is not checked."""
    event = make_event(type_)
    *parents, last = path.split(".")[1:]
    target = event["data"]
    for name in parents:
        target = target[name]
    target[last] = "87654321"
    assert errors_of(event) == [(path, ErrorCode.AGB_NOT_SENDER)]
    validate_event(event, sender=None)
    other = next(
        p
        for p in demo_registry()
        if p.role == sender_of(event).role and p.agb != sender_of(event).agb
    )
    target[last] = other.agb
    assert errors_of(event) == [(path, ErrorCode.AGB_NOT_SENDER)]
