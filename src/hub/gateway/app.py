"""The partners' HTTP API as an ASGI app: POST /events, GET /events/{id}, GET /deliveries, connectors' endpoints, health, OpenAPI, /docs.

``create_app`` takes its collaborators as values (an EventSink, a StatusBook, a validator),
so tests run it in memory; ``build_gateway_app`` wires the Kafka ones. Both return a
FastAPI app that uvicorn (``hub.gateway.server``) or any ASGI server can run.

A request to POST /events goes: failed authentications of the address (429) ->
authenticate (401) -> the adapter its Content-Type chooses (``hub.inbound``; else 415) ->
rate-limit pre-check (429) -> read the body within size and time (413, 408) -> the
adapter reads it (400 not JSON, 422 not a batch) -> batch length (413) -> rate limit per
event (429) -> per event: contract (403, 422), resend, produce and wait for Kafka (202, 503).

A request to GET /deliveries goes: authenticate (401) -> rate limit (429) -> `after` and
`limit` (400) -> read the partner's own deliveries topic within pull_timeout_seconds
(410 for a cursor past retention, 503 when Kafka cannot serve) -> a CloudEvents batch
with a Link to the next page (200).

A request to a connector's own endpoint (``hub.gateway.endpoints``; the provider's
POST /iwmo/v1/messages) goes: authenticate (401) -> the partner is of the endpoint's role
and asked for its format (403 TYPE_NOT_ALLOWED) -> its media type (415) -> rate limit
(429) -> read the body within the endpoint's ``max_bytes`` (its own 413) -> the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from hub.connectors.protocol import HttpEndpoint
from hub.connectors.registry import Partner, PartnerRegistry
from hub.delivery.pull import (
    CursorExpired,
    CursorInvalid,
    PullDeliveries,
    Stream,
    Taken,
    pull_group,
)
from hub.errors import ErrorCode, ErrorDetail, InvalidEvent
from hub.gateway import metrics
from hub.gateway.auth import Authenticator
from hub.gateway.endpoints import EndpointContext, MountedEndpoint, Service, mount_endpoints
from hub.gateway.intake import Accepted, EventIntake, Validator, default_validator
from hub.gateway.limits import (
    AuthFailureLimiter,
    PartnerLanes,
    PartnerRateLimiter,
    body_too_large,
    event_too_large,
    read_body,
)
from hub.gateway.openapi import (
    AcceptedBody,
    BatchResults,
    HealthBody,
    event_status_body,
    install_openapi,
    problem_responses,
)
from hub.gateway.problems import (
    Problem,
    ProblemCode,
    ProblemError,
    RequestError,
    install_problem_handlers,
    invalid_event,
)
from hub.gateway.sink import EventSink, KafkaEventSink
from hub.gateway.status import StatusBook, StatusTail
from hub.inbound import HTTP_ADAPTERS, HttpAdapter, HttpMessage, Reading, choose_http
from hub.kafka import StreamReader, is_kafka_failure
from hub.kafka.progress import GroupProgress
from hub.observability.logging import get_logger
from hub.observability.loop import LoopWatch
from hub.settings import GatewaySettings, HubSettings, KafkaSettings
from hub.topics import TopicLayout

__all__ = ["Service", "build_gateway_app", "create_app"]


_DOCS_ASSETS: Final = "/docs/assets"
_BATCH_MEDIA_TYPE: Final = "application/cloudevents-batch+json"
_PULL_RETRY_AFTER: Final = "5"
_DESCRIPTION: Final = """\
Partners send CloudEvents (NL GOV profile) to the hub; see docs/http-api.md. POST /events
takes the CloudEvents HTTP binding's three modes: structured, batch and binary (`ce-*`
headers, the event's data as an `application/json` body). Partners may pull their own
deliveries from it (GET /deliveries, docs/deliveries.md).

Authenticate with `Authorization: Bearer <key>`, `X-API-Key: <key>` or a registered
client certificate. Error answers are RFC 9457 problem bodies
(`application/problem+json`) that name paths and codes, never input values.
"""


class _Gateway:
    """What the routes need, held on ``app.state.gateway``."""

    def __init__(
        self,
        settings: GatewaySettings,
        authenticator: Authenticator,
        auth_failures: AuthFailureLimiter,
        limiter: PartnerRateLimiter,
        intake: EventIntake,
        book: StatusBook,
        sink: EventSink,
        adapters: Sequence[HttpAdapter],
        role_adapters: Mapping[str, Sequence[HttpAdapter]],
        pull: PullDeliveries | None,
        lanes: PartnerLanes,
        endpoints: Sequence[MountedEndpoint] = (),
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.auth_failures = auth_failures
        self.limiter = limiter
        self.intake = intake
        self.book = book
        self.sink = sink
        self.adapters = tuple(adapters)
        # A connector's own formats are its role's only, tried before the common ones.
        self.by_role = {role: (*own, *self.adapters) for role, own in role_adapters.items()}
        self.pull = pull
        self.endpoints = tuple(endpoints)
        self.pulls_in_flight: dict[str, int] = {}
        self.lanes = lanes

    def adapters_for(self, partner: Partner) -> tuple[HttpAdapter, ...]:
        """The wire formats this partner may send in."""
        return self.by_role.get(partner.role, self.adapters)


def _gateway(request: Request) -> _Gateway:
    gateway: _Gateway = request.app.state.gateway
    return gateway


async def _authenticate(gateway: _Gateway, request: Request) -> Partner:
    """The calling partner (else 401), unless its address failed too often already (429)."""
    address = request.client.host if request.client is not None else ""
    await gateway.auth_failures.precheck(address)
    try:
        partner = gateway.authenticator.authenticate(request)
    except ProblemError:
        await gateway.auth_failures.failed(address)
        raise
    request.state.partner = partner.id
    return partner


async def post_events(request: Request) -> Response:
    """Take one event (structured or binary mode) or a batch; see docs/http-api.md."""
    gateway = _gateway(request)
    partner = await _authenticate(gateway, request)
    head = HttpMessage(tuple(request.headers.items()))
    try:
        readings, many, size = await _read_events(gateway, request, head, partner)
    except ProblemError:
        # A refused request costs one too (docs/http-api.md, "rate limit"): a partner
        # sending what cannot be read is limited as one sending what can. Its answer stands.
        await gateway.limiter.charge(partner.id)
        raise
    await gateway.limiter.check(partner.id, cost=len(readings))
    if not gateway.sink.connected:
        raise ProblemError(gateway.intake.unavailable())
    checked = await gateway.lanes.run(
        partner.id, size, lambda: gateway.intake.check(partner, readings)
    )
    answers = await gateway.intake.take(partner, checked)
    if not many:
        (answer,) = answers
        if isinstance(answer, Problem):
            return answer.response()
        return JSONResponse(answer.as_dict(), status_code=202)
    return _batch_response(answers)


async def _read_events(
    gateway: _Gateway, request: Request, head: HttpMessage, partner: Partner
) -> tuple[list[Reading], bool, int]:
    """The events of the request as its adapter reads them, whether it is a batch, the body's size; or a 4xx."""
    adapter = choose_http(gateway.adapters_for(partner), head)
    if adapter is None:
        raise ProblemError(Problem(415, ErrorCode.CONTENT_TYPE_UNSUPPORTED.value))
    await gateway.limiter.precheck(partner.id)  # no room: 429 before the body is read
    body = await read_body(
        request,
        max_bytes=gateway.settings.max_body_bytes,
        timeout_seconds=gateway.settings.body_timeout_seconds,
        # One event over the body limit: EVENT_TOO_LARGE, the contract's code on every
        # channel (its error says the event was not read); a batch: BODY_TOO_LARGE.
        too_large=body_too_large if adapter.many else event_too_large,
    )
    try:
        readings = await gateway.lanes.run(
            partner.id, len(body), lambda: list(adapter.read(HttpMessage(head.headers, body)))
        )
    except InvalidEvent as exc:
        raise ProblemError(_unreadable(exc.errors)) from None
    if adapter.many and len(readings) > gateway.settings.max_batch_events:
        raise ProblemError(Problem(413, ProblemCode.BATCH_TOO_LARGE.value))
    return readings, adapter.many, len(body)


def _unreadable(errors: Sequence[ErrorDetail]) -> Problem:
    """The answer to a body the adapter could not read as a whole: 400 when not JSON, else 422."""
    if errors and errors[0].code is ErrorCode.MALFORMED_JSON:
        # Named with its path as every rejection is (messages.md): "" for the body as a
        # whole, "data" in binary mode (the body is the data); the Kafka dead letter says
        # the same.
        return Problem(400, ErrorCode.MALFORMED_JSON.value, errors=list(errors))
    return invalid_event(errors)


def _batch_response(answers: Sequence[Accepted | Problem]) -> Response:
    results: list[dict[str, Any]] = []
    retry_after: list[int] = []
    for index, answer in enumerate(answers):
        if isinstance(answer, Accepted):
            results.append({"index": index, "status": "accepted", "id": answer.id})
        else:
            results.append({"index": index, "status": "rejected", "problem": answer.body()})
            if "Retry-After" in answer.headers:
                retry_after.append(int(answer.headers["Retry-After"]))
    headers = {"Retry-After": str(max(retry_after))} if retry_after else None
    return JSONResponse({"results": results}, status_code=207, headers=headers)


async def get_event_status(request: Request, event_id: str) -> Response:
    """What became of one of the calling partner's events; 404 for anything else."""
    gateway = _gateway(request)
    partner = await _authenticate(gateway, request)
    await gateway.limiter.check(partner.id)
    status = gateway.book.lookup(partner, event_id)
    if status is None:
        raise ProblemError(Problem(404, ProblemCode.NOT_FOUND.value))
    body = status.as_dict(event_id)
    for endpoint in gateway.endpoints:
        # Any partner's: the assignment whose 301s a provider acknowledged is the back office's.
        body.update(endpoint.bound.event_status(partner, event_id))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _endpoint_route(mounted: MountedEndpoint) -> Callable[[Request], Awaitable[Response]]:
    """The route of one connector endpoint: the shared steps, then its own answer."""
    spec, bound = mounted.spec, mounted.bound

    async def read(gateway: _Gateway, request: Request, partner: Partner) -> bytes:
        if not mounted.admits(partner):
            raise ProblemError(Problem(403, ErrorCode.TYPE_NOT_ALLOWED.value))
        # Exactly one Content-Type: of two, which one a proxy on the way read is not known.
        values = request.headers.getlist("content-type")
        media_type = values[0].split(";")[0].strip().lower() if len(values) == 1 else None
        if media_type != spec.media_type:
            raise ProblemError(Problem(415, ErrorCode.CONTENT_TYPE_UNSUPPORTED.value))
        await gateway.limiter.precheck(partner.id)
        try:
            return await read_body(
                request,
                max_bytes=bound.max_bytes,
                timeout_seconds=gateway.settings.body_timeout_seconds,
            )
        except ProblemError as exc:
            if exc.problem.status != 413:
                raise
            refused = bound.too_large()
            # The rest of the body was never read: the connection cannot carry another request.
            refused.headers.setdefault("Connection", "close")
            raise ProblemError(refused) from None

    async def post(request: Request) -> Response:
        gateway = _gateway(request)
        partner = await _authenticate(gateway, request)
        try:
            body = await read(gateway, request, partner)
        except ProblemError:
            await gateway.limiter.charge(partner.id)  # a refused request costs one too
            raise
        await gateway.limiter.check(partner.id)
        return await bound.answer(partner, body)

    return post


async def get_deliveries(request: Request) -> Response:
    """The calling partner's next deliveries after a cursor, as a CloudEvents batch; see docs/deliveries.md."""
    gateway = _gateway(request)
    partner = await _authenticate(gateway, request)
    await gateway.limiter.check(partner.id)
    if gateway.pull is None:
        raise ProblemError(Problem(404, ProblemCode.NOT_FOUND.value))
    settings = gateway.settings
    after, limit = _pull_query(request, settings)
    in_flight = gateway.pulls_in_flight.get(partner.id, 0)
    if in_flight >= settings.pull_max_per_partner:
        # Each read holds one of a few Kafka readers for up to its wait: one partner's
        # parallel long polls must not leave none for the others.
        raise ProblemError(
            Problem(429, ProblemCode.RATE_LIMITED.value, headers={"Retry-After": "1"})
        )
    gateway.pulls_in_flight[partner.id] = in_flight + 1
    try:
        async with asyncio.timeout(settings.pull_timeout_seconds):
            page = await gateway.pull.page(partner, after, limit)
    except CursorInvalid:
        raise ProblemError(_cursor_invalid()) from None
    except CursorExpired as exc:
        # How many partitions were past retention: the log's allow-list has no lists of numbers.
        get_logger().info("pull_cursor_expired", partner=partner.id, count=len(exc.partitions))
        raise ProblemError(Problem(410, ProblemCode.CURSOR_EXPIRED.value)) from None
    except Exception as exc:
        if not (isinstance(exc, TimeoutError) or is_kafka_failure(exc)):
            raise
        get_logger().warning("pull_unavailable", partner=partner.id, exc_type=type(exc).__name__)
        raise ProblemError(
            Problem(
                503,
                ProblemCode.UNAVAILABLE.value,
                headers={"Retry-After": _PULL_RETRY_AFTER},
            )
        ) from None
    finally:
        left = gateway.pulls_in_flight[partner.id] - 1
        if left:
            gateway.pulls_in_flight[partner.id] = left
        else:
            del gateway.pulls_in_flight[partner.id]
    get_logger().info("deliveries_pulled", partner=partner.id, count=page.count)
    metrics.PULLED.labels(partner=partner.id).inc(page.count)
    # The next page's address (RFC 8288): httpx and requests parse it as response.links["next"].
    link = f'</deliveries?after={page.cursor}&limit={limit}>; rel="next"'
    return Response(
        page.body,
        media_type=_BATCH_MEDIA_TYPE,
        headers={"Link": link, "Cache-Control": "no-store"},
    )


def _pull_query(request: Request, settings: GatewaySettings) -> tuple[str | None, int]:
    """`after` and `limit` of GET /deliveries; 400 naming the parameter when either is wrong."""
    query = request.query_params
    afters, limits = query.getlist("after"), query.getlist("limit")
    if len(afters) > 1:
        raise ProblemError(_cursor_invalid())
    if len(limits) > 1 or (
        limits
        and not (
            limits[0].isascii()
            and limits[0].isdigit()
            and len(limits[0]) <= 6
            and 1 <= int(limits[0]) <= settings.pull_max_events
        )
    ):
        raise ProblemError(
            Problem(
                400,
                ProblemCode.LIMIT_INVALID.value,
                errors=[
                    RequestError(
                        "limit",
                        ProblemCode.LIMIT_INVALID,
                        f"A whole number from 1 to {settings.pull_max_events}.",
                    )
                ],
            )
        )
    limit = int(limits[0]) if limits else settings.pull_default_events
    return (afters[0] if afters else None), limit


def _cursor_invalid() -> Problem:
    return Problem(
        400,
        ProblemCode.CURSOR_INVALID.value,
        errors=[
            RequestError(
                "after",
                ProblemCode.CURSOR_INVALID,
                "Not a cursor the hub gave out (once, as it was given).",
            )
        ],
    )


async def healthz() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


async def readyz(request: Request) -> Response:
    """Kafka answers the producer: the gateway can accept events."""
    gateway = _gateway(request)
    if await gateway.sink.probe():
        return JSONResponse({"status": "ready"})
    return gateway.intake.unavailable().response()


async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI from the app's own assets: no CDN, works offline."""
    return get_swagger_ui_html(
        openapi_url=str(request.app.openapi_url),
        title=f"{request.app.title}: API",
        swagger_js_url=f"{_DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{_DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{_DOCS_ASSETS}/favicon-32x32.png",
    )


def create_app(
    *,
    settings: GatewaySettings,
    registry: PartnerRegistry,
    layout: TopicLayout,
    sink: EventSink,
    book: StatusBook,
    validator: Validator | None = None,
    services: Sequence[Service] = (),
    adapters: Sequence[HttpAdapter] = HTTP_ADAPTERS,
    role_adapters: Mapping[str, Sequence[HttpAdapter]] | None = None,
    deliveries: Stream | None = None,
    endpoints: Sequence[MountedEndpoint] = (),
    taken: Taken | None = None,
    lanes: PartnerLanes | None = None,
) -> FastAPI:
    """The gateway app over the given sink and status book; ``services`` run with its lifespan.

    ``adapters`` read the request bodies' wire formats (``hub.inbound``): by default
    CloudEvents structured, batch and binary mode. ``role_adapters`` are a role's own
    formats (its connector's), tried before those for that role's partners only.

    ``deliveries`` is where GET /deliveries reads the partners' streams; without it that
    endpoint answers 404. ``endpoints`` are connectors' own endpoints, bound
    (``hub.gateway.endpoints``): each is a route, its services run with the app's, and
    it may add to GET /events/{id}. ``taken`` is told how far each pull partner has read
    (``hub.delivery.pull.PullDeliveries``). ``lanes`` work on large bodies off the loop
    (shared with the endpoints, which were given them in their ``EndpointContext``).
    """
    layout.check_delivery_topics(registry)  # GET /deliveries reads them for their partner
    lanes = lanes or PartnerLanes()  # closed with the app; a later body makes new threads
    limiter = PartnerRateLimiter(settings.rate_limit)
    auth_failures = AuthFailureLimiter(settings.auth_failure_limit)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started: list[Service] = []
        try:
            for service in (*services, *(s for e in endpoints for s in e.bound.services)):
                await service.start()
                started.append(service)
            get_logger().info("gateway_started", count=len(started))
            yield
        finally:
            for service in reversed(started):
                await service.stop()
            await limiter.close()
            await auth_failures.close()
            lanes.close()

    app = FastAPI(
        title="Sociaal-domein hub",
        version="1",
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # No 307 to the path without its trailing slash: the redirect repeated the request's
        # Host header and query to anyone, before authentication. Such a path is 404.
        redirect_slashes=False,
    )
    app.state.gateway = _Gateway(
        settings=settings,
        authenticator=Authenticator(registry),
        auth_failures=auth_failures,
        limiter=limiter,
        intake=EventIntake(
            layout=layout,
            sink=sink,
            book=book,
            validator=validator or default_validator(),
            retry_after_seconds=settings.retry_after_seconds,
        ),
        book=book,
        sink=sink,
        adapters=adapters,
        role_adapters=role_adapters or {},
        pull=(
            None
            if deliveries is None
            else PullDeliveries(
                deliveries,
                layout,
                wait_seconds=settings.pull_wait_seconds,
                taken=taken,
                anchored=settings.pull_anchored_cursors,
            )
        ),
        lanes=lanes,
        endpoints=endpoints,
    )
    app.add_api_route(
        "/events",
        post_events,
        methods=["POST"],
        status_code=202,
        summary="Send one event or a batch",
        response_model=AcceptedBody,
        responses={
            207: {"model": BatchResults, "description": "Batch mode: one answer per event."},
            **problem_responses(400, 401, 403, 408, 413, 415, 422, 429, 503),
        },
        tags=["events"],
    )
    app.add_api_route(
        "/events/{event_id:path}",
        get_event_status,
        methods=["GET"],
        summary="What became of one of your events",
        response_model=event_status_body(
            e.spec.status_fields for e in endpoints if e.spec.status_fields is not None
        ),
        responses=problem_responses(
            400,
            401,
            404,
            429,
            described={
                400: "A malformed request (BAD_REQUEST).",
                404: "No such event for this partner (NOT_FOUND): another partner's event "
                "answers the same as one never sent.",
            },
        ),
        tags=["events"],
    )
    app.add_api_route(
        "/deliveries",
        get_deliveries,
        methods=["GET"],
        summary="Your next deliveries after a cursor",
        responses={
            200: {
                "description": "The next deliveries (possibly none) as a CloudEvents batch; "
                "the Link header (rel=next) is the address of the page after it.",
                "headers": {
                    "Link": {
                        "description": 'The next page: </deliveries?after=CURSOR&limit=N>; rel="next"',
                        "schema": {"type": "string"},
                    }
                },
            },
            **problem_responses(
                400,
                401,
                404,
                410,
                429,
                503,
                described={
                    400: "A cursor (CURSOR_INVALID) or limit (LIMIT_INVALID) that is not one, "
                    "or a malformed request (BAD_REQUEST).",
                    404: "This gateway serves no deliveries (NOT_FOUND).",
                    410: "The cursor points to deliveries the stream no longer holds (past "
                    "its retention, or the stream was reset), or is another partner's "
                    "(CURSOR_EXPIRED): start again without `after`.",
                    429: "Over the rate limit, or too many of this partner's pulls at once "
                    "(RATE_LIMITED); see Retry-After.",
                    503: "Kafka did not answer in time (UNAVAILABLE); see Retry-After.",
                },
            ),
        },
        tags=["deliveries"],
    )
    app.add_api_route(
        "/healthz", healthz, methods=["GET"], response_model=HealthBody, tags=["operations"]
    )
    app.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        response_model=HealthBody,
        responses=problem_responses(503),
        tags=["operations"],
    )
    for mounted in endpoints:  # an endpoint not mounted is unknown (404), and not in OpenAPI
        spec = mounted.spec
        content = {spec.media_type: {"schema": {"type": "string"}}}
        app.add_api_route(
            spec.path,
            _endpoint_route(mounted),
            methods=["POST"],
            name=spec.name,
            summary=spec.summary,
            responses={
                **{status: dict(response) for status, response in spec.responses.items()},
                **problem_responses(400, 401, 403, 408, 413, 415, 422, 429, 503),
            },
            openapi_extra={"requestBody": {"required": True, "content": content}},
            tags=[spec.format],
        )
    if settings.docs:
        app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
        app.mount(_DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    install_openapi(
        app,
        max_batch=settings.max_batch_events,
        default_limit=settings.pull_default_events,
        max_limit=settings.pull_max_events,
    )
    install_problem_handlers(app)
    app.add_middleware(_OneFraming)
    app.add_middleware(_AccessLog)
    return app


def build_gateway_app(
    settings: GatewaySettings,
    kafka: KafkaSettings,
    registry: PartnerRegistry,
    *,
    result_areas: frozenset[str] | None = None,
    adapters: Sequence[HttpAdapter] = HTTP_ADAPTERS,
    role_adapters: Mapping[str, Sequence[HttpAdapter]] | None = None,
    endpoints: Mapping[str, Sequence[HttpEndpoint]] | None = None,
    deployment: HubSettings | None = None,
) -> FastAPI:
    """The gateway app on Kafka: producer to the inbound topics, tail of the status topic.

    ``adapters`` are the wire formats it reads (``hub.inbound``; default the CloudEvents
    HTTP binding's three modes); ``role_adapters`` a role's own, for its partners only.
    ``endpoints`` are each role's connector endpoints (``hub.app.http_endpoints``), bound
    with ``deployment`` when some partner of the role asked for the endpoint's format.
    """
    layout = TopicLayout(kafka.topic_prefix)
    sink = KafkaEventSink(kafka, timeout_seconds=settings.kafka_timeout_seconds)
    book = StatusBook(max_records=settings.status_max_records, recent_ids=settings.recent_ids)
    tail = StatusTail(kafka, layout.status, book)
    stream = StreamReader(
        kafka, max_readers=settings.pull_max_readers, max_bytes=settings.pull_max_bytes
    )
    validator = default_validator(result_areas)
    # How far each pull partner has read, committed as its group's offsets (the backlog
    # metrics of `hub run` read them; docs/operations.md).
    progress = GroupProgress(kafka)
    lanes = PartnerLanes()
    mounted: list[MountedEndpoint] = []
    if endpoints:
        if deployment is None:
            raise ValueError("connector endpoints are bound with the deployment's settings")
        context = EndpointContext(
            deployment=deployment,
            gateway=settings,
            kafka=kafka,
            registry=registry,
            layout=layout,
            validator=validator,
            status=book,
            lanes=lanes,
        )
        mounted = mount_endpoints(endpoints, context)
    return create_app(
        settings=settings,
        registry=registry,
        layout=layout,
        sink=sink,
        book=book,
        validator=validator,
        services=[sink, tail, stream, progress, LoopWatch()],
        adapters=adapters,
        role_adapters=role_adapters,
        deliveries=stream,
        endpoints=mounted,
        taken=lambda partner, topic, positions: progress.note(
            pull_group(kafka, partner.id), topic, positions
        ),
        lanes=lanes,
    )


class _OneFraming:
    """Refuse a request that frames its body twice (Content-Length and Transfer-Encoding).

    RFC 9112, 6.3: a proxy and the gateway could read different bodies from it (request
    smuggling); the server must close the connection after answering. Before any route
    and before authentication: such a request is answered 400 and closed whatever its path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            names = {name.lower() for name, _ in scope.get("headers", ())}
            if b"content-length" in names and b"transfer-encoding" in names:
                problem = Problem(
                    400, ProblemCode.BAD_REQUEST.value, headers={"Connection": "close"}
                )
                await problem.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _AccessLog:
    """One log line and metric per request, by endpoint name: the raw path may hold an id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route_of(scope)
            partner = scope.get("state", {}).get("partner")
            metrics.REQUESTS.labels(route=route, status=str(status)).inc()
            metrics.REQUEST_SECONDS.labels(route=route).observe(time.monotonic() - started)
            get_logger().info(
                "http_request",
                route=route,
                # The client's own word otherwise: "DALFSEN /events" must not log a name.
                method=method if (method := scope.get("method")) in _METHODS else "other",
                status=status,
                partner=partner,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
            )


_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)


def _route_of(scope: Scope) -> str:
    """The endpoint's name (post_events, get_event_status, ...): one token, never client text."""
    name = getattr(scope.get("route"), "name", None)  # set by FastAPI's own routes
    if isinstance(name, str):
        return name
    path = str(scope.get("path", ""))
    if path == "/openapi.json":
        return "openapi"
    if path.startswith(_DOCS_ASSETS + "/"):
        return "docs_assets"
    return "unmatched"  # never the raw path: it is the client's text
