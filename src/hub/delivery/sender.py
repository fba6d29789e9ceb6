"""POSTs one CloudEvent to one partner's webhook: signed, retried with backoff, behind a breaker.

What is retried: 5xx, 429, 408, timeouts, connection and TLS errors (RetryableDeliveryError),
with exponential backoff and jitter, never sooner than a ``Retry-After`` on 429 or 503
says. Anything else that is not 2xx, including redirects (they are not followed: the
signed body must not go elsewhere), is permanent (PermanentDeliveryError): the caller
parks the delivery at once. When the attempts or the time of the retry budget run out
the result is ``RETRIES_EXHAUSTED``, and the caller parks it too.

Each attempt is bounded as a whole by ``attempt_timeout_seconds``: httpx's timeouts are
per read and write, so a receiver that drips its answer a byte at a time would
otherwise hold an attempt (and its partition) for as long as it likes.

Every attempt is signed anew (a fresh ``webhook-timestamp``), so a retry an hour later
still passes a receiver's five-minute tolerance; ``webhook-id`` stays the CloudEvent id.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from prometheus_client import Histogram
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from hub.delivery.breaker import CircuitBreaker
from hub.delivery.signing import signature_headers
from hub.errors import (
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from hub.observability.logging import get_logger
from hub.settings import WebhookSettings

__all__ = [
    "ATTEMPT_SECONDS",
    "CLOUDEVENTS_JSON",
    "AttemptResult",
    "SendOutcome",
    "WebhookSender",
    "WebhookSettings",
    "check_webhook_url",
    "is_retryable_status",
    "parse_retry_after",
]

CLOUDEVENTS_JSON = "application/cloudevents+json; charset=utf-8"
_USER_AGENT = "sociaal-hub-webhook/1"

_log = get_logger()

Result = Literal["delivered", "failed", "parked"]

ATTEMPT_SECONDS = Histogram(
    "hub_webhook_attempt_seconds",
    "Time from sending a webhook attempt to the partner's HTTP answer, by partner.",
    ["partner"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def check_webhook_url(url: str, *, where: str) -> str:
    """Return the URL's host after checking it is https (http only on loopback).

    Raises ConfigurationError naming ``where`` (never the URL: it may hold a token).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise ConfigurationError("partner registry", where, "not a valid URL") from None
    if not host:
        raise ConfigurationError("partner registry", where, "the URL has no host")
    if parts.scheme == "https":
        return host
    if parts.scheme == "http" and _is_loopback(host):
        return host
    raise ConfigurationError(
        "partner registry",
        where,
        "webhooks must use https; http is allowed only for loopback hosts",
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_retryable_status(status: int) -> bool:
    """Tell whether an HTTP status is worth retrying: 5xx, 429 Too Many Requests, 408 Request Timeout."""
    return status >= 500 or status in (408, 429)


_LONGEST_RETRY_AFTER = 10**9  # seconds, about 31 years


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or bad.

    A date in the past gives 0.0.
    """
    if value is None:
        return None
    text = value.strip()
    # ASCII digits only: str.isdigit also takes "²", which int() refuses. Whatever a
    # partner's endpoint answers must come back as a number or None: an exception here
    # would restart this partner's delivery on every answer that carries it.
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) > len(str(_LONGEST_RETRY_AFTER)):
            # Past any cap the hub honours: not given to int(), which refuses more than
            # 4,300 digits, nor to float(), which overflows.
            return float(_LONGEST_RETRY_AFTER)
        return float(min(int(digits), _LONGEST_RETRY_AFTER))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may parse as naive
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """One transmission attempt as the disclosure log records it (no payload, no URL)."""

    attempt: int
    at: datetime
    result: Result
    status: int | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What became of one delivery: delivered, or the code it is parked with."""

    delivered: bool
    attempts: int
    status: int | None
    reason: str | None


AttemptSink = Callable[[AttemptResult], Awaitable[None]]


class _TransportFailure(RetryableDeliveryError):
    """No HTTP answer: code TIMEOUT, TLS_FAILED (handshake or certificate) or CONNECTION_FAILED."""

    def __init__(self, recipient: str, code: str) -> None:
        self.code = code
        super().__init__(recipient, code)


class _OutOfTime(DeliveryError):
    """An open breaker would hold the delivery past ``max_elapsed_seconds``: parked now.

    Not retryable: waiting is what it cannot do. Parked as RETRIES_EXHAUSTED, as when the
    next retry's wait would pass the same budget.
    """

    def __init__(self, recipient: str) -> None:
        super().__init__(recipient, "the breaker stays open past max_elapsed_seconds")


def _is_tls_failure(error: BaseException) -> bool:
    """Tell whether an httpx transport error was caused by TLS (handshake, certificate, hostname)."""
    # httpx raises its own ConnectError "from" httpcore's, which is raised "from" the
    # ssl module's error: the cause chain is the only place the distinction survives.
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _code(error: DeliveryError) -> str:
    if isinstance(error, _TransportFailure):
        return error.code
    return f"HTTP_{error.status}" if error.status is not None else "DELIVERY_FAILED"


class WebhookSender:
    """Delivers CloudEvents to one partner's endpoint, one call of ``send`` per event.

    Several ``send`` calls may run at once (one per Kafka partition); they share the
    HTTP connection pool and the partner's circuit breaker.
    """

    def __init__(
        self,
        *,
        partner_id: str,
        url: str,
        keys: tuple[bytes, ...],
        settings: WebhookSettings,
        client: httpx.AsyncClient,
        breaker: CircuitBreaker,
        on_breaker_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._partner = partner_id
        self._url = url
        self._keys = keys
        self._settings = settings
        self._client = client
        self._breaker = breaker
        self._on_breaker_change = on_breaker_change
        self._backoff = wait_exponential_jitter(
            multiplier=settings.initial_backoff_seconds,
            max=settings.max_backoff_seconds,
            jitter=settings.jitter_seconds,
        )
        self._log = _log.bind(partner=partner_id, url_host=urlsplit(url).hostname)
        self._seconds = ATTEMPT_SECONDS.labels(partner_id)

    @property
    def breaker(self) -> CircuitBreaker:
        """This partner's circuit breaker."""
        return self._breaker

    async def send(
        self, event: Mapping[str, Any], on_attempt: AttemptSink, **log_context: Any
    ) -> SendOutcome:
        """POST the event until it is delivered or must be parked; report every attempt.

        ``on_attempt`` is awaited after each attempt, before any wait; the last attempt of
        a parked delivery is reported with result ``parked``. Raises nothing for HTTP
        trouble: the outcome says what happened.
        """
        webhook_id = str(event["id"])
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        log = self._log.bind(**log_context)
        started_at = [datetime.now(UTC)]
        # The time budget covers waits on an open breaker too (docs/webhooks.md): those
        # happen inside an attempt, where tenacity's stop does not look.
        deadline = time.monotonic() + self._settings.max_elapsed_seconds

        async def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            assert isinstance(error, RetryableDeliveryError)
            code = _code(error)
            await on_attempt(
                AttemptResult(state.attempt_number, started_at[0], "failed", error.status, code)
            )
            log.warning(
                "webhook_retry",
                attempt=state.attempt_number,
                status=error.status,
                code=code,
                delay_seconds=round(state.upcoming_sleep, 3),
            )

        retrying = AsyncRetrying(
            stop=(
                stop_after_attempt(self._settings.max_attempts)
                | stop_before_delay(self._settings.max_elapsed_seconds)
            ),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableDeliveryError),
            before_sleep=before_sleep,
            reraise=True,
        )
        attempt_number = 0
        # Under way until it is delivered or parked, the retries' waits included: what the
        # breaker's gauge counts (``CircuitBreaker.holds_back``).
        self._breaker.delivery_started()
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_number = attempt.retry_state.attempt_number
                    started_at[0] = datetime.now(UTC)
                    status, duration = await self._post(webhook_id, body, deadline)
        except DeliveryError as error:
            reason = (
                "RETRIES_EXHAUSTED"
                if isinstance(error, RetryableDeliveryError | _OutOfTime)
                else _code(error)
            )
            await on_attempt(
                AttemptResult(attempt_number, started_at[0], "parked", error.status, reason)
            )
            return SendOutcome(False, attempt_number, error.status, reason)
        finally:
            self._breaker.delivery_ended()
        await on_attempt(AttemptResult(attempt_number, started_at[0], "delivered", status, None))
        log.info(
            "webhook_delivered",
            attempt=attempt_number,
            status=status,
            duration_ms=round(duration * 1000, 1),
        )
        return SendOutcome(True, attempt_number, status, None)

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableDeliveryError) and error.retry_after is not None:
            # Honour Retry-After as "not before"; our own backoff may ask for longer.
            return max(backoff, min(error.retry_after, self._settings.retry_after_max_seconds))
        return backoff

    async def _post(self, webhook_id: str, body: bytes, deadline: float) -> tuple[int, float]:
        """One attempt through the breaker; returns (2xx status, seconds) or raises DeliveryError."""
        await self._wait_for_breaker(deadline)
        headers = {
            "content-type": CLOUDEVENTS_JSON,
            "user-agent": _USER_AGENT,
            **signature_headers(self._keys, webhook_id, int(time.time()), body),
        }
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._settings.attempt_timeout_seconds):
                # Streamed so that a partner's response body is never read into memory.
                async with self._client.stream(
                    "POST", self._url, content=body, headers=headers
                ) as response:
                    status = response.status_code
                    retry_after = response.headers.get("retry-after")
        except (httpx.TimeoutException, TimeoutError):
            self._breaker_failed()
            raise _TransportFailure(self._partner, "TIMEOUT") from None
        except httpx.TransportError as error:
            self._breaker_failed()
            code = "TLS_FAILED" if _is_tls_failure(error) else "CONNECTION_FAILED"
            raise _TransportFailure(self._partner, code) from None
        except BaseException:
            self._breaker.release()
            raise
        duration = time.monotonic() - started
        self._seconds.observe(duration)
        if 200 <= status < 300:
            self._breaker_succeeded()
            return status, duration
        if is_retryable_status(status):
            self._breaker_failed()
            wait = parse_retry_after(retry_after) if status in (429, 503) else None
            raise RetryableDeliveryError(
                self._partner, f"HTTP {status}", status=status, retry_after=wait
            )
        # The endpoint answered; it is alive even though it refuses this delivery.
        self._breaker_succeeded()
        raise PermanentDeliveryError(self._partner, f"HTTP {status}", status=status)

    async def _wait_for_breaker(self, deadline: float) -> None:
        # The breaker's answer is a time (the rest of its cool-down), not an event to await.
        while (delay := self._breaker.acquire()) > 0:
            if time.monotonic() + delay > deadline:
                raise _OutOfTime(self._partner)
            await asyncio.sleep(delay)

    def _breaker_failed(self) -> None:
        if self._breaker.record_failure():
            self._log.warning(
                "breaker_opened",
                count=self._breaker.consecutive_failures,
                delay_seconds=self._settings.breaker_cooldown_seconds,
            )
            if self._on_breaker_change:
                self._on_breaker_change(True)

    def _breaker_succeeded(self) -> None:
        if self._breaker.record_success():
            self._log.info("breaker_closed")
            if self._on_breaker_change:
                self._on_breaker_change(False)
