"""Message families as data: the contract's five, and a new one brought by a connector alone."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.connectors import (
    Catalogue,
    Connector,
    Partner,
    PartnerRegistry,
    Reach,
    RoleSpec,
    TypeSpec,
    load_registry,
)
from hub.connectors.discovery import catalogue, discover
from hub.connectors.family import Family, Link, LinkedFacts, SelectorSpec, StateKind
from hub.errors import ConfigurationError, ErrorCode
from hub.privacy import DEFAULT_POLICY_PATH, InvariantViolation, load_policy
from hub.routing import OutcomeKind, RuleInput
from hub.routing.retention import expired_keys, older
from hub.schemas import TYPES, ContractModel
from hub.schemas.common import Identifier, PersonWithBsn
from hub.state import StateView

from ..routing.routing_helpers import InMemoryHub, disclosures, make_context
from .test_catalogue import DEMO_PARTNERS

HERE = Path(__file__).resolve().parent

# ------------------------------------------------------------------ a new family


class CoachingRequested(ContractModel):
    """The team asks a budget coach (by AGB) to coach a client."""

    request_id: Identifier
    coach_agb: str
    client: PersonWithBsn


class CoachingEnded(ContractModel):
    """The team ends the coaching: only the request id, the coach is found in the state."""

    request_id: Identifier


def _key(request_id: str) -> str:
    return f"coaching:{request_id}"


def _requested(item: RuleInput) -> None:
    key = _key(item.data["request_id"])
    if item.is_new(key, "data.request_id", "This request_id was already used."):
        item.put(key, item.stamp({"coach_agb": item.data["coach_agb"]}))
        item.facts.link("the-coach", Link(agb=item.data["coach_agb"]))


def _ended(item: RuleInput) -> None:
    known = item.get(_key(item.data["request_id"]))
    if known is None:
        item.unroutable("data.request_id", "No coaching with this request_id is known.")
        return
    item.facts.link("the-coach", Link(agb=str(known["coach_agb"])))
    item.put(_key(item.data["request_id"]), item.stamp({**known, "ended_on": item.received_on}))


def _the_coach(data: Mapping[str, Any], facts: LinkedFacts) -> Iterable[Link]:
    return facts.links.get("the-coach", ())


def _coaching_expired(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    return older(value.get("ended_on"), today, retention)


COACHING = Family(
    name="coaching",
    description="Budget coaching asked by the team.",
    rules={"coaching.requested": _requested, "coaching.ended": _ended},
    selectors=(
        SelectorSpec(
            name="the-coach",
            description="The coach the request named.",
            resolve=_the_coach,
            needs="request_id",
            fed_by=("coaching.requested", "coaching.ended"),
        ),
    ),
    state=(StateKind("coaching", "A coaching request: its coach.", _coaching_expired),),
)

COACH = RoleSpec(
    name="budget-coach",
    description="A budget coach.",
    agb=True,
    reach=Reach(selectors=("the-coach",), rule="a coach is reached only as the-coach"),
)


def _swt_type(short_name: str, model: type[ContractModel]) -> TypeSpec:
    return TypeSpec(
        type=f"nl.sociaaldomein.{short_name}.v1",
        model=model,
        subject_field="request_id",
        sender_role="swt",
        family="coaching",
        short_name=short_name,
    )


REQUESTED = _swt_type("coaching.requested", CoachingRequested)
ENDED = _swt_type("coaching.ended", CoachingEnded)

COACH_CONNECTOR = Connector(
    role=COACH,
    receives=(REQUESTED, ENDED),
    rows=HERE / "data" / "coaching-rows.yaml",
    families=(COACHING,),
)

COACH_PARTNER = {
    "id": "coach-zwolle",
    "role": "budget-coach",
    "source": "urn:nld:oin:00000001234567890000:systeem:coach",
    "agb": "02345678",
}


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalogue]:
    """The coaching connector installed through an entry point, for the whole hub."""

    def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
        value = "tests.unit.connectors.test_families:COACH_CONNECTOR"
        return [importlib.metadata.EntryPoint(name="coaching", value=value, group=group)]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    _forget()
    yield catalogue()
    monkeypatch.undo()
    _forget()


def _forget() -> None:
    catalogue.cache_clear()
    vars(TYPES).pop("get", None)
    TYPES._types = None


def _event(short_name: str, event_id: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:nld:oin:00000001234567890000:systeem:wijkteam",
        "type": f"nl.sociaaldomein.{short_name}.v1",
        "time": "2025-03-10T09:00:00+01:00",
        "subject": data["request_id"],
        "datacontenttype": "application/json",
        "data": data,
    }


CLIENT = {"bsn": "999993653", "family_name": "Jansen", "birth_date": "1980-01-01"}


# ------------------------------------------------------------------ the tests


def test_the_contract_families_are_the_connectors() -> None:
    """The five families and iwmo's state come from the connectors; every rule is for a declared type."""
    found = catalogue()
    assert sorted(found.families) == ["care", "cases", "iwmo", "provisions", "referrals", "safety"]
    assert set(found.rules) <= set(found.types)
    assert sorted(found.selectors) == [
        "assigned-provider",
        "live-assignment-providers",
        "referring-gp",
    ]
    assert sorted(found.conditions) == ["consent.content_feedback", "consent.status_feedback"]
    assert list(found.filters) == ["goals-in-assignment-result-areas"]


def test_a_new_family_runs_its_rule_and_selector_through_the_core(
    installed: Catalogue,
) -> None:
    """A connector brings a type, its rule, its selector and its state: no core edit."""
    assert installed.rules[REQUESTED.type] is _requested
    registry = PartnerRegistry(
        [Partner.model_validate(p) for p in [*DEMO_PARTNERS, COACH_PARTNER]], installed.roles
    )
    hub = InMemoryHub(make_context(registry))
    ask = _event("coaching.requested", "c-1", request_id="R-1", coach_agb="02345678", client=CLIENT)
    outcome = hub.send(ask)
    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    [record] = disclosures(outcome)
    assert (record["recipient"], record["outcome"]) == ("coach-zwolle", "delivered")
    assert record["data_subjects"]  # the client's pseudonym, found along the type's BSN paths

    end = hub.send(_event("coaching.ended", "c-2", request_id="R-1"))
    assert end.kind is OutcomeKind.ACCEPTED
    assert [d.recipient for d in end.decision.deliveries] == ["coach-zwolle"]  # type: ignore[union-attr]

    again = hub.send(
        _event("coaching.requested", "c-3", request_id="R-1", coach_agb="02345678", client=CLIENT)
    )
    assert [e.code for e in again.errors] == [ErrorCode.ID_ALREADY_KNOWN]

    unknown = hub.send(_event("coaching.ended", "c-4", request_id="R-9"))
    assert [e.code for e in unknown.errors] == [ErrorCode.UNKNOWN_REFERENCE]

    # Its state expires as the family says: the retention after the coaching ended.
    state = hub.state
    today = date.fromisoformat(hub.ctx.now().date().isoformat())
    later = today + timedelta(days=800)
    keys = list(
        expired_keys(state, later, retention=timedelta(days=730), seen_retention=timedelta(days=30))
    )
    assert "coaching:R-1" in keys


def _with(*connectors: Connector) -> Catalogue:
    return Catalogue([*discover(), *((f"tests.{c.role.name}", c) for c in connectors)])


def test_two_families_of_one_name_are_refused() -> None:
    """A second family named like another cannot replace it (or its rules)."""
    impostor = dataclasses.replace(COACHING, name="care")
    with pytest.raises(ConfigurationError) as caught:
        _with(dataclasses.replace(COACH_CONNECTOR, families=(impostor,)))
    assert caught.value.path == "families[0].name"
    assert "another family is named care already" in caught.value.message


def test_a_rule_for_an_undeclared_type_is_refused() -> None:
    """A family's rule must be for a type some connector declares."""
    stray = dataclasses.replace(COACHING, rules={"coaching.nothing": _requested})
    with pytest.raises(ConfigurationError) as caught:
        _with(dataclasses.replace(COACH_CONNECTOR, families=(stray,)))
    assert caught.value.path == "rules.coaching.nothing"


def test_a_selector_name_belongs_to_one_family() -> None:
    """Two families cannot both declare a selector (or condition, filter, state kind) name."""
    clash = dataclasses.replace(
        COACHING,
        selectors=(dataclasses.replace(COACHING.selectors[0], name="referring-gp"),),
    )
    with pytest.raises(ConfigurationError) as caught:
        _with(dataclasses.replace(COACH_CONNECTOR, families=(clash,)))
    assert caught.value.path == "selectors.referring-gp"


def test_a_reach_through_an_unknown_selector_is_refused() -> None:
    """A role reached only through a selector no family declares could never be reached."""
    role = dataclasses.replace(COACH, reach=Reach(selectors=("nobody",), rule="x"))
    with pytest.raises(ConfigurationError) as caught:
        _with(dataclasses.replace(COACH_CONNECTOR, role=role, families=()))
    assert caught.value.path == "role.reach.selectors"


def test_a_second_rule_for_a_type_is_refused() -> None:
    """A family cannot replace the contract's rule of a type (and with it who gets consent)."""
    rogue = dataclasses.replace(COACHING, rules={"referrals.status-changed": _requested})
    with pytest.raises(ConfigurationError) as caught:
        _with(dataclasses.replace(COACH_CONNECTOR, families=(rogue,)))
    assert caught.value.path == "rules.referrals.status-changed"
    assert caught.value.message == "declared by another family too"


def test_a_short_name_belongs_to_one_type() -> None:
    """Another type under a contract type's short name would take its rule and rows."""
    twin = dataclasses.replace(
        REQUESTED, type="nl.acme.assignments.issued.v1", short_name="assignments.issued"
    )
    with pytest.raises(ConfigurationError) as caught:
        _with(dataclasses.replace(COACH_CONNECTOR, receives=(twin,), rows=None, families=()))
    assert caught.value.path == "receives[0].short_name"


def test_a_role_cannot_be_named_like_a_selector() -> None:
    """A singleton role named assigned-provider would take the selector's rows."""
    role = RoleSpec(name="assigned-provider", description="x", singleton=True)
    with pytest.raises(ConfigurationError) as caught:
        _with(Connector(role=role, receives=("assignments.issued",)))
    assert caught.value.path == "role.name"


def test_a_per_item_selector_describes_its_item() -> None:
    """A per-item selector without its item's schema would publish an undescribed field."""
    bare = dataclasses.replace(COACHING.selectors[0], item_field="coaching_number")
    with pytest.raises(ConfigurationError) as caught:
        _with(
            dataclasses.replace(
                COACH_CONNECTOR, families=(dataclasses.replace(COACHING, selectors=(bare,)),)
            )
        )
    assert caught.value.path == "selectors.the-coach.item_schema"


def _nudge_rule(item: RuleInput) -> None:
    # A rogue rule: links any gp and claims the referral's consent.
    item.facts.link("referring-gp", Link(agb="01765432"))
    item.facts.holding.add("consent.status_feedback")


def test_a_family_cannot_feed_a_contract_selector(
    installed: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new type's rule that links referring-gp or claims consent is refused, not released."""
    registry = PartnerRegistry(
        [Partner.model_validate(p) for p in [*DEMO_PARTNERS, COACH_PARTNER]], installed.roles
    )
    hub = InMemoryHub(make_context(registry))
    ask = _event("coaching.requested", "c-1", request_id="R-1", coach_agb="02345678", client=CLIENT)
    hub.send(ask)
    monkeypatch.setattr(installed, "rules", {**installed.rules, ENDED.type: _nudge_rule})
    with pytest.raises(InvariantViolation, match="may not link referring-gp"):
        hub.send(_event("coaching.ended", "c-2", request_id="R-1"))


def test_a_row_cannot_name_a_selector_its_type_does_not_feed(tmp_path: Path) -> None:
    """A row sending another type to referring-gp is refused: only status-changed links the gp."""
    table = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    table["routes"].append(
        {
            "type": "referrals.submitted",
            "recipient": "referring-gp",
            "fields": ["referral_id"],
            "when": "consent.status_feedback",
            "legal_basis": table["routes"][0]["legal_basis"],
            "processing_activity": table["routes"][0]["processing_activity"],
        }
    )
    path = tmp_path / "privacy.yaml"
    path.write_text(yaml.safe_dump(table), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path, registry=load_registry())
    assert caught.value.path.endswith(".recipient")
    assert caught.value.message == "referring-gp is linked only for referrals.status-changed"
