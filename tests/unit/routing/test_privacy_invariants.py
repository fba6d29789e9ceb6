"""privacy.md's five invariants, each over every type and every recipient the table resolves."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.connectors.registry import PartnerRegistry
from hub.families.state import assignment_key
from hub.privacy import InvariantViolation, PrivacyPolicy, RecipientKind, project, protection_of
from hub.privacy.policy import Route
from hub.privacy.project import LEAF, ListNode, Node, ObjectNode, schema_tree
from hub.routing import OutcomeKind, RoutingContext
from hub.schemas import TYPES, validate_with_registry
from hub.schemas.safety import SAFETY
from hub.testing import personal_values

from .routing_helpers import (
    EXAMPLES,
    InMemoryHub,
    disclosures,
    example,
    make_context,
    scenario_files,
    variant,
)

ALL_VALID = sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.glob("*/valid/*.json"))
ALL_INVALID = sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.glob("*/invalid/*.json"))


def leaf_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Generic paths of every value in a JSON document (``goals[].goal_id`` style)."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from leaf_paths(child, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for item in value:
            yield from leaf_paths(item, f"{prefix}[]")
    else:
        yield prefix


def allowed(path: str, paths: set[str]) -> bool:
    """True when a path, or a whole-value leaf above it (a mapping like indicators), is allowed."""
    parts = path.split(".")
    return any(".".join(parts[:n]) in paths for n in range(1, len(parts) + 1))


def routes_reaching(policy: PrivacyPolicy, event_type: str, role: str) -> list[Route]:
    """The rows of a type whose recipient has this role."""
    return [r for r in policy.routes_for(event_type) if role in r.roles]


def all_deliveries(hub: InMemoryHub) -> Iterator[Any]:
    for outcome in hub.outcomes:
        if outcome.decision is not None:
            yield from outcome.decision.deliveries


# ------------------------------------------------------------------ 1. deny by default


def test_no_delivery_holds_a_field_its_row_does_not_list(scenario: InMemoryHub) -> None:
    """Every field of every delivery of the chain is listed by a row for that type and role."""
    registry, policy = scenario.ctx.registry, scenario.ctx.policy
    checked = 0
    for delivery in all_deliveries(scenario):
        partner = registry.get(delivery.recipient)
        assert partner is not None
        routes = routes_reaching(policy, delivery.event.type, partner.role)
        listed = {p for r in routes for p in r.projection_for(r.conditions).paths}
        listed |= {a for r in routes for a in r.added}
        for path in leaf_paths(delivery.event.data):
            assert allowed(path, listed), (delivery.event.type, delivery.recipient, path)
            checked += 1
    assert checked > 500


@functools.cache
def _examples_by_type(registry: PartnerRegistry) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for file in ALL_VALID:
        event = validate_with_registry(example(file), registry)
        out.append((event.type, event.canonical_data()))
    return out


def _objects(value: Any, node: Node, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths (keys and indices) of every schema object in a document, the root included.

    Mappings the schema delivers whole (indicators: name -> number) are not objects of the
    schema: their keys are data, and a v2 cannot add fields inside them.
    """
    if isinstance(value, dict) and isinstance(node, ObjectNode):
        yield path
        for key, child in value.items():
            yield from _objects(child, node.fields.get(key, LEAF), (*path, key))
    elif isinstance(value, list) and isinstance(node, ListNode):
        for index, child in enumerate(value):
            yield from _objects(child, node.item, (*path, index))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fields_of_a_later_version_reach_nobody(ctx: RoutingContext, data: st.DataObject) -> None:
    """Fields a v2 adds anywhere in the data never reach any recipient, and are reported withheld."""
    examples = _examples_by_type(ctx.registry)
    event_type, document = data.draw(st.sampled_from(examples))
    routes = ctx.policy.routes_for(event_type)
    if not routes:
        return
    document = copy.deepcopy(document)
    places = list(_objects(document, schema_tree(TYPES[event_type].model)))
    added: list[tuple[Any, ...]] = []
    for _ in range(data.draw(st.integers(1, 3))):
        place = data.draw(st.sampled_from(places))
        target = document
        for step in place:
            target = target[step]
        name = "v2_" + data.draw(st.from_regex(r"[a-z_]{1,10}", fullmatch=True))
        target[name] = data.draw(_JSON)
        added.append((*place, name))
    for route in routes:
        filters = {"goals": lambda goal: True} if route.item_filter else {}
        payload, _, withheld = project(document, route.projection_for(route.conditions), filters)
        for path in leaf_paths(payload):
            assert not any(part.startswith("v2_") for part in path.replace("[]", "").split("."))
        for place in added:
            generic = ""
            for step in place:
                generic += "[]" if isinstance(step, int) else (f".{step}" if generic else step)
            assert generic in withheld


# ------------------------------------------------------------------ 2. safety stays with vt and swt


def test_safety_events_reach_only_veilig_thuis_and_the_team(scenario: InMemoryHub) -> None:
    """Every release and record of a safety-* type of the chain is for veilig-thuis or swt."""
    seen = 0
    for outcome in scenario.outcomes:
        for record in disclosures(outcome):
            if protection_of(str(record["event_type"])) is SAFETY:
                partner = scenario.ctx.registry.get(str(record["recipient"]))
                assert partner is not None
                assert partner.role in ("veilig-thuis", "swt")
                seen += 1
    assert seen == 5


@pytest.mark.parametrize(
    ("kind", "role", "partner_id"),
    [
        (RecipientKind.ROLE, "backoffice", None),
        (RecipientKind.PARTNER, "backoffice", "backoffice-zwolle"),
        (RecipientKind.PARTNER, "provider", "provider-thuiszorg-zwolle"),
        (RecipientKind.PARTNER, "gp", "gp-de-linde"),
    ],
)
@pytest.mark.parametrize(
    "file",
    [
        "safety-reports.submitted/valid/structural-unsafety.json",
        "safety-reports.feedback/valid/received.json",
        "safety-cases.handed-over/valid/to-wijkteam.json",
    ],
)
def test_a_table_that_slipped_past_the_check_still_cannot_release_safety_data(
    registry: PartnerRegistry, file: str, kind: RecipientKind, role: str, partner_id: str | None
) -> None:
    """Even a hand-built table routing safety data elsewhere is refused at release time."""
    base = make_context(registry).policy
    event_type = validate_with_registry(example(file), registry).type
    [route] = base.routes_for(event_type)
    wrong = dataclasses.replace(
        route,
        recipient=partner_id or role,
        kind=kind,
        selector=None,
        roles=(role,),
        partner_id=partner_id,
    )
    hub = InMemoryHub(make_context(registry, policy=PrivacyPolicy("hand-built", [wrong])))
    if "feedback" in file:
        hub.upto("safety-reports.submitted/valid/structural-unsafety.json")
    with pytest.raises(InvariantViolation):
        hub.send(example(file))


# ------------------------------------------------------------------ 3. gp: own referrals, consent


def _referral_with(status: bool, content: bool) -> dict[str, Any]:
    raw = example("referrals.submitted/valid/poh-ggz-referral.json")
    raw["data"]["consent"] = {
        "status_feedback": status,
        "content_feedback": content,
        "recorded_on": "2025-03-03",
    }
    return raw


@pytest.mark.parametrize(("status", "content"), [(False, False), (True, False), (True, True)])
def test_gp_feedback_follows_the_recorded_consent(
    hub: InMemoryHub, status: bool, content: bool
) -> None:
    """No status consent: withheld and logged; status only: no note; never the case id."""
    hub.send(_referral_with(status, content))
    feedback = example("referrals.status-changed/valid/received.json")
    feedback["data"].update(note="Intake gepland met moeder en zoon.", case_id="ZWZ-2025-0042")
    outcome = hub.send(feedback)
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.decision is not None
    [record] = disclosures(outcome)
    assert record["recipient"] == "gp-de-linde"
    if not status:
        assert outcome.decision.deliveries == ()
        assert record["outcome"] == "withheld"
        assert record["reason"] == "NO_STATUS_FEEDBACK_CONSENT"
        assert record["fields_disclosed"] == []
        assert "note" in record["fields_withheld"]
        return
    [delivery] = outcome.decision.deliveries
    expected = ["referral_id", "status", "status_on", "team"] + (["note"] if content else [])
    assert sorted(delivery.event.data) == sorted(expected)
    assert "case_id" in record["fields_withheld"]
    assert ("note" in record["fields_withheld"]) is not content


def test_a_gp_gets_feedback_on_its_own_referrals_only(scenario: InMemoryHub) -> None:
    """Each gp delivery of the chain goes to the gp whose AGB sent that referral."""
    by_referral = {}
    for file in scenario_files():
        if file.startswith("referrals.submitted/"):
            data = example(file)["data"]
            by_referral[data["referral_id"]] = data["referrer"]["agb"]
    gp_deliveries = [d for d in all_deliveries(scenario) if d.recipient.startswith("gp-")]
    assert len(gp_deliveries) == 5
    for delivery in gp_deliveries:
        gp = scenario.ctx.registry.get(delivery.recipient)
        assert gp is not None
        assert gp.agb == by_referral[delivery.event.data["referral_id"]]
        assert "case_id" not in delivery.event.data


# ------------------------------------------------------------------ 4. provider isolation


def test_a_provider_sees_only_its_own_assignments_and_their_goals(scenario: InMemoryHub) -> None:
    """Every provider delivery is about an assignment of that provider, with its goals only."""
    registry = scenario.ctx.registry
    provider_types = {"assignments.issued", "cases.plan-updated"}
    count = 0
    for delivery in all_deliveries(scenario):
        provider = registry.get(delivery.recipient)
        assert provider is not None
        if provider.role != "provider":
            continue
        count += 1
        assert ".".join(delivery.event.type.split(".")[2:4]) in provider_types
        number = delivery.event.data["assignment_number"]
        assert delivery.event.subject == number
        assignment = scenario.state.get(assignment_key(number))
        assert assignment is not None
        assert assignment["provider_agb"] == provider.agb
        assert "case_id" not in delivery.event.data
        for goal in delivery.event.data.get("goals", ()):
            assert goal["result_area"] in assignment["result_areas"]
    assert count == 10


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(number=st.from_regex(r"[0-9]{1,8}", fullmatch=True))
def test_probing_any_number_reveals_nothing(registry: PartnerRegistry, number: str) -> None:
    """For any number, another provider's assignment and an unknown one give the same answer."""
    hub = InMemoryHub(make_context(registry))
    hub.send(example("assignments.issued/valid/new-outputgericht.json"))  # 25000107 to 73730001
    raw = example("care.started/valid/begeleiding-started.json")
    raw["source"] = "urn:nld:agb:73730002"
    raw["subject"] = number
    raw["data"].update(provider_agb="73730002", assignment_number=number)
    outcome = hub.send(raw)
    assert outcome.kind is OutcomeKind.DEAD_LETTERED
    assert [e.as_dict() for e in outcome.errors] == [
        {
            "path": "data.assignment_number",
            "code": "ASSIGNMENT_UNKNOWN",
            "message": "No assignment with this assignment_number is issued to the sending provider.",
        }
    ]


# ------------------------------------------------------------------ 5. no personal values


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def test_no_personal_value_reaches_errors_records_or_routing_state(
    registry: PartnerRegistry,
) -> None:
    """No BSN, name, date of birth, address, phone or free text of any example is in an error,
    a disclosure record or the routing state."""
    hub = InMemoryHub(make_context(registry))
    hub.send_examples(scenario_files())
    for file in ALL_INVALID:
        hub.send(example(file))
    for index, file in enumerate(ALL_VALID):  # again, all of them: duplicates and known ids
        hub.send(example(file))
        hub.send(variant(example(file), f"again-{index}"))
    values = {v for f in ALL_VALID + ALL_INVALID for v in personal_values(example(f))}
    assert len(values) > 100

    said, kept = [], []
    for outcome in hub.outcomes:
        said += [json.dumps(e.as_dict(), ensure_ascii=False) for e in outcome.errors]
        if outcome.decision is not None:
            said += [json.dumps(r, ensure_ascii=False) for r in disclosures(outcome)]
            kept += [
                f"{k} {json.dumps(v, ensure_ascii=False)}"
                for k, v in outcome.decision.state_changes.items()
            ]
    assert sum(1 for o in hub.outcomes if o.errors) > 60
    errors_and_records, state = "\n".join(said), "\n".join(kept)
    assert sorted(v for v in values if v in errors_and_records) == []
    # The state holds periods and event dates by design; a birth date can only be told
    # apart from those by where it sits, and no state value has a birth date field.
    assert sorted(v for v in values if v in state and not _DATE.fullmatch(v)) == []
    assert not any("birth" in line for line in kept)


def test_the_examples_are_all_found(tmp_path: Path) -> None:
    """The shared examples exist for every v1 type (guards the tests above against an empty set)."""
    types = {p.split("/")[0] for p in ALL_VALID}
    assert types == {spec.short_name for spec in TYPES.values()}
