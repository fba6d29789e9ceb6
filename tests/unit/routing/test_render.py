"""The partner-format hook: a connector's renderer gets the recipient's view, returns a document."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hub.connectors.discovery import Catalogue, discover
from hub.connectors.protocol import Connector, Rendered, Renderer, RoleSpec, Unrenderable
from hub.connectors.registry import PartnerRegistry
from hub.errors import ConfigurationError
from hub.pipeline import process
from hub.routing import RenderInput
from hub.routing.render import BoundRenderer
from hub.testing import demo_registry, load_example

from .routing_helpers import InMemoryHub, make_context

ISSUED = "assignments.issued/valid/new-outputgericht.json"
ROLE = RoleSpec(name="gadget", description="A test role.", formats=("iwmo",))


def _renderer(**changes: Any) -> Renderer:
    values: dict[str, Any] = {
        "format": "iwmo",
        "types": ("assignments.issued",),
        "bind": lambda settings: lambda request: None,
    }
    values.update(changes)
    return Renderer(**values)


def test_a_connector_renders_only_a_format_of_its_role_and_a_type_it_receives() -> None:
    """A renderer of a format the role does not offer, or of a type it does not receive, is refused."""
    Connector(role=ROLE, receives=("assignments.issued",), renderers=(_renderer(),))
    with pytest.raises(ValueError, match="offers no format xml"):
        Connector(role=ROLE, receives=("assignments.issued",), renderers=(_renderer(format="xml"),))
    # Names of other connectors' types are resolved by the catalogue, which refuses by path.
    stray = Connector(
        role=ROLE,
        receives=("assignments.issued",),
        renderers=(_renderer(types=("cases.closed",)),),
    )
    with pytest.raises(ConfigurationError, match=r"cases\.closed is not a type gadget receives"):
        Catalogue([*discover(), ("tests.gadget", stray)])
    with pytest.raises(ValueError, match=r"two iwmo renderers of assignments\.issued"):
        Connector(role=ROLE, receives=("assignments.issued",), renderers=(_renderer(), _renderer()))


def _hub(render: Any) -> InMemoryHub:
    """The demo hub whose providers ask for the format, with this bound renderer."""
    registry = PartnerRegistry(
        [p.model_copy(update={"iwmo": p.role == "provider"}) for p in demo_registry()]
    )
    bound = BoundRenderer(
        "provider", "iwmo", frozenset({"nl.sociaaldomein.assignments.issued.v1"}), render
    )
    return InMemoryHub(dataclasses.replace(make_context(registry), renderers=(bound,)))


def test_the_renderer_gets_the_view_and_the_state_and_its_changes_are_written() -> None:
    """The view (not what the row withholds), the state with the rule's changes; its changes kept."""
    seen: list[RenderInput] = []

    def render(request: RenderInput) -> Rendered:
        seen.append(request)
        return Rendered(
            data="<doc/>",
            content_type="application/xml",
            fields=("assignment_number",),
            state_changes={"gadget-sent:1": {"received_on": request.received_on}},
        )

    hub = _hub(render)
    outcome = hub.send(load_example(ISSUED))
    assert outcome.decision is not None
    [request] = seen
    assert "case_id" not in request.view
    assert request.view["assignment_number"] == "25000107"
    assert request.recipient.id == "provider-thuiszorg-zwolle"
    assert request.state.get("assignment:25000107") is not None  # the rule's change, applied
    [delivery] = [d for d in outcome.decision.deliveries if d.recipient == request.recipient.id]
    assert delivery.event.data == "<doc/>"
    assert delivery.event.datacontenttype == "application/xml"
    assert request.delivery_id == delivery.event.id
    assert outcome.decision.state_changes["gadget-sent:1"] == {"received_on": "2026-01-05"}
    assert hub.state.get("gadget-sent:1") == {"received_on": "2026-01-05"}
    [record] = [r for r in outcome.decision.disclosures if r.recipient == request.recipient.id]
    assert record.fields_disclosed == ("assignment_number",)
    assert "client.bsn" in record.fields_withheld


def test_an_unrenderable_delivery_is_withheld_with_the_renderers_reason() -> None:
    """Unrenderable: no delivery, the disclosure record withheld with its reason, an alert."""
    hub = _hub(lambda request: Unrenderable("GADGET_BROKEN"))
    outcome = hub.send(load_example(ISSUED))
    assert outcome.decision is not None
    assert [d.recipient for d in outcome.decision.deliveries] == ["swt-zwolle"]
    [record] = [r for r in outcome.decision.disclosures if r.recipient.startswith("provider")]
    assert (record.outcome, record.reason, record.fields_disclosed) == (
        "withheld",
        "GADGET_BROKEN",
        (),
    )
    [alert] = outcome.decision.alerts
    assert (alert.recipient, alert.format, alert.reason) == (
        "provider-thuiszorg-zwolle",
        "iwmo",
        "GADGET_BROKEN",
    )


def test_a_renderer_that_fails_leaves_the_batch_as_it_was() -> None:
    """Nothing of the event is put into the batch before its release succeeded (the pipeline parks it)."""

    def render(request: RenderInput) -> None:
        raise RuntimeError("a bug in a renderer")

    hub = _hub(render)
    batch, held = hub.state.overlay(), hub.held.overlay()
    with pytest.raises(RuntimeError):
        process(load_example(ISSUED), None, batch, hub.ctx, held=held)
    assert batch.pending() == {}
    assert held.pending() == {}
