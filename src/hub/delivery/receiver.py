"""Helpers for partners who receive the hub's webhooks in Python: verify a delivery, drop repeats.

The hub signs every delivery per Standard Webhooks and delivers at least once, so a
receiver (1) verifies the signature over the *raw* body before parsing it, (2) answers
2xx quickly, and (3) skips a ``webhook-id`` it has already processed. A Starlette
endpoint doing all three::

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from hub.delivery.receiver import Deduplicator, WebhookVerificationError, verify

    SECRET = "whsec_..."  # from your secret store, as agreed with the hub's operators
    seen = Deduplicator(max_entries=100_000, ttl_seconds=7 * 24 * 3600)

    async def deliveries(request: Request) -> Response:
        body = await request.body()
        try:
            event = verify(request.headers, body, SECRET)
        except WebhookVerificationError as error:
            # 503, retried: a clock off by minutes or a secret rotated in the wrong order
            # mends; a 4xx would have the hub park the event at once.
            return Response(error.code, status_code=503)
        webhook_id = request.headers["webhook-id"]
        if webhook_id not in seen:
            handle(event)  # your code; keep it quick, or queue the event
            seen.add(webhook_id)  # only after it was handled
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hub/deliveries", deliveries, methods=["POST"])])

Answer 2xx for a repeat too: the hub retries anything else. Answer 410 or another
4xx (not 408 or 429) only for an event you will never accept: the hub parks it at once.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

from hub.delivery.signing import (
    WEBHOOK_ID,
    WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
    matches_any,
    parse_secret,
)
from hub.errors import HubError

__all__ = ["Deduplicator", "VerificationFailure", "WebhookVerificationError", "verify"]


class VerificationFailure(StrEnum):
    """Why a delivery did not verify; stable codes, safe to log or return."""

    HEADER_MISSING = "HEADER_MISSING"
    TIMESTAMP_INVALID = "TIMESTAMP_INVALID"
    TIMESTAMP_TOO_OLD = "TIMESTAMP_TOO_OLD"
    TIMESTAMP_TOO_NEW = "TIMESTAMP_TOO_NEW"
    SIGNATURE_MISMATCH = "SIGNATURE_MISMATCH"
    BODY_INVALID = "BODY_INVALID"


class WebhookVerificationError(HubError):
    """A delivery is not provably from the hub (or not fresh); ``code`` says why."""

    def __init__(self, code: VerificationFailure, message: str) -> None:
        self.code = code
        super().__init__(f"{code.value}: {message}")


def verify(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str | bytes | Iterable[str | bytes],
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a delivery's signature and timestamp, then return its CloudEvent as a dict.

    ``headers`` may be any mapping (names are matched case-insensitively); ``body`` must be
    the raw request body, unparsed. ``secret`` is the shared secret (``whsec_<base64>`` or
    plain text), or several while you rotate them. Any one ``v1`` signature in
    ``webhook-signature`` made with any of the secrets passes; each is compared in constant
    time. A ``webhook-timestamp`` more than ``tolerance_seconds`` before or after ``now``
    (default: the clock) is refused, so a captured delivery cannot be replayed later.

    Raises WebhookVerificationError with a VerificationFailure code.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get(WEBHOOK_ID)
    timestamp_text = lowered.get(WEBHOOK_TIMESTAMP)
    signature = lowered.get(WEBHOOK_SIGNATURE)
    if not webhook_id or not timestamp_text or not signature:
        raise WebhookVerificationError(
            VerificationFailure.HEADER_MISSING,
            "webhook-id, webhook-timestamp and webhook-signature are required",
        )
    # ASCII digits, at most 20 (a 64-bit number): "²" is a digit to isdigit(), and int()
    # refuses a number of over 4,300 digits with a ValueError, not our refusal.
    if not (timestamp_text.isascii() and timestamp_text.isdigit() and len(timestamp_text) <= 20):
        raise WebhookVerificationError(
            VerificationFailure.TIMESTAMP_INVALID, "webhook-timestamp must be unix seconds"
        )
    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise WebhookVerificationError(
            VerificationFailure.TIMESTAMP_TOO_OLD, "the delivery's timestamp is too old"
        )
    if timestamp > current + tolerance_seconds:
        raise WebhookVerificationError(
            VerificationFailure.TIMESTAMP_TOO_NEW, "the delivery's timestamp is in the future"
        )
    raw = body.encode("utf-8") if isinstance(body, str) else body
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    keys = [parse_secret(item) for item in secrets]
    if not matches_any(keys, webhook_id, timestamp, raw, signature):
        raise WebhookVerificationError(
            VerificationFailure.SIGNATURE_MISMATCH, "no signature matches the secret"
        )
    try:
        event = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError(
            VerificationFailure.BODY_INVALID, "the body is not JSON"
        ) from None
    if not isinstance(event, dict):
        raise WebhookVerificationError(
            VerificationFailure.BODY_INVALID, "the body is not a JSON object"
        )
    return event


class Deduplicator:
    """Remembers the ``webhook-id``s a receiver has processed: at most ``max_entries``, each for ``ttl_seconds``.

    The oldest-used id is forgotten first when full (LRU). In memory and per process: a
    receiver with several processes, or one that must survive restarts, keeps the ids in
    its database instead (a unique key on ``webhook-id``). Not safe across threads.
    """

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        ttl_seconds: float = 7 * 24 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # id -> expiry, oldest first

    def __contains__(self, webhook_id: object) -> bool:
        """Tell whether this id was added and has not expired (a hit counts as a use)."""
        if not isinstance(webhook_id, str):
            return False
        expiry = self._seen.get(webhook_id)
        if expiry is None:
            return False
        if expiry <= self._clock():
            del self._seen[webhook_id]
            return False
        self._seen.move_to_end(webhook_id)
        return True

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, webhook_id: str) -> None:
        """Remember an id as processed; call it after the event was handled."""
        now = self._clock()
        self._seen[webhook_id] = now + self._ttl
        self._seen.move_to_end(webhook_id)
        self._evict(now)

    def _evict(self, now: float) -> None:
        while self._seen:
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now and len(self._seen) <= self._max:
                return
            del self._seen[oldest]
