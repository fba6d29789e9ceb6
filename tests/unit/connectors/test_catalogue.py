"""Connectors as data: the five roles found by discovery, and a new role checked like them."""

from __future__ import annotations

import copy
import dataclasses
import importlib.metadata
from typing import Any

import pytest
import yaml
from pydantic import Field

from hub.connectors import (
    Catalogue,
    Connector,
    Partner,
    PartnerRegistry,
    ProtectionClass,
    Reach,
    RoleSpec,
    TypeSpec,
    catalogue,
    discover,
    load_registry,
)
from hub.connectors.protocol import Renderer
from hub.errors import ConfigurationError
from hub.privacy import DEFAULT_POLICY_PATH, compile_policy
from hub.schemas import TYPES, ContractModel
from hub.schemas.safety import SAFETY, SafetyReportSubmitted

DEFAULT: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
DEMO_PARTNERS = [p.model_dump() for p in load_registry()]


class DebtAssistanceRequested(ContractModel):
    """A stand-in model for a new partner's type."""

    request_id: str


DEBT = RoleSpec(name="debt-assistance", description="Schuldhulpverlening.", singleton=True)


def _type(short_name: str, model: type[ContractModel], role: RoleSpec, **extra: Any) -> TypeSpec:
    return TypeSpec(
        **{
            "type": f"nl.sociaaldomein.{short_name}.v1",
            "model": model,
            "subject_field": "request_id",
            "sender_role": role.name,
            "family": short_name.split(".")[0],
            "short_name": short_name,
            **extra,
        }
    )


def with_connector(*connectors: Connector) -> Catalogue:
    """The discovered connectors and the given ones, as one catalogue."""
    return Catalogue([*discover(), *((f"tests.{c.role.name}", c) for c in connectors)])


def registry_with(found: Catalogue, *extra: dict[str, Any]) -> PartnerRegistry:
    """The demo partners and the given ones, checked against the catalogue's roles."""
    partners = [Partner.model_validate(p) for p in [*DEMO_PARTNERS, *extra]]
    return PartnerRegistry(partners, found.roles)


DEBT_PARTNER = {
    "id": "schuldhulp-zwolle",
    "role": "debt-assistance",
    "source": "urn:nld:oin:00000001234567890000:systeem:schuldhulp",
}


# ------------------------------------------------------------------ the five roles


def test_the_five_contract_roles_are_discovered_connectors() -> None:
    """Discovery finds one module per contract role in hub.roles, in name order."""
    assert [origin for origin, _ in discover()] == [
        "hub.roles.backoffice",
        "hub.roles.gp",
        "hub.roles.provider",
        "hub.roles.swt",
        "hub.roles.veilig_thuis",
    ]
    roles = catalogue().roles
    assert {name: (r.agb, r.singleton, r.required) for name, r in roles.items()} == {
        "backoffice": (False, True, True),
        "gp": (True, False, False),
        "provider": (True, False, False),
        "swt": (False, True, True),
        "veilig-thuis": (False, True, True),
    }


def test_the_type_registry_is_the_union_of_what_the_connectors_send() -> None:
    """TYPES holds exactly the types the connectors send, each under its sender's role."""
    sent = {spec.type: c.role.name for c in catalogue().connectors for spec in c.sends}
    assert {t: spec.sender_role for t, spec in TYPES.items()} == sent
    assert len(TYPES) == 16


def test_every_safety_type_declares_the_safety_class() -> None:
    """The three safety-* types carry the class that confines them to veilig-thuis and swt."""
    assert sorted(t for t, spec in TYPES.items() if spec.protection is SAFETY) == [
        "nl.sociaaldomein.safety-cases.handed-over.v1",
        "nl.sociaaldomein.safety-reports.feedback.v1",
        "nl.sociaaldomein.safety-reports.submitted.v1",
    ]


# ------------------------------------------------------------------ a new role, same checks


def test_a_new_role_registers_partners_like_the_contract_roles() -> None:
    """A partner of a role only a new connector declares is accepted, and found by role."""
    found = with_connector(Connector(role=DEBT))
    registry = registry_with(found, DEBT_PARTNER)
    assert registry.only("debt-assistance").id == "schuldhulp-zwolle"


def test_a_partner_of_an_undeclared_role_is_refused() -> None:
    """A partner whose role no connector declares stops the hub, naming the field."""
    with pytest.raises(ConfigurationError) as caught:
        registry_with(catalogue(), DEBT_PARTNER)
    assert caught.value.path == "partners[7].role"
    assert str(caught.value).endswith(
        "not a role of any connector; known: backoffice, gp, provider, swt, veilig-thuis"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"agb": "12345678"}, "a swt partner has no agb"),
        ({"role": "gp", "agb": None}, "a gp partner needs an 8-digit agb"),
        ({"role": "gp", "agb": "1234"}, "a gp partner needs an 8-digit agb"),
        ({"role": "gp", "agb": "12345678\n"}, "a gp partner needs an 8-digit agb"),
    ],
)
def test_an_agb_follows_the_roles_property(change: dict[str, Any], message: str) -> None:
    """A partner has an 8-digit AGB exactly when its role declares one."""
    partners = copy.deepcopy(DEMO_PARTNERS)
    partners[0].update(change)
    with pytest.raises(ConfigurationError) as caught:
        PartnerRegistry([Partner.model_validate(p) for p in partners])
    assert (caught.value.path, str(caught.value).split(": ", 2)[2]) == ("partners[0].agb", message)


@pytest.mark.parametrize(
    ("required", "partners", "message"),
    [
        (True, 0, "a deployment needs exactly one debt-assistance partner, found 0"),
        (True, 2, "a deployment needs exactly one debt-assistance partner, found 2"),
        (False, 2, "a deployment has at most one debt-assistance partner, found 2"),
    ],
)
def test_a_singleton_role_has_at_most_one_partner(
    required: bool, partners: int, message: str
) -> None:
    """A singleton role has at most one partner; a required one exactly one, like swt."""
    role = dataclasses.replace(DEBT, required=required)
    extra = [
        {**DEBT_PARTNER, "id": f"schuldhulp-{n}", "source": f"{DEBT_PARTNER['source']}{n}"}
        for n in range(partners)
    ]
    with pytest.raises(ConfigurationError) as caught:
        registry_with(with_connector(Connector(role=role)), *extra)
    assert str(caught.value).endswith(message)


def test_an_optional_singleton_role_may_have_no_partner() -> None:
    """A deployment without a partner of an optional role starts; the role's rows reach nobody."""
    registry = registry_with(with_connector(Connector(role=DEBT)))
    assert (registry.one("debt-assistance"), registry.with_role("debt-assistance")) == (None, [])


def test_two_connectors_cannot_declare_one_role() -> None:
    """A second connector for a declared role is refused, naming both."""
    swt = RoleSpec(name="swt", description="A second team.", singleton=True)
    with pytest.raises(ConfigurationError) as caught:
        with_connector(Connector(role=swt))
    assert str(caught.value) == ("tests.swt: role.name: role swt is declared by hub.roles.swt too")


def test_two_connectors_cannot_send_one_type() -> None:
    """A type already declared by one connector cannot be declared by another."""
    stolen = _type(
        "safety-reports.submitted",
        SafetyReportSubmitted,
        DEBT,
        protection=SAFETY,
        subject_field="report_id",
    )
    with pytest.raises(ConfigurationError) as caught:
        with_connector(Connector(role=DEBT, sends=(stolen,)))
    assert (caught.value.path, str(caught.value).split(": ", 2)[2]) == (
        "sends[0].type",
        "nl.sociaaldomein.safety-reports.submitted.v1 is declared by hub.roles.swt too",
    )


# ------------------------------------------------------------------ protection classes


def test_a_safety_named_type_must_declare_the_safety_class() -> None:
    """A new connector cannot send a safety-* type without the class that confines it."""
    unprotected = _type("safety-debts.reported", DebtAssistanceRequested, DEBT)
    with pytest.raises(ConfigurationError) as caught:
        with_connector(Connector(role=DEBT, sends=(unprotected,)))
    assert (caught.value.source, caught.value.path) == (
        "tests.debt-assistance",
        "sends[0].protection",
    )
    assert str(caught.value).endswith("a safety-* type must declare the safety protection class")


def test_a_second_class_named_safety_cannot_switch_the_safety_check_off() -> None:
    """A connector's own "safety" class (another prefix) is refused, not let replace the contract's."""
    impostor = ProtectionClass(
        name="safety", segment_prefix="zzz-", may_reach=("debt-assistance",), rule="anything"
    )
    with pytest.raises(ConfigurationError) as caught:
        with_connector(
            Connector(
                role=DEBT,
                sends=(
                    _type("zzz-debts.reported", DebtAssistanceRequested, DEBT, protection=impostor),
                    _type("safety-leak.reported", DebtAssistanceRequested, DEBT),
                ),
            )
        )
    assert caught.value.path == "sends[0].protection"
    assert str(caught.value).endswith("another protection class is named safety already")


def test_the_safety_class_holds_even_when_no_connector_names_it() -> None:
    """Only a new connector, sending a safety-* type unprotected: still refused."""
    alone = Connector(
        role=DEBT, sends=(_type("safety-debts.reported", DebtAssistanceRequested, DEBT),)
    )
    with pytest.raises(ConfigurationError, match="must declare the safety protection class"):
        Catalogue([("tests.debt-assistance", alone)])  # without the five contract connectors


@pytest.mark.parametrize("recipient", ["debt-assistance", "schuldhulp-zwolle"])
def test_a_new_roles_row_cannot_receive_safety_data(recipient: str) -> None:
    """A row sending a safety type to a new role, by its name or by partner id, stops the hub."""
    found = with_connector(Connector(role=DEBT))
    registry = registry_with(found, DEBT_PARTNER)
    document = copy.deepcopy(DEFAULT)
    document["routes"].append(
        {
            "type": "safety-reports.submitted",
            "recipient": recipient,
            "fields": "all",
            "legal_basis": "meldrecht",
            "processing_activity": "meldcode-report",
        }
    )
    with pytest.raises(ConfigurationError) as caught:
        compile_policy(
            document,
            source="privacy.yaml",
            registry=registry,
            types=TYPES,
            connectors=found.connectors,
        )
    assert caught.value.path == f"routes[{len(DEFAULT['routes'])}].recipient"
    assert str(caught.value).endswith(
        "a safety-* type may reach only veilig-thuis and swt (privacy.md invariant 2)"
    )


def test_a_role_that_declares_its_reach_is_reached_only_that_way() -> None:
    """A new role's reach rule is enforced for its rows as the gp's and provider's are."""
    guarded = RoleSpec(
        name="debt-assistance",
        description="Reached only per assignment.",
        reach=Reach(selectors=("assigned-provider",), rule="only through its own assignment"),
    )
    # Reached as assigned-provider, it must take what that selector's rows send.
    found = with_connector(Connector(role=guarded, receives=("assignments.issued",)))
    registry = registry_with(found, DEBT_PARTNER)
    document = copy.deepcopy(DEFAULT)
    document["routes"].append(
        {
            "type": "cases.closed",
            "recipient": "schuldhulp-zwolle",
            "fields": ["case_id"],
            "legal_basis": "social-domain-law",
            "processing_activity": "case-coordination",
        }
    )
    with pytest.raises(ConfigurationError) as caught:
        compile_policy(
            document,
            source="privacy.yaml",
            registry=registry,
            types=TYPES,
            connectors=found.connectors,
        )
    assert str(caught.value).endswith(
        f"routes[{len(DEFAULT['routes'])}].recipient: only through its own assignment"
    )


# ------------------------------------------------------------------ what a connector receives

REQUESTED = TypeSpec(
    type="nl.sociaaldomein.debt-assistance.requested.v1",
    model=DebtAssistanceRequested,
    subject_field="request_id",
    sender_role="swt",
    family="debt-assistance",
    short_name="debt-assistance.requested",
)


def test_a_new_connector_declares_the_type_another_role_sends_it() -> None:
    """A type a new partner receives is declared by its connector, sent by the sender's role."""
    found = with_connector(Connector(role=DEBT, receives=(REQUESTED, "cases.closed")))
    assert found.types[REQUESTED.type].sender_role == "swt"
    assert found.declared_by[REQUESTED.type] == "debt-assistance"
    assert found.connectors[-1].received() == {REQUESTED.type, "cases.closed"}


@pytest.mark.parametrize(
    ("receives", "path", "message"),
    [
        (("cases.reopened",), "receives[0]", "cases.reopened is not a declared type"),
        (
            (dataclasses.replace(REQUESTED, sender_role="bank"),),
            "receives[0].sender_role",
            "bank is not a role of any connector",
        ),
    ],
)
def test_a_connector_receives_only_declared_types(
    receives: tuple[Any, ...], path: str, message: str
) -> None:
    """A received type that no connector declares, or sent by no declared role, is refused."""
    with pytest.raises(ConfigurationError) as caught:
        with_connector(Connector(role=DEBT, receives=receives))
    assert (caught.value.path, str(caught.value).split(": ", 2)[2]) == (path, message)


def test_the_table_cannot_send_a_role_what_its_connector_does_not_receive() -> None:
    """A row of the table giving a role a type its connector does not take stops the hub."""
    document = copy.deepcopy(DEFAULT)
    document["routes"].append(
        {
            "type": "cases.opened",
            "recipient": "backoffice",
            "fields": ["case_id"],
            "legal_basis": "social-domain-law",
            "processing_activity": "case-coordination",
        }
    )
    with pytest.raises(ConfigurationError) as caught:
        compile_policy(document, source="privacy.yaml", registry=load_registry())
    assert str(caught.value) == (
        f"privacy.yaml: routes[{len(DEFAULT['routes'])}].recipient: "
        "the backoffice connector does not receive cases.opened"
    )


def test_a_connector_receives_what_others_send() -> None:
    """A type a connector's own role sends belongs in its sends, not its receives."""
    with pytest.raises(ValueError, match="declare it in sends"):
        Connector(role=DEBT, receives=(_type("debts.x", DebtAssistanceRequested, DEBT),))


def test_a_connector_must_send_as_its_own_role() -> None:
    """A connector declaring a type under another role's name is a programming error."""
    with pytest.raises(ValueError, match="its connector's role is debt-assistance"):
        Connector(
            role=DEBT,
            sends=(_type("debts.x", DebtAssistanceRequested, RoleSpec("swt", "The team.")),),
        )


def test_a_module_without_a_connector_is_refused() -> None:
    """A hub.roles module that defines no CONNECTOR stops the hub naming the module."""
    from hub.connectors.discovery import _connector_of

    with pytest.raises(ConfigurationError) as caught:
        _connector_of("hub.roles.empty", object())
    assert str(caught.value) == "hub.roles.empty: CONNECTOR: must be a hub.connectors.Connector"


def test_a_role_that_joins_a_selector_must_take_what_its_rows_send() -> None:
    """A new role reachable as assigned-provider is refused unless it receives those rows' types."""
    joiner = RoleSpec(
        name="debt-assistance",
        description="Wants provider deliveries.",
        agb=True,
        reach=Reach(selectors=("assigned-provider",), rule="only through its own assignment"),
    )
    found = with_connector(Connector(role=joiner))
    registry = registry_with(found, {**DEBT_PARTNER, "agb": "99999999"})
    with pytest.raises(ConfigurationError) as caught:
        compile_policy(
            DEFAULT,
            source="privacy.yaml",
            registry=registry,
            types=TYPES,
            connectors=found.connectors,
        )
    assert str(caught.value).endswith(
        "the debt-assistance connector does not receive assignments.issued"
    )


# ------------------------------------------------------------------ entry points

ENTRY_CONNECTOR = Connector(role=DEBT, receives=(REQUESTED,))


def _entry_points(value: str) -> Any:
    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        assert group == "hub.connectors"
        return [importlib.metadata.EntryPoint(name="debt-assistance", value=value, group=group)]

    return entry_points


def test_an_entry_point_adds_a_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connector in another distribution, named by a hub.connectors entry point, comes last."""
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        _entry_points("tests.unit.connectors.test_catalogue:ENTRY_CONNECTOR"),
    )
    found = discover()
    assert found[-1] == ("entry point hub.connectors:debt-assistance", ENTRY_CONNECTOR)
    assert Catalogue(found).types[REQUESTED.type] is REQUESTED


def test_an_entry_point_cannot_redeclare_a_contract_role(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry point naming a module whose connector's role exists already is refused."""
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points("hub.roles.gp"))
    with pytest.raises(ConfigurationError) as caught:
        Catalogue(discover())
    assert str(caught.value) == (
        "entry point hub.connectors:debt-assistance: role.name: "
        "role gp is declared by hub.roles.gp too"
    )


def test_an_entry_point_that_cannot_be_imported_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An entry point naming a missing module stops the hub, naming the entry point."""
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points("no_such_connector"))
    with pytest.raises(ConfigurationError) as caught:
        discover()
    assert (caught.value.source, caught.value.path) == (
        "entry point hub.connectors:debt-assistance",
        "no_such_connector",
    )


def test_iwmo_is_a_provider_format_only() -> None:
    """`iwmo: true` asks for the provider connector's XML; on a gp it is refused, by path."""
    found = catalogue()
    partners = copy.deepcopy(DEMO_PARTNERS)
    provider = next(p for p in partners if p["role"] == "provider")
    provider["iwmo"] = True
    registry = PartnerRegistry([Partner.model_validate(p) for p in partners], found.roles)
    assert registry.get(provider["id"]).iwmo is True  # type: ignore[union-attr]
    gp_index = next(i for i, p in enumerate(partners) if p["role"] == "gp")
    partners[gp_index]["iwmo"] = True
    with pytest.raises(ConfigurationError) as caught:
        PartnerRegistry([Partner.model_validate(p) for p in partners], found.roles)
    assert caught.value.path == f"partners[{gp_index}].iwmo"
    assert caught.value.message == "a gp partner cannot use iwmo (its role's formats: none)"


# ------------------------------------------------------------------ declarations checked


class _Referrer(ContractModel):
    agb: str


class _Referred(ContractModel):
    request_id: str
    referrer: _Referrer | None = None


class _Aliased(ContractModel):
    case_ref: str = Field(alias="case-ref")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"subject_field": "requestid"},
            "subject_field 'requestid' is not a required field of _Referred",
        ),
        (
            {"subject_field": "referrer"},  # optional: an event without it would pass
            "subject_field 'referrer' is not a required field of _Referred",
        ),
        (
            {"model": _Aliased, "subject_field": "case_ref"},  # data calls it case-ref
            "subject_field 'case_ref' is not a required field of _Aliased",
        ),
        (
            {"sender_agb_field": ("referrer", "abg")},
            "sender_agb_field 'referrer.abg' is not a field of _Referred (no 'referrer.abg')",
        ),
        (
            {"sender_agb_field": ("request_id", "agb")},
            "sender_agb_field 'request_id.agb' is not a field of _Referred (no 'request_id.agb')",
        ),
    ],
)
def test_a_type_naming_a_field_its_model_lacks_is_refused(
    fields: dict[str, Any], message: str
) -> None:
    """A misspelt subject or sender-AGB field would switch its check off without a word."""
    values: dict[str, Any] = {
        "type": "nl.sociaaldomein.referred.v1",
        "model": _Referred,
        "subject_field": "request_id",
        "sender_role": "gp",
        "family": "referred",
        "short_name": "referred",
        "sender_agb_field": ("referrer", "agb"),
    }
    with pytest.raises(ValueError, match="is not a") as caught:
        TypeSpec(**(values | fields))
    model_name = (values | fields)["model"].__name__
    assert str(caught.value) == f"nl.sociaaldomein.referred.v1: {message}".replace(
        "_Referred", model_name
    )
    assert TypeSpec(**values).sender_agb_field == ("referrer", "agb")
    aliased = values | {"model": _Aliased, "subject_field": "case-ref", "sender_agb_field": None}
    assert TypeSpec(**aliased).subject_field == "case-ref"


def test_a_format_name_is_a_slug_as_the_registry_asks_for_it() -> None:
    """A format the registry's `formats` could never name is refused where it is declared."""
    with pytest.raises(ValueError, match="a format name is a lowercase slug, not 'zorgmail_v2'"):
        RoleSpec(name="mailer", description="x", formats=("zorgmail_v2",))


def test_an_api_key_in_clear_or_a_placeholder_is_refused(tmp_path: Any) -> None:
    """The registry keeps SHA-256 digests only: anything else would be an opaque 401 for ever."""
    partners = copy.deepcopy(DEMO_PARTNERS)
    for value in ("<sha256 of its API key>", "my-leerplicht-key", "A" * 64):
        partners[0]["credentials"] = {"api_key_sha256": [value]}
        path = tmp_path / "partners.yaml"
        path.write_text(yaml.safe_dump({"partners": partners}), encoding="utf-8")
        with pytest.raises(ConfigurationError) as caught:
            load_registry(path)
        assert caught.value.path == "partners[0].credentials.api_key_sha256[0]"
        assert value not in str(caught.value)


def test_a_registry_that_is_not_yaml_names_the_line(tmp_path: Any) -> None:
    """A tab in the indentation: the file, its line and column, as for a connector's rows."""
    path = tmp_path / "partners.yaml"
    path.write_text("partners:\n  - id: x\n\trole: gp\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_registry(path)
    assert str(caught.value) == f"{path}: line 3, column 1: not valid YAML"


def _csv(*types: str) -> Renderer:
    return Renderer(format="csv", types=types, bind=lambda settings: lambda view: None)


def test_a_renderer_names_what_its_connector_receives_by_full_or_short_name() -> None:
    """As ``receives`` does: the short name of a received TypeSpec, or a name another connector declares."""
    role = RoleSpec(name="debt-assistance", description="Schuldhulp.", formats=("csv",))
    own = _type("debt-assistance.requested", DebtAssistanceRequested, RoleSpec("swt", "team"))
    for names in (
        ("debt-assistance.requested",),
        ("nl.sociaaldomein.debt-assistance.requested.v1",),
    ):
        with_connector(Connector(role=role, receives=(own,), renderers=(_csv(*names),)))
    with_connector(
        Connector(
            role=role,
            receives=("cases.closed",),
            renderers=(_csv("nl.sociaaldomein.cases.closed.v1"),),
        )
    )
    with pytest.raises(ValueError, match=r"debt-assistance does not receive cases\.opened"):
        Connector(role=role, receives=(own,), renderers=(_csv("cases.opened"),))
    with pytest.raises(ConfigurationError) as caught:
        with_connector(
            Connector(role=role, receives=("cases.closed",), renderers=(_csv("cases.opened"),))
        )
    assert caught.value.path == "renderers[0].types[0]"
    assert caught.value.message == "cases.opened is not a type debt-assistance receives"
