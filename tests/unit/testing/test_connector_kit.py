"""The contract test kit: it passes the five contract connectors and names what is wrong in others."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.connectors import Connector, RoleSpec, catalogue
from hub.errors import InvalidEvent
from hub.inbound import HttpMessage, Reading
from hub.privacy import DEFAULT_POLICY_PATH
from hub.testing import connector_kit as kit
from hub.testing import load_example

BUILTIN = ("backoffice", "gp", "provider", "swt", "veilig-thuis")


def _connector(role: str) -> Connector:
    return next(c for c in catalogue().connectors if c.role.name == role)


@pytest.mark.parametrize("role", BUILTIN)
def test_each_contract_connector_passes_the_kit(role: str) -> None:
    """The five roles of the contract keep it: examples, views, adapters, delivery, safety."""
    kit.check_connector(_connector(role))


def test_a_connector_the_hub_does_not_find_is_told_where_to_put_it() -> None:
    """A connector that is neither in hub.roles nor an entry point fails with one plain sentence."""
    stray = Connector(role=RoleSpec(name="stray", description="Not discovered."))
    with pytest.raises(kit.ConnectorContractError) as raised:
        kit.check_connector(stray)
    assert raised.value.problems == (
        kit.Problem(
            "discovery",
            "stray",
            "the hub does not find this connector: put its module in src/hub/roles/ (a module "
            "defining CONNECTOR) or declare it as a hub.connectors entry point",
        ),
    )
    assert str(raised.value).startswith("the stray connector breaks the contract (1 problem(s)):")


def test_an_invalid_example_is_reported_with_its_file_path_and_code(tmp_path: Path) -> None:
    """A wrong field in an example names the file, the field's path and the contract code."""
    gp = _connector("gp")
    event = load_example("referrals.submitted/valid/poh-ggz-referral.json")
    event["data"]["request"]["urgency"] = "whenever"
    folder = tmp_path / "referrals.submitted" / "valid"
    folder.mkdir(parents=True)
    (folder / "bad.json").write_text(json.dumps(event), encoding="utf-8")

    problems = kit.example_problems(
        dataclasses.replace(gp, examples=tmp_path), kit.kit_registry(gp)
    )

    assert [(p.check, p.where, p.message.split(":")[0]) for p in problems] == [
        ("examples", f"{folder / 'bad.json'}: data.request.urgency", "VALUE_NOT_ALLOWED")
    ]


def test_a_type_without_an_example_is_reported_with_the_folder_to_put_one(tmp_path: Path) -> None:
    """An empty examples folder: one problem per declared type, naming where the file goes."""
    gp = _connector("gp")
    problems = kit.example_problems(
        dataclasses.replace(gp, examples=tmp_path), kit.kit_registry(gp)
    )
    assert [str(p) for p in problems] == [
        f"[examples] {tmp_path / 'referrals.submitted' / 'valid'}: no valid example of "
        "nl.sociaaldomein.referrals.submitted.v1 (sends[0]); add one structured-mode event "
        "as a .json file here"
    ]


class _Raising:
    """An HTTP adapter with a bug: it raises on a body it cannot parse."""

    many = False

    def accepts(self, message: HttpMessage) -> bool:
        return message.header("content-type") == "application/xml"

    def read(self, message: HttpMessage) -> list[Reading]:
        if not message.body.startswith(b"<"):
            raise ValueError("boom")
        return [Reading.unreadable([])]


def test_an_adapter_that_raises_or_gives_no_errors_is_reported_once_each() -> None:
    """Garbage must come back as contract errors; the kit names the adapter and the failure."""
    connector = Connector(role=RoleSpec(name="x", description="x"), http_adapters=(_Raising(),))
    problems = kit.adapter_problems(connector)
    assert {(p.where.split(" ")[0], p.message) for p in problems} == {
        ("_Raising", "raised ValueError instead of errors"),
        ("_Raising", "an unreadable event came back without errors"),
    }


def test_the_hubs_own_adapters_answer_garbage_with_contract_errors() -> None:
    """The CloudEvents modes every partner may use pass the adapter check."""
    assert kit.adapter_problems(Connector(role=RoleSpec(name="x", description="x"))) == []


def test_a_field_outside_the_published_view_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A view that delivers a field its schema does not allow names the row, the role and the field."""
    real = kit.view_schemas

    def narrower(policy: Any) -> dict[Any, Any]:
        schemas = real(policy)
        for path, schema in schemas.items():
            if str(path) == "v1/views/gp/referrals.status-changed.json":
                schema["properties"].pop("status_on")
                schema["required"].remove("status_on")
        return schemas

    monkeypatch.setattr(kit, "view_schemas", narrower)
    gp = _connector("gp")
    registry = kit.kit_registry(gp)
    policy = kit.load_policy(registry=registry)
    problems = kit.view_problems(gp, registry, policy)

    assert problems
    assert all(
        p.message.endswith("at (data): additionalProperties (a field the recipient may not see)")
        and p.where == "the row referrals.status-changed -> referring-gp (to a gp partner)"
        for p in problems
    )


def test_a_table_that_breaks_a_protection_class_is_reported(tmp_path: Path) -> None:
    """A table sending safety reports to the back office: the safety check quotes the rule."""
    table = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    safety_row = next(r for r in table["routes"] if r["type"] == "safety-reports.submitted")
    table["routes"].append({**safety_row, "recipient": "backoffice"})
    path = tmp_path / "table.yaml"
    path.write_text(yaml.safe_dump(table), encoding="utf-8")
    backoffice = _connector("backoffice")

    problems = kit.safety_problems(backoffice, kit.kit_registry(backoffice), path)

    assert len(problems) == 1
    assert problems[0].check == "safety"
    assert problems[0].where == f"{path}: routes[{len(table['routes']) - 1}].recipient"
    assert "veilig-thuis" in problems[0].message


def test_garbage_that_an_adapter_passes_as_an_event_is_caught_by_validation() -> None:
    """An adapter may hand on what it read; the kit checks the result does not validate."""
    assert kit._reading_problems("adapters", "x", Reading(event={"nonsense": 1})) == []
    with pytest.raises(InvalidEvent):
        kit.validate_event({"nonsense": 1}, sender=None)


async def test_the_kit_runs_inside_an_async_test_too() -> None:
    """Called where an event loop is running, the delivery check uses a loop of its own."""
    kit.check_connector(_connector("gp"))


def test_the_kits_partner_of_a_new_agb_role_has_the_agb_its_examples_carry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new role with AGBs: the kit's partner sends with the AGB of the examples, not one made up."""
    from hub.connectors import Catalogue, TypeSpec, discover
    from hub.schemas import ContractModel

    class CoachReported(ContractModel):
        report_id: str
        coach_agb: str

    role = RoleSpec(name="coach", description="Budgetcoach.", agb=True)
    spec = TypeSpec(
        type="nl.sociaaldomein.coach.reported.v1",
        model=CoachReported,
        subject_field="report_id",
        sender_role="coach",
        family="coach",
        short_name="coach.reported",
        sender_agb_field=("coach_agb",),
    )
    folder = tmp_path / "coach.reported" / "valid"
    folder.mkdir(parents=True)
    event = {
        "source": "urn:nld:kit:coach-zwolle",
        "data": {"report_id": "R1", "coach_agb": "73730099"},
    }
    (folder / "one.json").write_text(json.dumps(event), encoding="utf-8")
    coach = Connector(role=role, sends=(spec,), examples=tmp_path)
    found = Catalogue([*discover(), ("tests.coach", coach)])
    monkeypatch.setattr(kit, "catalogue", lambda: found)
    monkeypatch.setattr("hub.connectors.registry.catalogue", lambda: found)
    partner = kit.kit_registry(coach).only("coach")
    assert (partner.source, partner.agb) == ("urn:nld:kit:coach-zwolle", "73730099")
