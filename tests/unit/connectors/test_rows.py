"""A connector's routing/privacy rows: merged with the table at start-up, checked like it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.connectors import (
    Catalogue,
    Connector,
    Partner,
    PartnerRegistry,
    RoleSpec,
    TypeSpec,
    discover,
    load_registry,
)
from hub.errors import ConfigurationError
from hub.privacy import DEFAULT_POLICY_PATH, PrivacyPolicy, load_policy
from hub.schemas import TYPES, ContractModel

DEBT = RoleSpec(name="debt-assistance", description="Schuldhulpverlening.", singleton=True)
DEBT_PARTNER = Partner(
    id="schuldhulp-zwolle",
    role="debt-assistance",
    source="urn:nld:oin:00000001234567890000:systeem:schuldhulp",
)


class DebtStatusChanged(ContractModel):
    """A stand-in model for the new partner's own type."""

    request_id: str
    status: str


STATUS = TypeSpec(
    type="nl.sociaaldomein.debt-assistance.status-changed.v1",
    model=DebtStatusChanged,
    subject_field="request_id",
    sender_role="debt-assistance",
    family="debt-assistance",
    short_name="debt-assistance.status-changed",
)
ROW = {
    "type": "debt-assistance.status-changed",
    "recipient": "swt",
    "fields": ["request_id", "status"],
    "legal_basis": "wgs",
    "processing_activity": "debt-assistance",
}
ROWS: dict[str, Any] = {
    "version": 1,
    "processing_activities": ["debt-assistance"],
    "legal_bases": {"wgs": "Wet gemeentelijke schuldhulpverlening art. 8a"},
    "routes": [ROW],
}


def load_with_connector(
    tmp_path: Path,
    connector: Connector,
    partners: list[Partner],
    rows: dict[str, Any],
    *,
    table: Path | None = None,
) -> PrivacyPolicy:
    """Load the table with one more connector, whose rows file holds ``rows``, and its partners."""
    path = tmp_path / f"{connector.role.name.replace('-', '_')}.yaml"
    path.write_text(yaml.safe_dump(rows), encoding="utf-8")
    connector = dataclasses.replace(connector, rows=path)
    found = Catalogue([*discover(), (f"tests.{connector.role.name}", connector)])
    registry = PartnerRegistry([*load_registry(), *partners], found.roles)
    types = {**TYPES, **{spec.type: spec for _, spec in connector.declared()}}
    return load_policy(
        table or DEFAULT_POLICY_PATH, registry=registry, types=types, connectors=found.connectors
    )


def policy_with(
    tmp_path: Path, rows: dict[str, Any], *, table: Path | None = None
) -> PrivacyPolicy:
    """Load the table with a debt-assistance connector whose rows file holds ``rows``."""
    connector = Connector(role=DEBT, sends=(STATUS,))
    return load_with_connector(tmp_path, connector, [DEBT_PARTNER], rows, table=table)


def refusal(tmp_path: Path, rows: dict[str, Any]) -> ConfigurationError:
    """The refusal of a connector's rows; it names the rows file."""
    with pytest.raises(ConfigurationError) as caught:
        policy_with(tmp_path, rows)
    assert caught.value.source == str(tmp_path / "debt_assistance.yaml")
    return caught.value


def test_a_connectors_rows_follow_the_table(tmp_path: Path) -> None:
    """The connector's row is compiled after the table's, with its own legal basis."""
    policy = policy_with(tmp_path, ROWS)
    default = load_policy(registry=load_registry())
    assert policy.routes[: len(default.routes)] == default.routes
    [route] = policy.routes_for(STATUS.type)
    assert (route.recipient, route.roles, route.row) == ("swt", ("swt",), "routes[0]")
    assert route.legal_basis.for_law(None) == "Wet gemeentelijke schuldhulpverlening art. 8a"
    assert route.projection.paths == ("request_id", "status")


def test_the_table_can_change_a_connectors_legal_basis(tmp_path: Path) -> None:
    """A basis of the same name in the table wins over the connector's: it stays configurable."""
    table = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    table["legal_bases"]["wgs"] = "Wgs art. 8a, as the municipality words it"
    path = tmp_path / "privacy.yaml"
    path.write_text(yaml.safe_dump(table), encoding="utf-8")
    [route] = policy_with(tmp_path, ROWS, table=path).routes_for(STATUS.type)
    assert route.legal_basis.for_law(None) == "Wgs art. 8a, as the municipality words it"


@pytest.mark.parametrize(
    ("row", "path", "message"),
    [
        (
            {**ROW, "type": "safety-reports.submitted", "recipient": "debt-assistance"},
            "routes[0].recipient",
            "a safety-* type may reach only veilig-thuis and swt (privacy.md invariant 2)",
        ),
        (
            {**ROW, "type": "safety-reports.submitted", "recipient": "backoffice"},
            "routes[0].recipient",
            "a safety-* type may reach only veilig-thuis and swt (privacy.md invariant 2)",
        ),
        (
            {**ROW, "type": "cases.closed", "recipient": "backoffice", "fields": "all"},
            "routes[0]",
            "a connector's row must name a type it declares or its role "
            "(debt-assistance) as the recipient",
        ),
        (
            {**ROW, "recipient": "gp-de-linde"},
            "routes[0].recipient",
            "a gp may be reached only as referring-gp with when: consent.status_feedback "
            "(privacy.md invariant 3)",
        ),
        (
            {**ROW, "fields": ["amount_owed"]},
            "routes[0].fields[0]",
            "'amount_owed': the v1 schema has no field 'amount_owed' here",
        ),
        (
            {**ROW, "legal_basis": "consent"},
            "routes[0].legal_basis",
            "not one of the file's legal_bases",
        ),
    ],
)
def test_a_bad_connector_row_refuses_to_start(
    tmp_path: Path, row: dict[str, Any], path: str, message: str
) -> None:
    """A connector's row that the table itself could not hold stops the hub, naming its file."""
    error = refusal(tmp_path, {**ROWS, "routes": [row]})
    assert (error.path, str(error).split(": ", 2)[2]) == (path, message)


def test_a_connector_row_cannot_repeat_a_table_row(tmp_path: Path) -> None:
    """A connector cannot add a second row for a type and recipient the table already has."""
    row = {**ROW, "type": "cases.closed", "recipient": "debt-assistance", "fields": ["case_id"]}
    rows = {**ROWS, "routes": [row, row]}
    error = refusal(tmp_path, rows)
    assert str(error).endswith("routes[1]: repeats the type and recipient of routes[0]")


def test_a_connectors_rows_file_must_be_the_tables_format(tmp_path: Path) -> None:
    """A rows file without a version, or with keys the table does not know, is refused."""
    error = refusal(tmp_path, {"routes": [ROW], "colour": "red"})
    assert (error.path, str(error).split(": ", 2)[2]) == ("version", "Field required")


COACH = RoleSpec(name="coach", description="Budget coaches: several partners of one role.")
COACHES = [
    Partner(id=f"coach-{n}", role="coach", source=f"urn:nld:oin:00000001234567890000:systeem:c{n}")
    for n in ("a", "b")
]


class CoachingRequested(ContractModel):
    """A stand-in model for a type the coaches receive."""

    request_id: str
    note: str


COACHING = TypeSpec(
    type="nl.sociaaldomein.coaching.requested.v1",
    model=CoachingRequested,
    subject_field="request_id",
    sender_role="swt",
    family="coaching",
    short_name="coaching.requested",
)


def coach_policy(tmp_path: Path, recipients: list[str]) -> PrivacyPolicy:
    """The table with a coach connector whose rows send ``coaching.requested`` to each recipient."""
    rows = {
        "version": 1,
        "processing_activities": ["budget-coaching"],
        "legal_bases": {"coaching": "Wet gemeentelijke schuldhulpverlening art. 8a"},
        "routes": [
            {
                "type": "coaching.requested",
                "recipient": recipient,
                "fields": ["request_id", "note"],
                "legal_basis": "coaching",
                "processing_activity": "budget-coaching",
            }
            for recipient in recipients
        ],
    }
    return load_with_connector(tmp_path, Connector(role=COACH, receives=(COACHING,)), COACHES, rows)


def test_rows_of_one_type_to_two_partners_of_one_role_compile(tmp_path: Path) -> None:
    """Two partner ids of a role with several partners are two partners: each row reaches its own."""
    policy = coach_policy(tmp_path, ["coach-a", "coach-b"])
    assert [r.recipient for r in policy.routes_for(COACHING.type)] == ["coach-a", "coach-b"]


def test_rows_of_one_type_to_one_partner_twice_are_refused(tmp_path: Path) -> None:
    """One partner by two names would get the event twice under one delivery id."""
    with pytest.raises(ConfigurationError) as caught:
        coach_policy(tmp_path, ["coach-a", "coach-b", "coach-a"])
    assert "repeats the type and recipient of routes[0]" in str(caught.value)
