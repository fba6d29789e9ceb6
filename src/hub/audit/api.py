"""The audit API for privacy officers: the Logboek read extension, ``POST /processing-activities``.

Served by ``hub audit serve`` on its own port (``audit.api_host``/``api_port``, loopback
by default), never by the partners' gateway: partners have no access to the disclosure
log. Only the privacy officers configured in ``audit.officers`` may query it, each with
an API key (``Authorization: Bearer KEY`` or ``X-API-Key``) of which the settings hold the
SHA-256.

A query names at least one of ``trace_id``, ``processing_activity_id`` or a data subject
(``data_subject_id``: the pseudonym as the records hold it; or ``bsn``, which the hub
pseudonymises and never echoes), else 400; ``start_time``/``end_time`` narrow it to a
window (start inclusive, end exclusive). The answer is the matching Logboek records
(``hub.audit.logboek``), oldest first. Every query is logged with the officer's id, the
names of the filters used and the number of records: never a filter's value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from starlette.responses import JSONResponse, Response

from hub.audit.logboek import logboek_records
from hub.audit.store import DisclosureStore
from hub.envelope import path_key
from hub.errors import AuditStoreError
from hub.observability.logging import get_logger
from hub.settings import AuditSettings, OfficerCredential

__all__ = ["ActivityQuery", "create_audit_app"]

_PROBLEM: Final = "application/problem+json"
MAX_RECORDS: Final = 10_000
MAX_QUERY_BYTES: Final = 16 * 1024


class ActivityQuery(BaseModel):
    """The body of POST /processing-activities."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trace_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = None
    processing_activity_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None
    ) = None
    data_subject_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    bsn: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        default=None, repr=False
    )
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    limit: int = Field(default=1000, ge=1, le=MAX_RECORDS)

    def filters(self) -> list[str]:
        """The names of the filters used (for the log; never their values)."""
        names = ("trace_id", "processing_activity_id", "data_subject_id", "bsn")
        return [name for name in names if getattr(self, name) is not None]


def _problem(status: int, code: str, detail: str, path: str | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "status": status, "code": code, "detail": detail}
    if path is not None:
        body["errors"] = [{"path": path, "code": code}]
    return JSONResponse(body, status_code=status, media_type=_PROBLEM)


def _officer(request: Request, officers: Sequence[OfficerCredential]) -> OfficerCredential | None:
    header = request.headers.get("authorization", "")
    key = (
        header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key")
    )
    if not key:
        return None
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    found = None
    for officer in officers:  # every one compared, in constant time each
        if hmac.compare_digest(digest, officer.api_key_sha256):
            found = officer
    return found


def create_audit_app(
    settings: AuditSettings,
    open_store: Callable[[], DisclosureStore],
    pseudonyms_of: Callable[[str], tuple[str, ...]],
    is_bsn: Callable[[str], bool],
) -> FastAPI:
    """The audit API over a store opened per query (read only) by ``open_store``.

    ``pseudonyms_of`` turns a BSN into the pseudonyms to look for; ``is_bsn`` checks one.
    """
    app = FastAPI(
        title="Sociaal-domein hub: disclosure log (Logboek Dataverwerkingen)",
        version="1",
        docs_url=None,
        redoc_url=None,
    )

    @app.middleware("http")
    async def officers_only(request: Request, call_next: Any) -> Response:
        # Before the body is read or validated: who is not an officer learns nothing of
        # the query's shape, and cannot make the API parse large bodies.
        officer = _officer(request, settings.officers)
        if officer is None:
            return _problem(401, "UNAUTHENTICATED", "A privacy officer's API key is required.")
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return _problem(411, "LENGTH_REQUIRED", "Send the query with a Content-Length.")
        if int(length) > MAX_QUERY_BYTES:
            return _problem(413, "QUERY_TOO_LARGE", "The query is larger than 16 KiB.")
        request.state.officer = officer
        response: Response = await call_next(request)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        # The path and a code, never the input (a BSN may be in it).
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",)}
        # An unknown key is the officer's input too (a BSN sent as a key): shown only
        # when shaped like a field name, as the gateway does (``path_key``).
        path = (
            "/".join(
                str(part) if isinstance(part, int) else path_key(part)
                for part in first.get("loc", ())[1:]
            )
            or "/"
        )
        return _problem(422, "QUERY_INVALID", "The query is not valid at this path.", path)

    @app.post("/processing-activities", tags=["logboek"])
    async def processing_activities(request: Request, query: ActivityQuery) -> Response:
        """The Logboek records matching a trace id, a processing activity or a data subject."""
        officer: OfficerCredential = request.state.officer
        if not query.filters():
            return _problem(
                400,
                "QUERY_UNBOUNDED",
                "Name a trace_id, a processing_activity_id or a data subject.",
            )
        if query.bsn is not None and query.data_subject_id is not None:
            # Every other pair of filters narrows; these two would widen (either person's
            # records), so one person per query.
            return _problem(
                422,
                "QUERY_INVALID",
                "Name a bsn or a data_subject_id, not both.",
                "data_subject_id",
            )
        pseudonyms: tuple[str, ...] = ()
        if query.bsn is not None:
            if not is_bsn(query.bsn):
                return _problem(422, "BSN_INVALID", "bsn is not a valid BSN.", "bsn")
            pseudonyms += pseudonyms_of(query.bsn)
        if query.data_subject_id is not None:
            pseudonyms += (query.data_subject_id,)
        activity = query.processing_activity_id
        if activity is not None and activity.startswith(settings.register_base_uri):
            activity = unquote(activity.removeprefix(settings.register_base_uri))
        try:
            with open_store() as store:
                records = store.search(
                    trace_id=query.trace_id,
                    processing_activity=activity,
                    pseudonyms=pseudonyms,
                    since=query.start_time,
                    until=query.end_time,
                    limit=query.limit + 1,  # each record gives one Logboek record or more
                )
        except AuditStoreError:
            get_logger().error("audit_query_failed", officer=officer.id)
            return _problem(503, "UNAVAILABLE", "The disclosure store cannot be read now.")
        wanted = set(pseudonyms)
        found = [
            each.as_dict()
            for record in records
            for each in logboek_records(record, settings.register_base_uri)
            # A subject filter answers that subject's records, not the co-subjects'.
            if not wanted or each.attributes.get("dpl.core.data_subject_id") in wanted
        ]
        get_logger().info(
            "audit_query",
            officer=officer.id,
            filters=query.filters(),
            windowed=query.start_time is not None or query.end_time is not None,
            count=min(len(found), query.limit),
        )
        return JSONResponse(
            {"records": found[: query.limit], "truncated": len(found) > query.limit},
            headers={"Cache-Control": "no-store"},
        )

    return app
