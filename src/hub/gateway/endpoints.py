"""Connectors' own HTTP endpoints (``Connector.http_endpoints``), mounted by the gateway as data.

A connector whose partners send a format of their own (the provider's iWmo XML) declares
an ``HttpEndpoint``; the gateway binds it once at start-up with an ``EndpointContext``
and gets a ``PartnerEndpoint`` back. The gateway answers what every endpoint shares
(authentication, role and format, media type, rate limit, body size) and hands the body
to ``PartnerEndpoint.answer``; it names no connector, no format and no path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.responses import Response

from hub.connectors.protocol import HttpEndpoint
from hub.connectors.registry import Partner, PartnerRegistry
from hub.errors import ConfigurationError
from hub.gateway.intake import Validator
from hub.gateway.limits import PartnerLanes
from hub.gateway.problems import Problem
from hub.gateway.status import StatusBook
from hub.settings import GatewaySettings, HubSettings, KafkaSettings
from hub.topics import TopicLayout

__all__ = ["EndpointContext", "MountedEndpoint", "PartnerEndpoint", "Service", "mount_endpoints"]

# The first path segments of the gateway's own routes: a connector's endpoint may not shadow one.
_CORE_ROUTES = frozenset({"events", "deliveries", "healthz", "readyz", "docs", "openapi.json"})


class Service(Protocol):
    """A background part of the gateway started and stopped with the app (producer, tail)."""

    async def start(self) -> None:
        """Begin; must return promptly (connect in the background)."""
        ...

    async def stop(self) -> None:
        """End and release every resource."""
        ...


class PartnerEndpoint(Protocol):
    """What a bound ``HttpEndpoint`` gives the gateway."""

    @property
    def max_bytes(self) -> int:
        """The largest body it reads; a larger one is answered ``too_large()``."""
        ...

    @property
    def services(self) -> Sequence[Service]:
        """Its background parts (state tails, producers), run with the gateway's lifespan."""
        ...

    def too_large(self) -> Problem:
        """The answer to a body over ``max_bytes`` (413 in the format's own words)."""
        ...

    async def answer(self, partner: Partner, body: bytes) -> Response:
        """The answer to one body from an authenticated partner that asked for the format."""
        ...

    def event_status(self, partner: Partner, event_id: str) -> Mapping[str, Any]:
        """What it adds to GET /events/{id} for one of any partner's events (often nothing).

        Asked for every partner's events, not only its own role's: what a provider answers
        in its format may belong to the status of an event another partner sent.
        """
        ...


@dataclass(frozen=True, slots=True)
class EndpointContext:
    """What ``HttpEndpoint.bind`` is given: the deployment and the gateway's shared parts.

    ``deployment`` is the whole ``HubSettings``, so an endpoint reads its own section (the
    core names none); ``gateway`` the gateway's settings as it runs (command-line
    overrides applied). ``status`` is the book GET /events/{id} answers from, and
    ``validator`` checks events exactly as POST /events does. ``lanes`` run the work on a
    large body off the event loop, one thread at a time per partner, in the threads POST
    /events uses (``hub.gateway.limits.PartnerLanes``).
    """

    deployment: HubSettings
    gateway: GatewaySettings
    kafka: KafkaSettings
    registry: PartnerRegistry
    layout: TopicLayout
    validator: Validator
    status: StatusBook = field(repr=False)
    lanes: PartnerLanes = field(repr=False)


@dataclass(frozen=True, slots=True)
class MountedEndpoint:
    """A connector's endpoint as the gateway serves it: its declaration, role and bound answer."""

    spec: HttpEndpoint
    role: str
    bound: PartnerEndpoint

    def admits(self, partner: Partner) -> bool:
        """True for a partner of the endpoint's role that asked for its format."""
        return partner.role == self.role and self.spec.format in partner.formats


def mount_endpoints(
    declared: Mapping[str, Iterable[HttpEndpoint]], context: EndpointContext
) -> list[MountedEndpoint]:
    """Bind the endpoints some partner of their role can use; the others are not served (404).

    ``declared`` maps a role to its connector's endpoints (``hub.app.http_endpoints``).
    An endpoint no partner of its role asked the format of is not bound: it would start
    background parts (a transactional producer, state tails) nobody could use.
    """
    mounted: list[MountedEndpoint] = []
    for role, endpoints in declared.items():
        for spec in endpoints:
            if spec.path.rstrip("/").split("/")[1] in _CORE_ROUTES:
                raise ConfigurationError(
                    f"connector of role {role}",
                    "http_endpoints.path",
                    f"{spec.path} is the gateway's own",
                )
            if any(p.role == role and spec.format in p.formats for p in context.registry):
                mounted.append(MountedEndpoint(spec, role, spec.bind(context)))
    return mounted
