"""The routing/privacy table: what the default says, and every configuration that refuses to start."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.connectors.registry import PartnerRegistry, load_registry
from hub.errors import ConfigurationError
from hub.privacy import DEFAULT_POLICY_PATH, compile_policy, load_policy, project
from hub.privacy.policy import protection_of
from hub.privacy.project import leaf_paths, schema_tree
from hub.schemas import TYPES, ReferralSubmitted, spec_for
from hub.schemas.safety import SAFETY

DEFAULT: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registry() -> PartnerRegistry:
    """The demo partner registry."""
    return load_registry()


def refusal(
    registry: PartnerRegistry, tmp_path: Path, change: Callable[[dict[str, Any]], Any]
) -> ConfigurationError:
    """Write the default table with one change to a file, load it, and return the refusal."""
    document = copy.deepcopy(DEFAULT)
    change(document)
    path = tmp_path / "privacy.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path, registry=registry)
    assert caught.value.source == str(path)
    return caught.value


def row(document: dict[str, Any], short: str, recipient: str) -> dict[str, Any]:
    """The row of the table for a type and recipient."""
    rows: list[dict[str, Any]] = document["routes"]
    return next(r for r in rows if r["type"] == short and r["recipient"] == recipient)


def index(short: str, recipient: str) -> int:
    """The position of a default row."""
    rows = DEFAULT["routes"]
    return next(i for i, r in enumerate(rows) if r["type"] == short and r["recipient"] == recipient)


# ------------------------------------------------------------------ the defaults


def test_the_default_table_is_privacy_md(registry: PartnerRegistry) -> None:
    """The default table has exactly one row per (type, recipient) of privacy.md's table."""
    policy = load_policy(registry=registry)
    rows = [(".".join(r.type.split(".")[2:4]), r.recipient) for r in policy.routes]
    assert rows == [
        ("referrals.submitted", "swt"),
        ("referrals.status-changed", "referring-gp"),
        ("cases.plan-updated", "live-assignment-providers"),
        ("cases.closed", "backoffice"),
        ("safety-reports.submitted", "veilig-thuis"),
        ("safety-reports.feedback", "swt"),
        ("safety-cases.handed-over", "swt"),
        ("provisions.requested", "backoffice"),
        ("provisions.decided", "swt"),
        ("budgets.status-reported", "swt"),
        ("assignments.issued", "assigned-provider"),
        ("assignments.issued", "swt"),
        ("care.started", "backoffice"),
        ("care.started", "swt"),
        ("care.stopped", "backoffice"),
        ("care.stopped", "swt"),
        ("outcomes.reported", "swt"),
        ("outcomes.reported", "backoffice"),
        ("assignment-requests.submitted", "backoffice"),
        ("assignment-requests.submitted", "swt"),
    ]
    assert policy.routes_for(spec_for("cases.opened").type) == ()


def test_the_default_legal_bases_are_privacy_mds_texts(registry: PartnerRegistry) -> None:
    """Each row's default legal basis, per law where it depends on one, is privacy.md's text."""
    policy = load_policy(registry=registry)
    consent = "explicit consent of the client (AVG art. 6(1)(a), 9(2)(a))"
    by_law = {
        "wmo": "Wmo 2015 art. 5.1.1",
        "jeugdwet": "Jeugdwet ch. 7.4",
        "participatiewet": "Participatiewet ch. 7",
        None: "Wmo 2015 art. 5.1.1",
    }
    fixed = {
        "referrals.submitted": consent,
        "referrals.status-changed": consent,
        "safety-reports.submitted": "Wmo 2015 art. 5.2.6 (meldrecht; no consent needed)",
        "safety-reports.feedback": "Wmo 2015 art. 4.1.1 and 5.1.6",
        "safety-cases.handed-over": "Wmo 2015 art. 4.1.1 and 5.1.6",
        "budgets.status-reported": "None needed: the event carries no personal data",
    }
    for route in policy.routes:
        short = ".".join(route.type.split(".")[2:4])
        expected = {law: fixed.get(short, basis) for law, basis in by_law.items()}
        assert {law: route.legal_basis.for_law(law) for law in by_law} == expected, short


def test_all_is_every_v1_field_expanded_at_start(registry: PartnerRegistry) -> None:
    """``all`` is the v1 model's leaves; ``except`` removes case_id and decision_id for providers."""
    policy = load_policy(registry=registry)
    spec = spec_for("assignments.issued")
    every = leaf_paths(schema_tree(spec.model))
    provider, swt = policy.routes_for(spec.type)
    assert list(swt.projection.paths) == every
    assert list(provider.projection.paths) == [
        p for p in every if p not in ("case_id", "decision_id")
    ]


def test_outcomes_to_the_backoffice_leave_out_explanation_and_indicators(
    registry: PartnerRegistry,
) -> None:
    """The backoffice row of outcomes.reported names no explanation and no indicators."""
    spec = spec_for("outcomes.reported")
    _, backoffice = load_policy(registry=registry).routes_for(spec.type)
    assert backoffice.projection.paths == (
        "assignment_number",
        "period.end",
        "period.start",
        "provider_agb",
        "report_id",
        "results[].assessed_on",
        "results[].result_area",
        "results[].status",
    )


def test_a_later_versions_field_reaches_nobody(registry: PartnerRegistry) -> None:
    """Data of a v2 model with an added field, projected by the v1 table, lacks that field."""

    class ReferralSubmittedV2(ReferralSubmitted):
        gp_private_note: str

    policy = load_policy(registry=registry)
    [route] = policy.routes_for(spec_for("referrals.submitted").type)
    assert "gp_private_note" in ReferralSubmittedV2.model_fields
    data = {"referral_id": "R-1", "gp_private_note": "not for the team"}
    payload, _, withheld = project(data, route.projection)
    assert payload == {"referral_id": "R-1"}
    assert withheld == ("gp_private_note",)


# ------------------------------------------------------------------ refusals


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


REFERRAL_GP = index("referrals.status-changed", "referring-gp")
PLAN = index("cases.plan-updated", "live-assignment-providers")
ISSUED = index("assignments.issued", "assigned-provider")


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            _set(["routes", 0, "type"], "referrals.sent"),
            "routes[0].type",
            "not a known message type",
        ),
        (
            _set(["routes", 0, "fields"], ["referral_id", "client.shoe_size"]),
            "routes[0].fields[1]",
            "'client.shoe_size': the v1 schema has no field 'shoe_size' here",
        ),
        (
            _set(["routes", ISSUED, "except"], ["case"]),
            f"routes[{ISSUED}].except[0]",
            "'case': the v1 schema has no field 'case' here",
        ),
        (
            _set(["routes", REFERRAL_GP, "fields_when"], {"consent.content_feedback": ["notes"]}),
            f"routes[{REFERRAL_GP}].fields_when.consent.content_feedback[0]",
            "'notes': the v1 schema has no field 'notes' here",
        ),
        (
            _set(["routes", 0, "recipient"], "wijkteam"),
            "routes[0].recipient",
            "neither a singleton role, a recipient selector nor a registered partner id; "
            "roles: backoffice, swt, veilig-thuis; selectors: assigned-provider, "
            "live-assignment-providers, referring-gp",
        ),
        (
            _set(["routes", 0, "legal_basis"], "consent"),
            "routes[0].legal_basis",
            "not one of the file's legal_bases",
        ),
        (
            _set(["routes", 0, "processing_activity"], "intake"),
            "routes[0].processing_activity",
            "not one of the file's processing_activities",
        ),
        (
            _set(["routes", REFERRAL_GP, "when"], "consent.given"),
            f"routes[{REFERRAL_GP}].when",
            "not a condition; known: consent.status_feedback, consent.content_feedback, "
            "or data.<path> of a boolean field",
        ),
        (
            _set(["routes", PLAN, "filter"], None),
            f"routes[{PLAN}].filter",
            "goals reach a provider only with filter: goals-in-assignment-result-areas "
            "(privacy.md invariant 4)",
        ),
        (
            _set(["routes", PLAN, "subject"], None),
            f"routes[{PLAN}].subject",
            "live-assignment-providers needs subject: assignment_number",
        ),
        (
            _set(["routes", REFERRAL_GP, "recipient"], "gp-de-linde"),
            f"routes[{REFERRAL_GP}].when",
            "consent.status_feedback applies to the referring-gp recipient only",
        ),
        (
            _set(["routes", REFERRAL_GP, "when"], None),
            f"routes[{REFERRAL_GP}].recipient",
            "a gp may be reached only as referring-gp with when: consent.status_feedback "
            "(privacy.md invariant 3)",
        ),
        (
            _set(["routes", ISSUED, "recipient"], "provider-jeugdhulp-ijssel"),
            f"routes[{ISSUED}].recipient",
            "a provider may be reached only through its own assignment "
            "(assigned-provider or live-assignment-providers; privacy.md invariant 4)",
        ),
        (
            _set(["routes", 0, "colour"], "red"),
            "routes[0].colour",
            "Extra inputs are not permitted",
        ),
        (
            _set(["legal_bases", "social-domain-law", "default"], None),
            "legal_bases.social-domain-law.str",
            "Input should be a valid string",
        ),
        (
            lambda d: d["legal_bases"]["social-domain-law"].pop("default"),
            "legal_bases.social-domain-law",
            "needs a basis for default",
        ),
        (
            lambda d: d["routes"].append(copy.deepcopy(d["routes"][0])),
            f"routes[{len(DEFAULT['routes'])}]",
            "repeats the type and recipient of routes[0]",
        ),
        (
            # swt by its role and by its partner id: one delivery id, two deliveries.
            lambda d: d["routes"].append(
                {**copy.deepcopy(d["routes"][0]), "recipient": "swt-zwolle"}
            ),
            f"routes[{len(DEFAULT['routes'])}].recipient",
            "can reach a partner routes[0] reaches too (swt-zwolle): a partner gets a type "
            "through one row",
        ),
    ],
)
def test_a_bad_table_refuses_to_start(
    registry: PartnerRegistry,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], Any],
    path: str,
    message: str,
) -> None:
    """Each mistake stops the hub with the file, the bad row's path and a sentence."""
    error = refusal(registry, tmp_path, change)
    assert (error.path, str(error).split(": ", 2)[2]) == (path, message)


def test_not_yaml_names_the_line(registry: PartnerRegistry, tmp_path: Path) -> None:
    """A file that is not YAML is refused with its line and column."""
    path = tmp_path / "privacy.yaml"
    path.write_text("routes:\n  - fields: [goals[].goal_id]\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path, registry=registry)
    assert (caught.value.source, caught.value.path) == (str(path), "line 2, column 19")


# ------------------------------------------------------------------ invariant 2, whatever the table


SAFETY_TYPES = sorted(s.short_name for s in TYPES.values() if protection_of(s.type) is SAFETY)
OUTSIDE_RECIPIENTS = [
    "backoffice",
    "referring-gp",
    "assigned-provider",
    "live-assignment-providers",
    "backoffice-zwolle",
    "gp-de-linde",
    "gp-het-anker",
    "provider-thuiszorg-zwolle",
    "provider-jeugdhulp-ijssel",
]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    short=st.sampled_from(SAFETY_TYPES),
    recipient=st.sampled_from(OUTSIDE_RECIPIENTS),
    position=st.integers(0, len(DEFAULT["routes"])),
    everything=st.booleans(),
)
def test_no_table_sends_safety_data_outside_veilig_thuis_and_the_team(
    registry: PartnerRegistry, short: str, recipient: str, position: int, everything: bool
) -> None:
    """A row sending any safety-* type to any other recipient, anywhere in the table, is refused."""
    document = copy.deepcopy(DEFAULT)
    spec = spec_for(short)
    fields: Any = "all" if everything else [leaf_paths(schema_tree(spec.model))[0]]
    bad = {
        "type": short,
        "recipient": recipient,
        "fields": fields,
        "legal_basis": "meldrecht",
        "processing_activity": "meldcode-report",
    }
    document["routes"].insert(position, bad)
    with pytest.raises(ConfigurationError) as caught:
        compile_policy(document, source="privacy.yaml", registry=registry)
    assert caught.value.path == f"routes[{position}].recipient"
    assert str(caught.value).endswith(
        "a safety-* type may reach only veilig-thuis and swt (privacy.md invariant 2)"
    )


def test_the_safety_roles_are_fixed_in_code() -> None:
    """The roles a safety event may reach come from the safety class, not from the table."""
    assert SAFETY.may_reach == ("veilig-thuis", "swt")
    assert SAFETY_TYPES == [
        "safety-cases.handed-over",
        "safety-reports.feedback",
        "safety-reports.submitted",
    ]
