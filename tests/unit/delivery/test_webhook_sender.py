"""The webhook sender without Kafka: retry classification, Retry-After, URL policy, and one POST's fate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from hub.delivery.breaker import BreakerState, CircuitBreaker
from hub.delivery.receiver import verify
from hub.delivery.sender import (
    AttemptResult,
    SendOutcome,
    WebhookSender,
    WebhookSettings,
    check_webhook_url,
    is_retryable_status,
    parse_retry_after,
)
from hub.errors import ConfigurationError

KEY = b"sender-test-secret-of-32-bytes!!"
EVENT = {"specversion": "1.0", "id": "evt-1", "subject": "s-1", "data": {"a": 1}}
FAST = WebhookSettings(
    initial_backoff_seconds=0.001,
    max_backoff_seconds=0.005,
    jitter_seconds=0.001,
    max_attempts=4,
    max_elapsed_seconds=10,
    timeout_seconds=1,
    breaker_failure_threshold=100,
    breaker_cooldown_seconds=0.05,
)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(status, True) for status in (500, 502, 503, 599, 429, 408)],
        *[(status, False) for status in (400, 401, 404, 409, 410, 422)],
    ],
)
def test_retry_classification(status: int, retryable: bool) -> None:
    """5xx, 429 and 408 are retried; other 4xx are not."""
    assert is_retryable_status(status) is retryable


def test_retry_after_in_seconds_and_as_http_date() -> None:
    """Retry-After is read as delta-seconds or an HTTP date; a past date is 0; junk is None."""
    now = datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)

    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after(" 0 ", now=now) == 0.0
    assert parse_retry_after("Mon, 03 Mar 2025 09:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 03 Mar 2025 08:59:00 GMT", now=now) == 0.0
    assert parse_retry_after(None, now=now) is None
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("9" * 400, 1e9),  # int() takes it; float() would overflow
        ("9" * 5000, 1e9),  # past the digits int() reads from a string at all
        ("0" * 5000 + "5", 5.0),  # leading zeros are still delta-seconds
        ("99999999999999999999", 1e9),
        ("\u00b2", None),  # str.isdigit() says yes, int() says no
        ("Mon, 01 Jan 99999999999 00:00:00 GMT", None),  # a year past any datetime
    ],
)
def test_a_hostile_retry_after_is_a_number_or_none(value: str, seconds: float | None) -> None:
    """An endpoint's Retry-After never raises: an absurd delay is capped, an unreadable one is None."""
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://partner.example/hooks?token=x", "partner.example"),
        ("http://127.0.0.1:8080/hooks", "127.0.0.1"),
        ("http://127.8.9.10/hooks", "127.8.9.10"),
        ("http://[::1]:8080/hooks", "::1"),
        ("http://LOCALHOST/hooks", "localhost"),
    ],
)
def test_https_anywhere_and_http_only_on_loopback(url: str, host: str) -> None:
    """https is accepted for any host; http only for 127.0.0.0/8, ::1 and localhost."""
    assert check_webhook_url(url, where="partners.p.delivery.url") == host


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example/hooks?token=secret-token",
        "http://10.0.0.1/hooks",
        "http://localhost.example/hooks",
        "ftp://127.0.0.1/hooks",
        "https:///no-host",
        "https://host:notaport/",
    ],
)
def test_other_urls_are_refused_without_quoting_them(url: str) -> None:
    """Plain http elsewhere, other schemes and broken URLs raise ConfigurationError naming the path only."""
    with pytest.raises(ConfigurationError, match=r"partners\.p\.delivery\.url") as raised:
        check_webhook_url(url, where="partners.p.delivery.url")
    assert url not in str(raised.value)
    assert "secret-token" not in str(raised.value)


Responder = Callable[[httpx.Request], httpx.Response]


def _sender(
    responder: Responder,
    settings: WebhookSettings = FAST,
    breaker: CircuitBreaker | None = None,
) -> tuple[WebhookSender, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(responder))
    sender = WebhookSender(
        partner_id="p",
        url="https://partner.example/hooks",
        keys=(KEY,),
        settings=settings,
        client=client,
        breaker=breaker
        or CircuitBreaker(
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_seconds=settings.breaker_cooldown_seconds,
        ),
    )
    return sender, client


def _script(*responses: httpx.Response | Exception) -> tuple[Responder, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue: Iterator[httpx.Response | Exception] = iter(responses)

    def respond(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        item = next(queue)
        if isinstance(item, Exception):
            raise item
        return item

    return respond, seen


async def _send(sender: WebhookSender) -> tuple[SendOutcome, list[AttemptResult]]:
    attempts: list[AttemptResult] = []

    async def record(result: AttemptResult) -> None:
        attempts.append(result)

    return await sender.send(EVENT, record), attempts


def _shape(attempts: list[AttemptResult]) -> list[tuple[int, str, int | None, str | None]]:
    return [(a.attempt, a.result, a.status, a.reason) for a in attempts]


async def test_delivery_is_structured_mode_and_verifiable() -> None:
    """The POST carries the CloudEvent as application/cloudevents+json, signed so verify() accepts it."""
    respond, seen = _script(httpx.Response(204))
    sender, client = _sender(respond)
    async with client:
        outcome, attempts = await _send(sender)

    assert outcome == SendOutcome(True, 1, 204, None)
    assert _shape(attempts) == [(1, "delivered", 204, None)]
    (request,) = seen
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert request.headers["webhook-id"] == "evt-1"
    assert verify(request.headers, request.content, KEY) == EVENT
    assert json.loads(request.content) == EVENT


async def test_5xx_timeouts_and_connection_errors_are_retried_until_2xx() -> None:
    """503, a timeout and a refused connection are each retried; the 2xx that follows delivers."""
    respond, seen = _script(
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(200),
    )
    sender, client = _sender(respond)
    async with client:
        outcome, attempts = await _send(sender)

    assert outcome == SendOutcome(True, 4, 200, None)
    assert _shape(attempts) == [
        (1, "failed", 503, "HTTP_503"),
        (2, "failed", None, "TIMEOUT"),
        (3, "failed", None, "CONNECTION_FAILED"),
        (4, "delivered", 200, None),
    ]
    assert len({r.headers["webhook-id"] for r in seen}) == 1


@pytest.mark.parametrize("status", [400, 404, 410, 301])
async def test_other_4xx_and_redirects_park_at_once(status: int) -> None:
    """A 4xx other than 408/429, or a redirect, is not retried: the outcome is parked with HTTP_<status>."""
    respond, seen = _script(httpx.Response(status, headers={"location": "https://elsewhere/"}))
    sender, client = _sender(respond)
    async with client:
        outcome, attempts = await _send(sender)

    assert outcome == SendOutcome(False, 1, status, f"HTTP_{status}")
    assert _shape(attempts) == [(1, "parked", status, f"HTTP_{status}")]
    assert len(seen) == 1


async def test_retry_budget_exhausted_parks_with_retries_exhausted() -> None:
    """After max_attempts retryable failures the last attempt is reported parked, RETRIES_EXHAUSTED."""
    respond, _ = _script(*[httpx.Response(500)] * 4)
    sender, client = _sender(respond)
    async with client:
        outcome, attempts = await _send(sender)

    assert outcome == SendOutcome(False, 4, 500, "RETRIES_EXHAUSTED")
    assert _shape(attempts) == [
        (1, "failed", 500, "HTTP_500"),
        (2, "failed", 500, "HTTP_500"),
        (3, "failed", 500, "HTTP_500"),
        (4, "parked", 500, "RETRIES_EXHAUSTED"),
    ]


async def test_max_elapsed_stops_retries_before_a_wait_that_would_pass_it() -> None:
    """A Retry-After longer than the remaining time budget ends the retries at once."""
    respond, seen = _script(httpx.Response(429, headers={"retry-after": "30"}))
    settings = FAST.model_copy(update={"max_elapsed_seconds": 5.0, "max_attempts": 10})
    sender, client = _sender(respond, settings)
    async with client:
        outcome, _ = await _send(sender)

    assert outcome == SendOutcome(False, 1, 429, "RETRIES_EXHAUSTED")
    assert len(seen) == 1


async def test_retry_after_is_honoured_on_429_and_503() -> None:
    """The wait after a 429 with Retry-After: 1 is at least one second."""
    respond, seen = _script(httpx.Response(429, headers={"retry-after": "1"}), httpx.Response(200))
    sender, client = _sender(respond)
    async with client:
        started = datetime.now(UTC)
        outcome, _ = await _send(sender)
        waited = (datetime.now(UTC) - started).total_seconds()

    assert outcome.delivered
    assert waited >= 1.0
    assert int(seen[1].headers["webhook-timestamp"]) >= int(seen[0].headers["webhook-timestamp"])


async def test_an_absurd_retry_after_is_waited_for_as_the_cap() -> None:
    """A 503 whose Retry-After overflows a float is retried after the configured cap, not raised."""
    respond, seen = _script(
        httpx.Response(503, headers={"retry-after": "9" * 400}), httpx.Response(200)
    )
    settings = FAST.model_copy(update={"retry_after_max_seconds": 0.0})
    sender, client = _sender(respond, settings)
    async with client:
        outcome, attempts = await _send(sender)

    assert outcome == SendOutcome(True, 2, 200, None)
    assert _shape(attempts) == [(1, "failed", 503, "HTTP_503"), (2, "delivered", 200, None)]
    assert len(seen) == 2


async def test_breaker_opens_after_consecutive_failures_and_closes_on_success() -> None:
    """With threshold 2 the second failure opens the breaker; the probe after the cool-down closes it."""
    settings = FAST.model_copy(update={"breaker_failure_threshold": 2})
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=0.05)
    states: list[BreakerState] = []
    respond, seen = _script(httpx.Response(503), httpx.Response(503), httpx.Response(200))

    def spying(request: httpx.Request) -> httpx.Response:
        states.append(breaker.state)
        return respond(request)

    sender, client = _sender(spying, settings, breaker)
    async with client:
        outcome, _ = await _send(sender)

    assert outcome.delivered
    assert states == [BreakerState.CLOSED, BreakerState.CLOSED, BreakerState.HALF_OPEN]
    assert breaker.state is BreakerState.CLOSED
    assert len(seen) == 3


async def test_an_open_breaker_does_not_hold_a_delivery_past_max_elapsed() -> None:
    """The breaker's cool-down counts toward max_elapsed_seconds: parked at once, not after the cool-down."""
    settings = FAST.model_copy(update={"max_elapsed_seconds": 1.0, "breaker_cooldown_seconds": 600})
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=600)
    breaker.record_failure()  # another delivery of this partner opened it
    respond, seen = _script()
    sender, client = _sender(respond, settings, breaker)
    async with client, asyncio.timeout(5):
        outcome, attempts = await _send(sender)

    assert outcome == SendOutcome(False, 1, None, "RETRIES_EXHAUSTED")
    assert _shape(attempts) == [(1, "parked", None, "RETRIES_EXHAUSTED")]
    assert seen == []
