"""The gateway's OpenAPI description: request bodies per event type, answers, problem bodies.

FastAPI describes the routes; this module adds what it cannot infer, because the events
endpoint reads its body as a stream (to enforce the size limit while reading): the request
body in its three media types, one CloudEvent schema per v1 type (data from the contract's
pydantic models, so the description cannot drift from validation), and
``application/problem+json`` for every error answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import models_json_schema

from hub.delivery.pull import CURSOR_MAX_CHARS
from hub.gateway.problems import PROBLEM_MEDIA_TYPE, ErrorItem, ProblemBody
from hub.inbound import BATCH_MEDIA_TYPE, STRUCTURED_MEDIA_TYPES
from hub.schemas import TYPES

__all__ = [
    "AcceptedBody",
    "BatchItem",
    "BatchResults",
    "EventStatusBody",
    "HealthBody",
    "event_status_body",
    "install_openapi",
    "problem_responses",
]

_REF: Final = "#/components/schemas/{model}"
_ENVELOPE: Final[dict[str, Any]] = {
    "specversion": {"type": "string", "enum": ["1.0"]},
    "id": {
        "type": "string",
        "minLength": 1,
        "maxLength": 128,
        "pattern": "^[A-Za-z0-9._:-]+$",
        "description": "A-Z a-z 0-9 . _ : - (a UUID is recommended); no part a BSN.",
    },
    "source": {"type": "string", "minLength": 1, "description": "The partner's registered URN."},
    "time": {"type": "string", "format": "date-time"},
    "subject": {
        "type": "string",
        "minLength": 1,
        "description": "Equals the data field the type names as subject; never a BSN.",
    },
    "datacontenttype": {"type": "string", "enum": ["application/json"]},
    "dataschema": {"type": "string", "format": "uri"},
    "traceparent": {"type": "string", "description": "W3C trace context."},
    "tracestate": {
        "type": "string",
        "description": "W3C trace context; checked, then dropped (never stored or forwarded).",
    },
    "partitionkey": {
        "type": "string",
        "minLength": 1,
        "description": "CloudEvents partitioning extension; equals subject; not forwarded.",
    },
}
_SECURITY_SCHEMES: Final[dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "The partner's API key."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "mutualTLS": {
        "type": "mutualTLS",
        "description": "A client certificate whose subject is registered for the partner.",
    },
}
_REQUIRED: Final = ["specversion", "id", "source", "type", "time", "subject", "data"]


class AcceptedBody(BaseModel):
    """202: Kafka has the event (or had it already: a resend is answered the same)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The event's id, as sent.")
    status: Literal["accepted"]


class BatchItem(BaseModel):
    """The answer for one event of a batch, by its position in the request."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position of the event in the request array, from 0.")
    status: Literal["accepted", "rejected"]
    id: str | None = Field(default=None, description="The event's id; only when accepted.")
    problem: ProblemBody | None = Field(
        default=None, description="Why it was not accepted; only when rejected."
    )


class BatchResults(BaseModel):
    """207: one answer per event of the batch, in request order."""

    model_config = ConfigDict(frozen=True)

    results: list[BatchItem]


class EventStatusBody(BaseModel):
    """What became of one of the partner's events."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: Literal["accepted", "delivered", "dead-lettered"] = Field(
        description="accepted: on the inbound topic, not yet processed; delivered: routed "
        "(to zero or more recipients); dead-lettered: rejected by a rule, see codes."
    )
    codes: list[str] = Field(description="Error codes when dead-lettered.")
    recipients: list[str] = Field(description="Partner ids the event was delivered to.")
    withheld: list[str] = Field(description="Partner ids whose delivery was withheld.")
    at: str | None = Field(description="When the router decided (RFC 3339); null if accepted.")
    errors: list[ErrorItem] = Field(
        description="When dead-lettered: each error's path, code and a sentence, never a value "
        "(as a 422 lists them); empty otherwise."
    )


def event_status_body(extras: Iterable[type[BaseModel]]) -> type[BaseModel]:
    """EventStatusBody with the fields connectors' endpoints add (``HttpEndpoint.status_fields``)."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for extra in extras
        for name, info in extra.model_fields.items()
    }
    if not fields:
        return EventStatusBody
    return create_model("EventStatusBody", __base__=EventStatusBody, **fields)


class HealthBody(BaseModel):
    """Liveness or readiness."""

    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "ready"]


_PROBLEM_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Malformed JSON (MALFORMED_JSON) or a malformed request (BAD_REQUEST); errors names "
    "where.",
    401: "No valid credentials (UNAUTHENTICATED); no hint which part was wrong.",
    403: "The partner may not send this type (TYPE_NOT_ALLOWED) or as this source "
    "(SOURCE_MISMATCH).",
    404: "No such event for this partner (NOT_FOUND).",
    410: "The cursor points to deliveries past the stream's retention (CURSOR_EXPIRED): start "
    "again without `after`.",
    405: "Method not allowed.",
    408: "The body did not arrive in time (REQUEST_TIMEOUT).",
    413: "A batch's body is too large (BODY_TOO_LARGE), the batch too long (BATCH_TOO_LARGE), "
    "or the event over 256 KiB (EVENT_TOO_LARGE), also one whose body is over the limit.",
    415: "Unsupported Content-Type, or two of them (CONTENT_TYPE_UNSUPPORTED); a body with a "
    "content coding (CONTENT_ENCODING_UNSUPPORTED).",
    422: "The event breaks the contract; errors lists every path and code.",
    429: "Rate limit reached (RATE_LIMITED); see Retry-After.",
    503: "Kafka cannot take events (UNAVAILABLE) or the hub failed (PROCESSING_FAILED); nothing "
    "was stored; see Retry-After.",
}


_RETRY_AFTER: Final[dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def problem_responses(
    *statuses: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these problem statuses (``described``: this route's own words)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": (described or {}).get(status, _PROBLEM_DESCRIPTIONS[status]),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF.format(model="ProblemBody")}}},
        }
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        responses[status] = response
    return responses


def _event_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(one CloudEvent schema per type as oneOf, component schemas they refer to)."""
    specs = sorted(TYPES.values(), key=lambda spec: spec.type)
    keys, defs = models_json_schema(
        [(spec.model, "validation") for spec in specs], ref_template=_REF
    )
    components: dict[str, Any] = dict(defs.get("$defs", {}))
    variants: list[dict[str, Any]] = []
    for spec in specs:
        name = "Event_" + spec.short_name.replace(".", "_").replace("-", "_")
        components[name] = {
            "type": "object",
            "title": spec.type,
            "description": f"A {spec.short_name} event, sent by a {spec.sender_role} "
            f"partner; subject = data.{spec.subject_field}.",
            "properties": {
                **_ENVELOPE,
                "type": {"type": "string", "enum": [spec.type]},
                "data": keys[(spec.model, "validation")],
            },
            "required": _REQUIRED,
            "additionalProperties": False,
        }
        variants.append({"$ref": _REF.format(model=name)})
    return {"oneOf": variants}, components


_BINARY_MODE: Final = """\
One CloudEvent (structured mode, `application/cloudevents+json`) or a batch of them
(`application/cloudevents-batch+json`).

**Binary mode** (CloudEvents HTTP binding) is accepted too: send the attributes as `ce-*`
headers (`ce-specversion`, `ce-id`, `ce-source`, `ce-type`, `ce-time`, `ce-subject`, and
optionally `ce-dataschema`, `ce-traceparent`, `ce-tracestate`, `ce-partitionkey`),
percent-encoded where not printable ASCII, with `Content-Type: application/json` and the
event's `data` object as the body. `application/json` without any `ce-*` header is read as
structured mode. Errors name the attribute (`id`, `time`, ...) whichever mode was used.
"""


def _request_body(max_batch: int) -> dict[str, Any]:
    event = {"$ref": _REF.format(model="CloudEvent")}
    content: dict[str, Any] = {media: {"schema": event} for media in STRUCTURED_MEDIA_TYPES}
    content[BATCH_MEDIA_TYPE] = {
        "schema": {"type": "array", "items": event, "minItems": 1, "maxItems": max_batch}
    }
    return {
        "required": True,
        "description": _BINARY_MODE,
        "content": content,
    }


_DELIVERED_EVENT: Final[dict[str, Any]] = {
    "type": "object",
    "title": "A delivery",
    "description": "A CloudEvent as the hub delivers it (structured mode): `data` is the view "
    "its recipient role may see, described by the JSON Schema `dataschema` names. A partner "
    "whose registry entry asks for a format of its own (`formats`, e.g. `iwmo`) gets the "
    "events that format renders as a document instead: `datacontenttype` its media type "
    "(iWmo: `application/xml`), `data` the document as a string, no `dataschema`.",
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string", "description": "Derived from the event and recipient: a "
               "redelivery (by webhook or pull) has the same id."},
        "source": {"type": "string", "description": "The sender's registered URN."},
        "type": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string"},
        "datacontenttype": {"type": "string", "description": "`application/json`, or a "
                            "rendered format's media type (`application/xml` for iWmo)."},
        "dataschema": {"type": "string", "format": "uri", "description": "The published view "
                       "schema of the recipient's role for this type (JSON deliveries)."},
        "traceparent": {"type": "string"},
        "sequence": {
            "type": "string",
            "pattern": "^[0-9]{5}-[0-9]{19}$",
            "description": "CloudEvents sequence extension: partition and offset in your "
            "stream. Compare only within one subject: a later delivery of a subject has a "
            "greater sequence (string order).",
        },
        "data": {
            "oneOf": [{"type": "object"}, {"type": "string"}],
            "description": "The recipient's view (an object), or a rendered document (a string).",
        },
    },
    "required": ["specversion", "id", "source", "type", "time", "subject", "sequence", "data"],
}  # fmt: skip


def _describe_pull(
    operation: dict[str, Any], schemas: dict[str, Any], *, default_limit: int, max_limit: int
) -> None:
    """The query parameters and the batch answer of GET /deliveries (read by hand, not by FastAPI)."""
    schemas["Delivery"] = _DELIVERED_EVENT
    operation["parameters"] = [
        {
            "name": "after",
            "in": "query",
            "required": False,
            "description": "The cursor from the last answer's Link header; leave out to start "
            "at the oldest delivery still retained.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": CURSOR_MAX_CHARS},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "Most deliveries in the answer.",
            "schema": {"type": "integer", "minimum": 1, "maximum": max_limit,
                       "default": default_limit},
        },
    ]  # fmt: skip
    answer = operation["responses"]["200"]
    answer["content"] = {
        "application/cloudevents-batch+json": {
            "schema": {"type": "array", "items": {"$ref": _REF.format(model="Delivery")}}
        }
    }


def install_openapi(
    app: FastAPI, *, max_batch: int, default_limit: int = 100, max_limit: int = 500
) -> None:
    """Replace the app's OpenAPI generator with one that adds the request bodies and events."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        event, components = _event_schemas()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(components)
        schemas["CloudEvent"] = event
        schemas["ProblemBody"] = ProblemBody.model_json_schema(ref_template=_REF)
        for name, sub in schemas["ProblemBody"].pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schema["components"]["securitySchemes"] = _SECURITY_SCHEMES
        post = schema["paths"]["/events"]["post"]
        post["requestBody"] = _request_body(max_batch)
        pull = schema["paths"]["/deliveries"]["get"]
        _describe_pull(pull, schemas, default_limit=default_limit, max_limit=max_limit)
        for operation in (post, schema["paths"]["/events/{event_id}"]["get"], pull):
            operation["security"] = [{name: []} for name in _SECURITY_SCHEMES]
        for path in schema["paths"].values():
            for operation in path.values():
                # FastAPI adds a 422 for parameter validation; the gateway answers that with 400.
                fastapi_422 = operation.get("responses", {}).get("422", {})
                if "HTTPValidationError" in str(fastapi_422.get("content")):
                    operation["responses"].pop("422")
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
