"""The HTTP adapters: structured mode, batch mode and binary mode (CloudEvents HTTP binding).

The Content-Type chooses, as the binding says: ``application/cloudevents+json`` is one
event in the body (structured), ``application/cloudevents-batch+json`` an array of them
(batch); any other type is binary mode, where the attributes are ``ce-*`` headers and the
body is the event's ``data``. The hub's data is JSON, so binary mode is read for
``application/json`` only, or for ``ce-*`` headers without a Content-Type (the event then
names no ``datacontenttype``: JSON, the contract's default). A request with two Content-Type
headers is read by no adapter (415). ``application/json`` without any ``ce-*`` header is read as
structured mode, as the hub has always documented; a partner's SDK never sends binary
mode without them (``ce-specversion`` is required).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import unquote

from hub.envelope import is_event_id, path_key
from hub.errors import ErrorCode, ErrorDetail, InvalidEvent
from hub.inbound._text import NOT_JSON, media_type, strict_json
from hub.inbound.reading import HttpAdapter, HttpMessage, Reading

__all__ = [
    "BATCH_MEDIA_TYPE",
    "BINARY_MEDIA_TYPE",
    "HTTP_ADAPTERS",
    "STRUCTURED_MEDIA_TYPES",
    "HttpBatch",
    "HttpBinary",
    "HttpStructured",
    "choose_http",
]

STRUCTURED_MEDIA_TYPES: Final = ("application/cloudevents+json", "application/json")
BATCH_MEDIA_TYPE: Final = "application/cloudevents-batch+json"
BINARY_MEDIA_TYPE: Final = "application/json"
_CE_PREFIX: Final = "ce-"
_CONTENT_TYPE: Final = "content-type"


def choose_http(adapters: Sequence[HttpAdapter], message: HttpMessage) -> HttpAdapter | None:
    """The first adapter that reads this request (from its headers), None when none does."""
    return next((adapter for adapter in adapters if adapter.accepts(message)), None)


def _media_type(message: HttpMessage) -> str | None:
    """The request's media type; None without a Content-Type, "" (no adapter's) for several.

    Content-Type is a single-value field: of two, which one a proxy on the way read is
    not known, so neither is taken. A parameter the hub cannot honour is "" too.
    """
    values = [value for name, value in message.headers if name == _CONTENT_TYPE]
    if len(values) > 1:
        return ""
    if not values or not values[0]:
        return None
    return media_type(values[0]) or ""


def _has_ce_headers(message: HttpMessage) -> bool:
    return any(name.startswith(_CE_PREFIX) for name, _ in message.headers)


def _json_body(message: HttpMessage, path: str, sentence: str) -> Any:
    payload = strict_json(message.body)
    if payload is NOT_JSON:
        raise InvalidEvent([ErrorDetail(path, ErrorCode.MALFORMED_JSON, sentence)])
    return payload


def _event(item: object) -> Reading:
    if isinstance(item, dict):
        return Reading(event=item)
    return Reading.unreadable(
        [ErrorDetail("", ErrorCode.ENVELOPE_INVALID, "A CloudEvent must be a JSON object.")]
    )


class HttpStructured:
    """Structured mode: one event, a JSON object, as ``application/cloudevents+json``.

    Also ``application/json`` without ``ce-*`` headers (the hub's documented alternative).
    """

    many = False

    def accepts(self, message: HttpMessage) -> bool:
        """``application/cloudevents+json``, or ``application/json`` without ``ce-*`` headers."""
        media = _media_type(message)
        if media == STRUCTURED_MEDIA_TYPES[0]:
            return True
        return media == BINARY_MEDIA_TYPE and not _has_ce_headers(message)

    def read(self, message: HttpMessage) -> list[Reading]:
        """The body's one event; raises InvalidEvent (MALFORMED_JSON) when it is not strict JSON."""
        return [_event(_json_body(message, "", "The body is not valid UTF-8 JSON."))]


class HttpBatch:
    """Batch mode: a JSON array of at least one event, as ``application/cloudevents-batch+json``."""

    many = True

    def accepts(self, message: HttpMessage) -> bool:
        """``application/cloudevents-batch+json``."""
        return _media_type(message) == BATCH_MEDIA_TYPE

    def read(self, message: HttpMessage) -> list[Reading]:
        """One reading per element; raises InvalidEvent when the body is not a non-empty array."""
        payload = _json_body(message, "", "The body is not valid UTF-8 JSON.")
        if not isinstance(payload, list) or not payload:
            raise InvalidEvent(
                [
                    ErrorDetail(
                        "",
                        ErrorCode.ENVELOPE_INVALID,
                        "A batch is a JSON array of at least one event.",
                    )
                ]
            )
        return [_event(item) for item in payload]


class HttpBinary:
    """Binary mode: attributes in ``ce-*`` headers, ``data`` as the body (``application/json``).

    A header value is percent-decoded as UTF-8 (HTTP binding 3.1.3.2); one that does not
    decode, or a ``ce-*`` header sent twice, is ENVELOPE_INVALID at its attribute. The
    Content-Type is the event's ``datacontenttype``; every other header is transport.
    What the attributes must be is the contract's, as in every mode: an unknown ``ce-*``
    header is an extension the hub does not accept (EXTENSION_NOT_ALLOWED).
    """

    many = False

    def accepts(self, message: HttpMessage) -> bool:
        """``application/json``, or no Content-Type, with at least one ``ce-*`` header.

        Without a Content-Type the data is ``application/json``, the contract's default for
        ``datacontenttype``: a CloudEvents SDK sends no Content-Type for an event that
        names none.
        """
        media = _media_type(message)
        return (media == BINARY_MEDIA_TYPE or media is None) and _has_ce_headers(message)

    def read(self, message: HttpMessage) -> list[Reading]:
        """The event the headers and body make; raises InvalidEvent (MALFORMED_JSON at data) for a body that is not JSON."""
        data = _json_body(
            message,
            "data",
            "The body is the event's data in binary mode; it is not valid UTF-8 JSON.",
        )
        # No Content-Type: the event names no datacontenttype (application/json by default).
        event: dict[str, Any] = (
            {} if _media_type(message) is None else {"datacontenttype": BINARY_MEDIA_TYPE}
        )
        errors: list[ErrorDetail] = []
        for name, raw in message.headers:
            if not name.startswith(_CE_PREFIX):
                continue
            attribute = name[len(_CE_PREFIX) :]
            if attribute in ("data", "data_base64"):
                errors.append(_invalid(attribute, "In binary mode data is the body, not a header."))
            elif attribute == "datacontenttype":
                errors.append(
                    _invalid(attribute, "In binary mode the Content-Type header carries it.")
                )
            elif attribute in event:
                errors.append(_invalid(attribute, "This header appears more than once."))
            else:
                value = _decoded(raw)
                if value is None:
                    errors.append(
                        _invalid(
                            attribute,
                            "A header value is UTF-8 text, percent-encoded where it is not "
                            "printable ASCII.",
                        )
                    )
                event[attribute] = value
        if errors:
            # An id sent twice is not reported: which one counts would be a guess.
            twice = any(error.path == "id" for error in errors)
            return [Reading.unreadable(errors, None if twice else _reportable_id(event))]
        event["data"] = data
        return [Reading(event=event)]


def _decoded(raw: str) -> str | None:
    """A header value percent-decoded as UTF-8; None when it is not UTF-8."""
    try:
        # The server hands header bytes over as Latin-1; raw UTF-8 is accepted as such.
        text = raw.encode("latin-1").decode("utf-8")
        return unquote(text, errors="strict")
    except UnicodeError:
        return None


def _invalid(attribute: str, sentence: str) -> ErrorDetail:
    return ErrorDetail(path_key(attribute), ErrorCode.ENVELOPE_INVALID, sentence)


def _reportable_id(event: dict[str, Any]) -> str | None:
    event_id = event.get("id")
    return event_id if is_event_id(event_id) else None


HTTP_ADAPTERS: Final[tuple[HttpAdapter, ...]] = (HttpStructured(), HttpBatch(), HttpBinary())
"""The adapters the gateway uses by default; the first that accepts a request reads it."""
