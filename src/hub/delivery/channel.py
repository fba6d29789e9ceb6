"""One webhook partner's channel: decode a delivery record, send it, park it, log each attempt.

Shared by the WebhookDeliverer (``webhook.py``) and replay (``parking.py``), so a record
is handled the same way whether it comes from the deliveries topic or the parked topic.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

import httpx
from prometheus_client import Counter, Gauge

from hub.audit.record import AttemptResult as AuditResult
from hub.audit.record import DeliveryAttempt
from hub.connectors.registry import Partner, WebhookDelivery
from hub.delivery.breaker import CircuitBreaker
from hub.delivery.sender import AttemptResult, WebhookSender, check_webhook_url
from hub.delivery.sequence import SEQUENCE_HEADER, sequence
from hub.delivery.signing import parse_secrets
from hub.envelope import from_kafka
from hub.errors import ConfigurationError, InvalidEvent
from hub.kafka import Producer, Record
from hub.observability.logging import get_logger
from hub.settings import WebhookSettings
from hub.topics import DISCLOSURE_ID_HEADER, SUBJECT_KIND_HEADER, TopicLayout

__all__ = [
    "ATTEMPTS",
    "BREAKER_OPEN",
    "BREAKER_OPENED",
    "DISCLOSURE_ID_HEADER",
    "MIN_SECRET_BYTES",
    "PARKED",
    "PARK_REASON_HEADER",
    "REPLAY_PARKED_HEADER",
    "Channel",
    "Record",
    "WebhookTarget",
    "http_client",
    "new_breaker",
    "parking_key",
    "tls_context",
    "webhook_target",
]

PARK_REASON_HEADER = "hub-park-reason"
REPLAY_PARKED_HEADER = "hub-replay-parked"
"""On a copy replay parked again: it may lie after later records of its subject (replay
sends it before them, ``hub.delivery.parking``)."""
MIN_SECRET_BYTES = 24  # Standard Webhooks: secrets of 24 to 64 random bytes

_log = get_logger()

# Attempt ids are derived, so a record written twice (a crash before the offset commit)
# is one row in the audit store.
_ATTEMPT_NAMESPACE = uuid.UUID("6f1d3c7e-2a4b-5c8d-9e0f-1a2b3c4d5e6f")
_AUDIT_RESULT = {
    "delivered": AuditResult.SUCCEEDED,
    "failed": AuditResult.FAILED,
    "parked": AuditResult.PARKED,
}

ATTEMPTS = Counter(
    "hub_webhook_attempts_total", "Webhook transmission attempts, by result.", ["partner", "result"]
)
PARKED = Counter(
    "hub_webhook_parked_total", "Webhook deliveries parked, by reason code.", ["partner", "reason"]
)
BREAKER_OPEN = Gauge(
    "hub_webhook_breaker_open",
    "1 while a partner's circuit breaker holds deliveries back (not closed, and cooling "
    "down, probing, or with a delivery under way).",
    ["partner"],
)
BREAKER_OPENED = Counter(
    "hub_webhook_breaker_opened_total", "Times a partner's circuit breaker opened.", ["partner"]
)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A webhook partner with its checked URL and signing keys."""

    partner: Partner
    url: str
    keys: tuple[bytes, ...]


def webhook_target(partner: Partner, environ: Mapping[str, str]) -> WebhookTarget:
    """Check a webhook partner's URL and read its signing secrets from ``environ``.

    Raises ConfigurationError naming the registry path or the variable, never the value.
    """
    delivery = partner.delivery
    where = f"partners.{partner.id}.delivery"
    if not isinstance(delivery, WebhookDelivery):
        raise ConfigurationError("partner registry", where, "the partner takes no webhooks")
    check_webhook_url(delivery.url, where=f"{where}.url")
    if not delivery.secret_env:
        raise ConfigurationError(
            "partner registry", f"{where}.secret_env", "a webhook partner needs a signing secret"
        )
    raw = environ.get(delivery.secret_env)
    if not raw:
        raise ConfigurationError(
            "environment", delivery.secret_env, "the webhook signing secret is not set"
        )
    try:
        keys = parse_secrets(raw)
    except ValueError as error:
        raise ConfigurationError("environment", delivery.secret_env, str(error)) from None
    if any(len(key) < MIN_SECRET_BYTES for key in keys):
        raise ConfigurationError(
            "environment",
            delivery.secret_env,
            f"a webhook signing secret must hold at least {MIN_SECRET_BYTES} bytes",
        )
    return WebhookTarget(partner, delivery.url, keys)


def tls_context() -> ssl.SSLContext:
    """The TLS context partners' endpoints are verified with: httpx's default (certifi's CA bundle).

    Loading the bundle takes tens of milliseconds of CPU, hundreds on a busy machine, and
    an ``httpx.AsyncClient`` built without a context loads it itself, on the event loop
    `hub run` shares with the router. Build it once, in a thread (``asyncio.to_thread``),
    and give it to every partner's client: it holds no partner's state, and each client
    keeps its own connection pool.
    """
    return httpx.create_ssl_context()


def http_client(
    settings: WebhookSettings,
    transport: httpx.AsyncBaseTransport | None,
    tls: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """An HTTP client for one partner: its own connection pool, the timeouts, no redirects.

    ``tls`` from ``tls_context``; without it the client loads the CA bundle itself.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds),
        follow_redirects=False,
        transport=transport,
        verify=True if tls is None else tls,
    )


def new_breaker(settings: WebhookSettings) -> CircuitBreaker:
    """A closed circuit breaker with the configured threshold and cool-down."""
    return CircuitBreaker(
        failure_threshold=settings.breaker_failure_threshold,
        cooldown_seconds=settings.breaker_cooldown_seconds,
    )


Headers: TypeAlias = Sequence[tuple[str, bytes]]


def parking_key(record: Record) -> bytes | None:
    """The subject a parked record holds back: its key, within the kind its delivery names.

    Two partners may send equal ids for different things (a GP's referral id, the back
    office's request id): as bare keys, one partner's parked event would hold back the
    other's. A delivery written before the kind header is keyed by its key alone.
    """
    key: bytes | None = record.key
    if key is None:
        return None
    kind = _header(record.headers, SUBJECT_KIND_HEADER)
    return key if kind is None else kind.encode() + b"\x1f" + key


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


def _new_sender(
    target: WebhookTarget,
    settings: WebhookSettings,
    client: httpx.AsyncClient,
    breaker: CircuitBreaker,
) -> WebhookSender:
    partner_id = target.partner.id
    opened_total = BREAKER_OPENED.labels(partner_id)
    # Read at each scrape: an open breaker whose cool-down passed with nothing to deliver
    # (the parked ones replayed by `hub replay`, another process) holds nothing back and
    # must not keep HubWebhookBreakerOpen firing until the partner's next event.
    BREAKER_OPEN.labels(partner_id).set_function(lambda: 1.0 if breaker.holds_back() else 0.0)

    def on_breaker_change(opened: bool) -> None:
        if opened:
            opened_total.inc()

    return WebhookSender(
        partner_id=partner_id,
        url=target.url,
        keys=target.keys,
        settings=settings,
        client=client,
        breaker=breaker,
        on_breaker_change=on_breaker_change,
    )


class Channel:
    """What delivering and replaying share for one partner: send, park, and log each attempt."""

    def __init__(
        self,
        target: WebhookTarget,
        *,
        layout: TopicLayout,
        settings: WebhookSettings,
        client: httpx.AsyncClient,
        breaker: CircuitBreaker,
        producer: Producer,
        on_parked: Callable[[bytes, int, int], None] | None = None,
        replaying: bool = False,
    ) -> None:
        self._partner = target.partner.id
        self._replaying = replaying
        self._sender = _new_sender(target, settings, client, breaker)
        self._producer = producer
        self._parked_topic = layout.parked(target.partner.id)
        self._deliveries_topic = layout.deliveries(target.partner)
        self._disclosures = layout.disclosures
        self._on_parked = on_parked
        # Looked up once: one child per result and partner.
        self._attempts = {r: ATTEMPTS.labels(self._partner, r) for r in _AUDIT_RESULT}

    async def handle(
        self, record: Record, is_parked: Callable[[bytes], Awaitable[bool]]
    ) -> str | None:
        """Deliver one record or park it; return None when delivered, else the park reason."""
        headers = [(name, value) for name, value in record.headers if name != PARK_REASON_HEADER]
        disclosure_id = _header(headers, DISCLOSURE_ID_HEADER)
        context: dict[str, Any] = {
            "disclosure_id": disclosure_id,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        }

        async def on_attempt(result: AttemptResult) -> None:
            await self._write_attempt(disclosure_id, result)

        reason: str | None = None
        event: dict[str, Any] = {}
        try:
            event = from_kafka(record.key, headers, record.value, text_data=True)
        except (InvalidEvent, ValueError):
            reason = "RECORD_INVALID"
        if reason is None and not (isinstance(event.get("id"), str) and event["id"]):
            reason = "RECORD_INVALID"
        if record.topic == self._deliveries_topic:
            # Its place in the partner's stream (hub.delivery.sequence); a parked copy
            # keeps its original's in a header, which ``from_kafka`` has read already.
            event["sequence"] = sequence(record.partition, record.offset)
        subject = parking_key(record)
        if reason is None and subject is not None and await is_parked(subject):
            reason = "SUBJECT_PARKED"
        if reason is not None:
            # Parked without a transmission: attempt 0 in the disclosure log.
            await on_attempt(AttemptResult(0, datetime.now(UTC), "parked", None, reason))
            # An unreadable copy keeps its original's place too (``from_kafka`` read nothing).
            stream_sequence = event.get("sequence") or _header(headers, SEQUENCE_HEADER)
            await self._park(
                record, headers, reason, stream_sequence, attempt=0, status=None, **context
            )
            return reason
        context["delivery_id"] = event["id"]
        outcome = await self._sender.send(event, on_attempt, **context)
        if outcome.delivered:
            return None
        assert outcome.reason is not None
        await self._park(
            record,
            headers,
            outcome.reason,
            event.get("sequence"),
            attempt=outcome.attempts,
            status=outcome.status,
            **context,
        )
        return outcome.reason

    async def park_failed(self, record: Record) -> str:
        """Park a record on which delivering failed again and again (a bug): ``PROCESSING_FAILED``.

        Parked as an undecodable record is, without a transmission (attempt 0), so that
        the partner's other subjects flow on; replay sends it again once the cause is fixed.
        """
        reason = "PROCESSING_FAILED"
        headers = [(name, value) for name, value in record.headers if name != PARK_REASON_HEADER]
        disclosure_id = _header(headers, DISCLOSURE_ID_HEADER)
        await self._write_attempt(
            disclosure_id, AttemptResult(0, datetime.now(UTC), "parked", None, reason)
        )
        sequence_of = (
            sequence(record.partition, record.offset)
            if record.topic == self._deliveries_topic
            else _header(headers, SEQUENCE_HEADER)
        )
        await self._park(
            record,
            headers,
            reason,
            sequence_of,
            attempt=0,
            status=None,
            disclosure_id=disclosure_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        return reason

    async def _write_attempt(self, disclosure_id: str | None, result: AttemptResult) -> None:
        if disclosure_id is None:
            # Every release by the hub names its disclosure record; without one there is
            # nothing to link the attempt to (a record not written by the hub's router).
            _log.warning("attempt_unlinked", partner=self._partner, attempt=result.attempt)
            return
        at = result.at.isoformat(timespec="milliseconds")
        record = DeliveryAttempt(
            attempt_id=str(
                uuid.uuid5(_ATTEMPT_NAMESPACE, f"{disclosure_id}|{result.attempt}|{at}")
            ),
            disclosure_id=disclosure_id,
            attempt=result.attempt,
            attempted_at=result.at,
            result=_AUDIT_RESULT[result.result],
            status=result.status,
            reason=result.reason,
        )
        await self._producer.send_and_wait(
            self._disclosures, key=disclosure_id.encode(), value=record.to_json()
        )
        if result.attempt > 0:
            self._attempts[result.result].inc()

    async def _park(
        self,
        record: Record,
        headers: Headers,
        reason: str,
        stream_sequence: str | None,
        *,
        attempt: int,
        status: int | None,
        **context: Any,
    ) -> None:
        kept = [
            (name, value)
            for name, value in headers
            if name not in (SEQUENCE_HEADER, REPLAY_PARKED_HEADER)
        ]
        if stream_sequence is not None:
            # The parked copy has another partition and offset: it keeps the original's.
            kept.append((SEQUENCE_HEADER, stream_sequence.encode()))
        if self._replaying:
            kept.append((REPLAY_PARKED_HEADER, b"1"))
        metadata = await self._producer.send_and_wait(
            self._parked_topic,
            key=record.key,
            value=record.value,
            headers=[*kept, (PARK_REASON_HEADER, reason.encode())],
        )
        subject = parking_key(record)
        if subject is not None and self._on_parked is not None:
            self._on_parked(subject, metadata.partition, metadata.offset)
        PARKED.labels(partner=self._partner, reason=reason).inc()
        _log.warning(
            "webhook_parked",
            partner=self._partner,
            code=reason,
            attempt=attempt,
            status=status,
            **context,
        )
