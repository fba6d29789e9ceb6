"""RFC 9457 problem bodies: every error the gateway answers, and the handlers that produce them.

A problem body holds a fixed sentence per code and, for an invalid event, the contract's
error details (path, code, sentence). It never holds a value from the request (privacy.md,
invariant 5): not the event id, not a header, not a field.

No request ends in a bare 500: ``CatchAllMiddleware`` turns any exception the gateway did
not mean to raise into a 503 problem with code PROCESSING_FAILED (the hub did not take the
event; the partner keeps it and retries) and logs the exception's type and frames only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import ErrorCode, ErrorDetail
from hub.observability.logging import get_logger

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "CatchAllMiddleware",
    "Problem",
    "ProblemBody",
    "ProblemCode",
    "ProblemError",
    "RequestError",
    "install_problem_handlers",
    "invalid_event",
]

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
_TYPE_PREFIX: Final = "urn:sociaaldomein:hub:problem:"
_CATCH_ALL_RETRY_AFTER: Final = "30"


class ProblemCode(StrEnum):
    """Codes for what went wrong with a request rather than with an event's content.

    Codes about the event itself are ``hub.errors.ErrorCode`` values; these complete them
    for the HTTP edge and are as stable.
    """

    UNAUTHENTICATED = "UNAUTHENTICATED"
    RATE_LIMITED = "RATE_LIMITED"
    AUTHENTICATION_THROTTLED = "AUTHENTICATION_THROTTLED"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    UNAVAILABLE = "UNAVAILABLE"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    BAD_REQUEST = "BAD_REQUEST"
    CURSOR_INVALID = "CURSOR_INVALID"
    CURSOR_EXPIRED = "CURSOR_EXPIRED"
    LIMIT_INVALID = "LIMIT_INVALID"
    CONTENT_ENCODING_UNSUPPORTED = "CONTENT_ENCODING_UNSUPPORTED"


# One fixed sentence per code: the detail never depends on the request.
_DETAILS: Final[Mapping[str, str]] = {
    ProblemCode.UNAUTHENTICATED: "Authenticate with a registered API key (Authorization: Bearer "
    "or X-API-Key) or a registered client certificate.",
    ProblemCode.RATE_LIMITED: "Too many requests or events from this partner, or too many of "
    "its pulls at once; retry after the time given in Retry-After.",
    ProblemCode.AUTHENTICATION_THROTTLED: "Too many failed authentications from this address; "
    "retry after the time given in Retry-After.",
    ProblemCode.BODY_TOO_LARGE: "The request body exceeds the gateway's size limit.",
    ProblemCode.BATCH_TOO_LARGE: "The batch holds more events than the gateway accepts at once.",
    ProblemCode.REQUEST_TIMEOUT: "The request body did not arrive in time.",
    ProblemCode.UNAVAILABLE: "The hub cannot take events right now; nothing was stored. Retry "
    "after the time given in Retry-After.",
    ProblemCode.NOT_FOUND: "No such resource.",
    ProblemCode.METHOD_NOT_ALLOWED: "This method is not allowed on this resource.",
    ProblemCode.BAD_REQUEST: "The request does not match the API description.",
    ProblemCode.CURSOR_INVALID: "The cursor is not one the hub gave out; send the `after` "
    "value from the last answer's Link header as it is, or leave it out to start at the oldest "
    "retained delivery.",
    ProblemCode.CURSOR_EXPIRED: "The cursor points to deliveries this stream no longer holds "
    "(past its retention, or the stream was reset), or was not given to this partner; start "
    "again without `after` and skip the ids you already have.",
    ProblemCode.LIMIT_INVALID: "The limit must be a whole number from 1 to the gateway's "
    "maximum page size.",
    ProblemCode.CONTENT_ENCODING_UNSUPPORTED: "Send the body without a content coding "
    "(no Content-Encoding, or identity).",
    ErrorCode.CONTENT_TYPE_UNSUPPORTED: "Send one event as application/cloudevents+json "
    "(structured mode) or its data as application/json with ce-* headers (binary mode), a "
    "batch as application/cloudevents-batch+json; in UTF-8.",
    ErrorCode.MALFORMED_JSON: "The body is not valid UTF-8 JSON (no NaN, no duplicate keys).",
    ErrorCode.TYPE_NOT_ALLOWED: "This partner's role does not send this event type.",
    ErrorCode.SOURCE_MISMATCH: "The source is not the URN registered for this partner.",
    ErrorCode.EVENT_TOO_LARGE: "The event is too large: at most 256 KiB (its compact JSON); split "
    "the information over several events (lists without a stated limit hold at most 100 entries).",
    ErrorCode.PROCESSING_FAILED: "The hub could not process this request; nothing was stored. "
    "Operators have been alerted; retry later.",
}
_INVALID_EVENT_DETAIL: Final = "The event breaks the message contract; see errors."

_SLUGS: Final[Mapping[int, str]] = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    408: "request-timeout",
    410: "gone",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "invalid-event",
    429: "rate-limited",
    503: "unavailable",
}


@dataclass(frozen=True, slots=True)
class RequestError:
    """One thing wrong with a request rather than an event: a query parameter, with a code."""

    path: str
    code: ProblemCode
    message: str

    def as_dict(self) -> dict[str, str]:
        """The wire form of ``errors[]`` items, as ``ErrorDetail.as_dict``."""
        return {"path": self.path, "code": self.code.value, "message": self.message}


class ErrorItem(BaseModel):
    """One thing wrong with an event (the contract's path, code and sentence)."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="Where: a path into the CloudEvent, e.g. data.client.bsn.")
    code: str = Field(description="What: a stable code (docs/errors.md).")
    message: str = Field(description="Why, in one sentence; never quotes the input.")


class ProblemBody(BaseModel):
    """An RFC 9457 problem body as the gateway sends it (application/problem+json)."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(description="A URN naming the kind of problem.")
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="One sentence on what to do; never quotes the input.")
    code: str = Field(description="The main code: the first error's, or the request's.")
    errors: list[ErrorItem] = Field(default_factory=list, description="Every error found.")


class Problem:
    """An error answer: status, code and the event's errors; renders the body and headers."""

    __slots__ = ("code", "errors", "headers", "status")

    def __init__(
        self,
        status: int,
        code: str,
        *,
        errors: Iterable[ErrorDetail | RequestError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.errors = tuple(errors)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The problem body as a JSON-ready dict."""
        phrase = HTTPStatus(self.status).phrase
        slug = _SLUGS.get(self.status, "error")
        detail = _INVALID_EVENT_DETAIL if self.status == 422 else _DETAILS.get(self.code, phrase)
        return {
            "type": _TYPE_PREFIX + slug,
            "title": phrase,
            "status": self.status,
            "detail": detail,
            "code": self.code,
            "errors": [error.as_dict() for error in self.errors],
        }

    def response(self) -> Response:
        """The problem as an HTTP response (application/problem+json)."""
        return JSONResponse(
            self.body(),
            status_code=self.status,
            headers=self.headers,
            media_type=PROBLEM_MEDIA_TYPE,
        )


class ProblemError(Exception):
    """Raised anywhere in a request to answer with this problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(f"HTTP {problem.status} {problem.code}")


def invalid_event(errors: Iterable[ErrorDetail]) -> Problem:
    """The answer to an event that breaks the contract: 403 for who may send it, 413 too large, else 422.

    Sending a type the partner's role does not send, or as another partner's source, is a
    matter of permission (403), answered without the content checks; an event over 256 KiB
    is 413 EVENT_TOO_LARGE (its content is not checked); anything else the contract decides
    alone is 422 with every error found.
    """
    errors = tuple(errors)
    too_large = tuple(e for e in errors if e.code is ErrorCode.EVENT_TOO_LARGE)
    if too_large:
        return Problem(413, ErrorCode.EVENT_TOO_LARGE.value, errors=too_large)
    forbidden = tuple(
        e for e in errors if e.code in (ErrorCode.SOURCE_MISMATCH, ErrorCode.TYPE_NOT_ALLOWED)
    )
    if forbidden:
        return Problem(403, forbidden[0].code.value, errors=forbidden)
    code = errors[0].code.value if errors else ErrorCode.ENVELOPE_INVALID.value
    return Problem(422, code, errors=errors)


async def _problem_handler(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return exc.problem.response()


async def _http_exception_handler(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: ProblemCode.NOT_FOUND, 405: ProblemCode.METHOD_NOT_ALLOWED}
    status = exc.status_code if exc.status_code in _SLUGS else 400
    code = codes.get(status, ProblemCode.BAD_REQUEST)
    # Keep protocol headers such as Allow (405); Starlette puts no input into them.
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return Problem(status, code.value, headers=headers).response()


async def _validation_handler(_: Request, __: Exception) -> Response:
    # FastAPI's default body quotes the offending input; this one does not.
    return Problem(400, ProblemCode.BAD_REQUEST.value).response()


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error the app raises on purpose, and Starlette's own, as problem bodies."""
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_middleware(CatchAllMiddleware)


class CatchAllMiddleware:
    """ASGI middleware: an unexpected exception becomes a 503 problem (PROCESSING_FAILED).

    Starlette's own error middleware would answer 500 and re-raise, so the server logs the
    exception's message, which may quote input. This one logs type and frames only and
    swallows the exception.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            get_logger().error("request_failed", exc_info=exc)
            if started:
                return  # too late for a problem body; the server closes the connection
            problem = Problem(
                503,
                ErrorCode.PROCESSING_FAILED.value,
                headers={"Retry-After": _CATCH_ALL_RETRY_AFTER},
            )
            await problem.response()(scope, receive, send)
