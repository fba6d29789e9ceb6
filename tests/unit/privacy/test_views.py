"""The published view schemas describe exactly what each recipient role receives."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from hub.cli.preview import preview_lines
from hub.connectors.registry import load_registry
from hub.privacy.policy import load_policy
from hub.privacy.views import published_files, view_file, view_schemas
from hub.routing import build_context
from hub.schemas.export import SCHEMA_BASE_URL, exported_files, render_schema
from hub.settings import HubSettings, PrivacySettings
from hub.testing import scenario

from ..routing.routing_helpers import InMemoryHub, scenario_files

REGISTRY = load_registry()
VIEWS = view_schemas(load_policy(registry=REGISTRY))


def _deliveries() -> list[tuple[str, str, dict[str, object]]]:
    events = scenario()
    types = {e["id"]: e["type"] for e in events}
    context = build_context(HubSettings(), REGISTRY)
    lines = preview_lines([json.dumps(e).encode() for e in events], context)
    return [
        (line["recipient"], types[line["event"]], line["data"]) for line in lines if "data" in line
    ]


DELIVERIES = _deliveries()


def test_every_role_and_type_the_table_sends_has_a_view() -> None:
    """Each (recipient role, type) the scenario delivers has a published view schema."""
    wanted = {view_file(REGISTRY.get(r).role, t) for r, t, _ in DELIVERIES}  # type: ignore[union-attr]
    assert wanted <= set(VIEWS)
    assert len(DELIVERIES) == 54


@pytest.mark.parametrize(("recipient", "event_type", "data"), DELIVERIES)
def test_every_delivery_of_the_scenario_is_valid_against_its_view(
    recipient: str, event_type: str, data: dict[str, object]
) -> None:
    """What the hub delivers validates against the view schema of its recipient's role."""
    role = REGISTRY.get(recipient).role  # type: ignore[union-attr]
    jsonschema.Draft202012Validator(VIEWS[view_file(role, event_type)]).validate(data)


def test_a_field_outside_the_view_is_refused_by_the_schema() -> None:
    """A view is closed: the GP's view refuses case_id, which the table never sends to a GP."""
    gp_view = VIEWS[Path("v1/views/gp/referrals.status-changed.json")]  # type: ignore[index]
    assert "case_id" not in gp_view["properties"]
    assert gp_view["additionalProperties"] is False
    assert gp_view["required"] == ["referral_id", "status", "status_on", "team"]
    assert "note" in gp_view["properties"]  # only with content consent: optional


def test_no_view_lets_a_safety_type_reach_another_role() -> None:
    """Safety types have views only for veilig-thuis and swt (privacy.md invariant 2)."""
    roles = {path.parts[2] for path in VIEWS if ".safety-" in f".{path.name}"}
    assert roles == {"veilig-thuis", "swt"}


def test_the_published_contract_is_the_type_schemas_plus_the_views() -> None:
    """published_files() holds every type and envelope schema as exported, and each view once."""
    files = published_files()
    schemas = exported_files()
    assert {path: files[path] for path in schemas} == schemas
    assert {path: files[path] for path in set(files) - set(schemas)} == {
        path: render_schema(view) for path, view in VIEWS.items()
    }


def test_every_delivery_names_the_published_view_of_its_recipient_role() -> None:
    """A delivery's dataschema is the $id of its recipient role's published view of its type."""
    context = build_context(HubSettings(), REGISTRY)
    hub = InMemoryHub(context)
    hub.send_examples(scenario_files())
    deliveries = [d for o in hub.outcomes if o.decision for d in o.decision.deliveries]
    assert len(deliveries) == 54
    for delivery in deliveries:
        role = REGISTRY.get(delivery.recipient).role  # type: ignore[union-attr]
        view = VIEWS[view_file(role, delivery.event.type)]
        assert delivery.event.dataschema == view["$id"]


def test_the_view_schema_base_url_is_a_setting() -> None:
    """HUB_PRIVACY__VIEW_SCHEMA_BASE_URL moves every dataschema to where the deployment serves them."""
    settings = HubSettings(privacy={"view_schema_base_url": "https://hub.zwolle.example/schemas/"})
    context = build_context(settings, REGISTRY)
    hub = InMemoryHub(context)
    outcome = hub.send_examples(scenario_files()[:1])[0]
    (delivery,) = outcome.decision.deliveries  # type: ignore[union-attr]
    assert delivery.event.dataschema == (
        "https://hub.zwolle.example/schemas/v1/views/swt/referrals.submitted.json"
    )


def test_the_default_base_url_is_the_published_schemas_base() -> None:
    """The setting's default equals the base of every published $id."""
    assert PrivacySettings().view_schema_base_url == SCHEMA_BASE_URL
