"""Connectors' own HTTP endpoints: declared as data, mounted by the gateway, which names none.

A toy endpoint (text/plain) for the provider role's format stands in for a connector's: the
gateway must do the shared steps (401, 403, 415, 429, 413) the same for it as for iWmo,
hand it the body of an admitted partner only, run its services and ask it for GET
/events/{id}'s extra fields.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.responses import Response

from hub.connectors.discovery import Catalogue, discover
from hub.connectors.protocol import Connector, HttpEndpoint, RoleSpec
from hub.connectors.registry import Partner, PartnerRegistry
from hub.errors import ConfigurationError
from hub.gateway import (
    EndpointContext,
    GatewaySettings,
    MountedEndpoint,
    Problem,
    StatusBook,
    status_key,
)
from hub.gateway.endpoints import mount_endpoints
from hub.gateway.intake import default_validator
from hub.gateway.limits import PartnerLanes
from hub.settings import HubSettings, KafkaSettings
from hub.topics import TopicLayout

from .gatewaytest import KEYS, AppFactory

PROVIDER = "provider-thuiszorg-zwolle"
OTHER_PROVIDER = "provider-jeugdhulp-ijssel"


def _auth(partner: str, content_type: str = "text/plain") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[partner][0]}", "Content-Type": content_type}


class ToyStatus(BaseModel):
    toy: str | None = None


@dataclass
class Recorder:
    """A service that records that it ran."""

    events: list[str] = field(default_factory=list)

    async def start(self) -> None:
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")


@dataclass
class ToyEndpoint:
    """A bound endpoint answering with the body reversed; it records what it was given."""

    max_bytes: int = 16
    services: Sequence[Recorder] = field(default_factory=lambda: (Recorder(),))
    bodies: list[tuple[str, bytes]] = field(default_factory=list)

    def too_large(self) -> Problem:
        return Problem(413, "TOY_TOO_LARGE")

    async def answer(self, partner: Partner, body: bytes) -> Response:
        self.bodies.append((partner.id, body))
        return Response(body[::-1], media_type="text/plain")

    def event_status(self, partner: Partner, event_id: str) -> Mapping[str, Any]:
        return {"toy": f"seen by {partner.id}"} if event_id == "toy-event" else {}


def _spec(bind: Any = None, **changes: Any) -> HttpEndpoint:
    options: dict[str, Any] = {
        "path": "/toy/v1/messages",
        "name": "post_toy_message",
        "format": "iwmo",
        "media_type": "text/plain",
        "bind": bind or (lambda context: ToyEndpoint()),
        "summary": "Send one toy message",
        "status_fields": ToyStatus,
    }
    options.update(changes)
    return HttpEndpoint(**options)


@pytest.fixture
def toy() -> ToyEndpoint:
    return ToyEndpoint()


@pytest.fixture
async def toy_client(
    make_app: AppFactory, toy: ToyEndpoint
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = make_app(endpoints=[MountedEndpoint(_spec(), "provider", toy)])
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=10
        ) as http,
    ):
        yield http, app
    assert toy.services[0].events == ["start", "stop"]


@pytest.fixture
def registry(registry: PartnerRegistry) -> PartnerRegistry:
    """Only the home-care provider asks for the provider role's format (``iwmo: true``)."""
    return PartnerRegistry([p.model_copy(update={"iwmo": p.id == PROVIDER}) for p in registry])


async def test_an_admitted_partner_gets_the_endpoints_answer(
    toy_client: tuple[httpx.AsyncClient, Any], toy: ToyEndpoint
) -> None:
    """The body reaches the endpoint with the authenticated partner; its answer is the response."""
    http, _ = toy_client
    response = await http.post("/toy/v1/messages", content=b"hello", headers=_auth(PROVIDER))

    assert response.status_code == 200
    assert response.content == b"olleh"
    assert toy.bodies == [(PROVIDER, b"hello")]


@pytest.mark.parametrize(
    ("partner", "content_type", "status", "code"),
    [
        (OTHER_PROVIDER, "text/plain", 403, "TYPE_NOT_ALLOWED"),  # its role, not its format
        ("gp-de-linde", "text/plain", 403, "TYPE_NOT_ALLOWED"),  # another role
        (PROVIDER, "application/json", 415, "CONTENT_TYPE_UNSUPPORTED"),
    ],
)
async def test_the_shared_steps_refuse_before_the_endpoint_sees_anything(
    toy_client: tuple[httpx.AsyncClient, Any],
    toy: ToyEndpoint,
    partner: str,
    content_type: str,
    status: int,
    code: str,
) -> None:
    http, _ = toy_client
    response = await http.post(
        "/toy/v1/messages", content=b"hello", headers=_auth(partner, content_type)
    )

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert toy.bodies == []


async def test_no_credentials_is_401_and_a_body_over_its_limit_is_its_own_413(
    toy_client: tuple[httpx.AsyncClient, Any], toy: ToyEndpoint
) -> None:
    http, _ = toy_client
    anonymous = await http.post(
        "/toy/v1/messages", content=b"hi", headers={"Content-Type": "text/plain"}
    )
    too_large = await http.post("/toy/v1/messages", content=b"x" * 17, headers=_auth(PROVIDER))

    assert anonymous.status_code == 401
    assert (too_large.status_code, too_large.json()["code"]) == (413, "TOY_TOO_LARGE")
    assert toy.bodies == []


async def test_event_status_adds_the_endpoints_fields_and_openapi_describes_them(
    toy_client: tuple[httpx.AsyncClient, Any], book: StatusBook, registry: PartnerRegistry
) -> None:
    """GET /events/{id} asks every mounted endpoint, for any partner's event."""
    http, app = toy_client
    gp = next(p for p in registry if p.id == "gp-de-linde")
    book.mark_accepted(status_key(gp.source, "toy-event"), gp.id)
    response = await http.get("/events/toy-event", headers=_auth("gp-de-linde"))

    assert response.status_code == 200, response.text
    assert response.json()["toy"] == "seen by gp-de-linde"
    document = app.openapi()
    assert "/toy/v1/messages" in document["paths"]
    operation = document["paths"]["/toy/v1/messages"]["post"]
    assert operation["tags"] == ["iwmo"]
    assert "text/plain" in operation["requestBody"]["content"]
    assert "toy" in document["components"]["schemas"]["EventStatusBody"]["properties"]


async def test_without_a_mounted_endpoint_its_path_is_unknown(client: httpx.AsyncClient) -> None:
    response = await client.post("/toy/v1/messages", content=b"hi", headers=_auth(PROVIDER))

    assert response.status_code == 404


def test_an_endpoint_is_bound_only_when_a_partner_of_its_role_asked_for_its_format(
    registry: PartnerRegistry,
) -> None:
    bound: list[EndpointContext] = []

    def bind(context: EndpointContext) -> ToyEndpoint:
        bound.append(context)
        return ToyEndpoint()

    context = EndpointContext(
        deployment=HubSettings(),
        gateway=GatewaySettings(),
        kafka=KafkaSettings(),
        registry=registry,
        layout=TopicLayout("test"),
        validator=default_validator(),
        status=StatusBook(max_records=10, recent_ids=10),
        lanes=PartnerLanes(),
    )
    spec = _spec(bind)

    assert [m.role for m in mount_endpoints({"provider": [spec]}, context)] == ["provider"]
    assert mount_endpoints({"gp": [spec]}, context) == []  # no gp asked for it
    assert len(bound) == 1
    assert bound[0].registry is registry


def test_a_connector_declares_only_endpoints_of_its_roles_formats() -> None:
    role = RoleSpec(name="toy-role", description="A toy.", formats=("toy",))

    Connector(role=role, http_endpoints=(_spec(format="toy"),))
    with pytest.raises(ValueError, match="offers no format other"):
        Connector(role=role, http_endpoints=(_spec(format="other"),))
    with pytest.raises(ValueError, match="starts with /"):
        Connector(role=role, http_endpoints=(_spec(path="toy", format="toy"),))


def test_two_connectors_cannot_declare_one_path() -> None:
    """The provider's own iWmo path, declared again by a new connector, is refused."""
    role = RoleSpec(name="toy-role", description="A toy.", formats=("iwmo",))
    clash = Connector(role=role, http_endpoints=(_spec(path="/iwmo/v1/messages", format="iwmo"),))

    with pytest.raises(ConfigurationError, match="iwmo/v1/messages is an endpoint of"):
        Catalogue([*discover(), ("toy.connector", clash)])


def test_an_endpoint_may_not_shadow_a_route_of_the_gateway(registry: PartnerRegistry) -> None:
    context = EndpointContext(
        deployment=HubSettings(),
        gateway=GatewaySettings(),
        kafka=KafkaSettings(),
        registry=registry,
        layout=TopicLayout("test"),
        validator=default_validator(),
        status=StatusBook(max_records=10, recent_ids=10),
        lanes=PartnerLanes(),
    )
    with pytest.raises(ConfigurationError, match="/events/toy is the gateway's own"):
        mount_endpoints({"provider": [_spec(path="/events/toy")]}, context)
