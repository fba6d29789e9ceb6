"""The inbound HTTP API: partners POST CloudEvents, the gateway puts them on their inbound topic.

::

    app = build_gateway_app(settings.gateway, settings.kafka, registry)   # FastAPI (ASGI)
    await GatewayServer(app, settings.gateway).run(stop)                  # uvicorn, mTLS-aware

docs/http-api.md describes the API for partners and the choices behind it.

Modules here take their logger per call (``get_logger().info(...)``) rather than bind one
at import: a structlog logger bound before ``configure_logging`` keeps structlog's default
processors, and so would skip the redaction processor.
"""

from hub.gateway.app import Service, build_gateway_app, create_app
from hub.gateway.auth import Authenticator, api_key_digest
from hub.gateway.endpoints import EndpointContext, MountedEndpoint, PartnerEndpoint
from hub.gateway.intake import Accepted, EventIntake, Validator, default_validator
from hub.gateway.problems import Problem, ProblemBody, ProblemCode, ProblemError
from hub.gateway.server import GatewayServer
from hub.gateway.sink import EventSink, KafkaEventSink, KafkaRecord
from hub.gateway.status import EventStatus, StatusBook, StatusTail, status_key
from hub.settings import GatewaySettings

__all__ = [
    "Accepted",
    "Authenticator",
    "EndpointContext",
    "EventIntake",
    "EventSink",
    "EventStatus",
    "GatewayServer",
    "GatewaySettings",
    "KafkaEventSink",
    "KafkaRecord",
    "MountedEndpoint",
    "PartnerEndpoint",
    "Problem",
    "ProblemBody",
    "ProblemCode",
    "ProblemError",
    "Service",
    "StatusBook",
    "StatusTail",
    "Validator",
    "api_key_digest",
    "build_gateway_app",
    "create_app",
    "default_validator",
    "status_key",
]
