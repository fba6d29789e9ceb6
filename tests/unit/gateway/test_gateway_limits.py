"""Limits: body size while streaming, body read time, events per partner in a moving window."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from hub.connectors.registry import Partner
from hub.gateway import GatewaySettings
from hub.gateway.intake import default_validator
from hub.gateway.limits import ON_LOOP_BYTES, PartnerRateLimiter
from hub.gateway.testing import RecordingSink
from hub.schemas import ValidEvent
from hub.testing import make_event

from .gatewaytest import BATCH, LIMIT, AppFactory, auth, referral


@asynccontextmanager
async def _client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=10
        ) as client,
    ):
        yield client


class _Counting:
    """A request body streamed in chunks, counting how many the server pulled."""

    def __init__(self, chunk: bytes, chunks: int, *, delay: float = 0.0) -> None:
        self.chunk = chunk
        self.chunks = chunks
        self.delay = delay
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            if self.delay:
                await asyncio.sleep(self.delay)
            self.pulled += 1
            yield self.chunk


async def test_declared_oversized_body_is_refused_before_reading(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """A Content-Length over the limit answers 413 without reading the body: one event is EVENT_TOO_LARGE."""
    body = b" " * (LIMIT + 1)
    response = await client.post("/events", content=body, headers=auth())
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.json()["code"] == "EVENT_TOO_LARGE"
    [error] = response.json()["errors"]
    assert error["code"] == "EVENT_TOO_LARGE"
    assert "not read" in error["message"]  # its size is unknown: the body was over the limit
    assert sink.records == []


def test_the_body_limit_is_at_least_the_contracts_event_limit() -> None:
    """Below 256 KiB the gateway would refuse a compactly written event the contract accepts."""
    assert GatewaySettings(max_body_bytes=LIMIT).max_body_bytes == LIMIT
    with pytest.raises(ValidationError):
        GatewaySettings(max_body_bytes=LIMIT - 1)


async def test_a_batch_over_the_body_limit_is_body_too_large(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """A batch's events are measured one by one; the body as a whole is over the gateway's limit."""
    body = b" " * (LIMIT + 1)
    response = await client.post("/events", content=body, headers=auth(content_type=BATCH))
    assert response.status_code == 413
    assert response.json()["code"] == "BODY_TOO_LARGE"
    assert sink.records == []


async def test_streamed_oversized_body_is_refused_while_reading(
    client: httpx.AsyncClient,
) -> None:
    """A chunked body is refused as soon as it passes the limit, not after it was read whole."""
    body = _Counting(b" " * 16 * 1024, chunks=100)
    response = await client.post("/events", content=body, headers=auth())
    assert response.status_code == 413
    assert body.pulled == LIMIT // (16 * 1024) + 1  # the chunk after the limit's is refused


async def test_body_exactly_at_the_limit_is_read(client: httpx.AsyncClient) -> None:
    """The limit is inclusive: a body of exactly max_body_bytes is parsed (here: as bad JSON)."""
    response = await client.post("/events", content=b"{" * LIMIT, headers=auth())
    assert response.status_code == 400


async def test_slow_body_gets_408(make_app: AppFactory, settings: GatewaySettings) -> None:
    """A body that does not arrive within body_timeout_seconds answers 408 REQUEST_TIMEOUT."""
    app = make_app(settings=settings.model_copy(update={"body_timeout_seconds": 0.2}))
    body = _Counting(b" ", chunks=20, delay=0.05)
    async with _client(app) as client:
        response = await client.post("/events", content=body, headers=auth())
    assert response.status_code == 408
    assert response.json()["code"] == "REQUEST_TIMEOUT"


async def test_refused_requests_count_against_the_rate_limit(
    make_app: AppFactory, settings: GatewaySettings
) -> None:
    """Bodies that cannot be read cost one each, as any request does: past the limit, 429."""
    app = make_app(settings=settings.model_copy(update={"rate_limit": "3/minute"}))
    async with _client(app) as client:
        statuses = [
            (await client.post("/events", content=b"{", headers=auth())).status_code
            for _ in range(4)
        ]
        valid = await client.post("/events", content=json.dumps(referral()), headers=auth())
    assert statuses == [400, 400, 400, 429]
    assert valid.status_code == 429


async def test_rate_limit_answers_429_with_retry_after(
    make_app: AppFactory, settings: GatewaySettings
) -> None:
    """Past the partner's events per window the answer is 429 RATE_LIMITED with Retry-After."""
    limited = settings.model_copy(update={"rate_limit": "3/minute", "max_batch_events": 3})
    app = make_app(settings=limited)
    async with _client(app) as client:
        statuses = []
        for _ in range(4):
            response = await client.post("/events", content=json.dumps(referral()), headers=auth())
            statuses.append(response.status_code)
        other = await client.post(
            "/events", content=json.dumps(referral()), headers=auth("gp-het-anker")
        )
    assert statuses == [202, 202, 202, 429]
    assert response.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert other.status_code == 403  # another partner has its own window (and not this source)


async def test_a_batch_costs_one_per_event(make_app: AppFactory, settings: GatewaySettings) -> None:
    """A batch of three uses three of the window; the next single event is refused."""
    limited = settings.model_copy(update={"rate_limit": "3/minute", "max_batch_events": 3})
    app = make_app(settings=limited)
    async with _client(app) as client:
        batch = await client.post(
            "/events",
            content=json.dumps([referral()] * 3),
            headers=auth(content_type=BATCH),
        )
        single = await client.post("/events", content=json.dumps(referral()), headers=auth())
    assert batch.status_code == 207
    assert single.status_code == 429


async def test_rate_limit_window_moves() -> None:
    """Once the oldest events leave the window, the partner may send again."""
    limiter = PartnerRateLimiter("2/second")
    try:
        await limiter.check("p", cost=2)
        with pytest.raises(Exception, match="429"):
            await limiter.check("p")
        await asyncio.sleep(1.1)
        await limiter.check("p")
    finally:
        await limiter.close()


def test_settings_refuse_a_window_smaller_than_a_batch() -> None:
    """A rate limit that could never admit a full batch is a configuration error."""
    with pytest.raises(ValueError, match="max_batch_events"):
        GatewaySettings(rate_limit="10/minute", max_batch_events=100)


def test_settings_refuse_an_unreadable_rate_limit() -> None:
    """The rate limit must be in the limits library's syntax."""
    with pytest.raises(ValueError, match="rate limit"):
        GatewaySettings(rate_limit="lots")


async def test_a_large_body_is_checked_off_the_loop_one_at_a_time_per_partner(
    make_app: AppFactory, sink: RecordingSink
) -> None:
    """While one partner's large bodies are being checked, another partner is answered; the first's bodies go one at a time."""
    release, entered = threading.Event(), threading.Event()
    lock = threading.Lock()
    busy = {"now": 0, "most": 0}
    check = default_validator()

    def slow_for_de_linde(raw: Any, sender: Partner) -> ValidEvent:
        if sender.id == "gp-de-linde":
            with lock:
                busy["now"] += 1
                busy["most"] = max(busy["most"], busy["now"])
            entered.set()
            release.wait(10)  # on the loop, this would hold every request below
            with lock:
                busy["now"] -= 1
        return check(raw, sender)

    padded = [json.dumps(referral()).encode() + b" " * ON_LOOP_BYTES for _ in range(3)]
    async with _client(make_app(validator=slow_for_de_linde)) as client:
        large = [
            asyncio.create_task(client.post("/events", content=body, headers=auth()))
            for body in padded
        ]
        assert await asyncio.to_thread(entered.wait, 10)
        other = await client.post(
            "/events", json=make_event("cases.opened"), headers=auth("swt-zwolle")
        )
        held = not release.is_set()
        release.set()
        answers = await asyncio.gather(*large)
    assert other.status_code == 202, other.json()
    assert held
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert busy["most"] == 1


async def test_a_body_with_a_content_coding_is_415(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """Content-Encoding other than identity: 415 CONTENT_ENCODING_UNSUPPORTED, closed, nothing produced."""
    body = json.dumps(referral()).encode()
    for coding in ("gzip", "br", "identity, gzip"):
        headers = {**auth(), "Content-Encoding": coding}
        response = await client.post("/events", content=body, headers=headers)
        assert response.status_code == 415
        assert response.json()["code"] == "CONTENT_ENCODING_UNSUPPORTED"
        assert response.headers["connection"] == "close"
        assert response.headers["accept-encoding"] == "identity"
    assert sink.records == []
    response = await client.post(
        "/events", content=body, headers={**auth(), "Content-Encoding": "identity"}
    )
    assert response.status_code == 202


async def test_a_path_with_a_trailing_slash_is_404_never_a_redirect(
    client: httpx.AsyncClient,
) -> None:
    """No redirect repeats the request's Host and query: /deliveries/ and /healthz/ are 404 problems."""
    for path in ("/deliveries/?name=x", "/healthz/", "/readyz/", "/docs/"):
        response = await client.get(path, headers={"Host": "attacker.example"})
        assert response.status_code == 404, path
        assert "location" not in response.headers
        assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/healthz", {}),
        ("POST", "/events", {}),  # unauthenticated: still 400, not 401
        ("POST", "/events", auth()),
        ("POST", "/iwmo/v1/messages", auth("provider-thuiszorg-zwolle")),
    ],
)
async def test_a_request_framed_twice_is_400_and_closes_on_every_route(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    """Content-Length and Transfer-Encoding together (RFC 9112, 6.3): 400 BAD_REQUEST and Connection: close, before any route."""
    framing = {"Content-Length": "2", "Transfer-Encoding": "chunked"}
    response = await client.request(method, path, content=b"{}", headers={**headers, **framing})
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert response.headers["connection"] == "close"


async def test_the_lanes_serve_again_after_the_app_was_stopped_and_started(
    make_app: AppFactory,
) -> None:
    """The app's lifespan closes its lanes' threads; the next large body makes new ones."""
    app = make_app()
    body = json.dumps(referral()).encode() + b" " * ON_LOOP_BYTES
    for _ in range(2):
        async with _client(app) as client:
            response = await client.post("/events", content=body, headers=auth())
            assert response.status_code == 202
        body = json.dumps(referral()).encode() + b" " * ON_LOOP_BYTES
