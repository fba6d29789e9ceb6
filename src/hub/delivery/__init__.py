"""Delivery channels: webhook delivery to partners' HTTPS endpoints, pull delivery, the receiver helper.

httpx and tenacity are used only in this package. Names are imported on first use, so a
partner who only needs ``hub.delivery.receiver`` does not load Kafka or HTTP clients.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.delivery.breaker import BreakerState, CircuitBreaker
    from hub.delivery.parking import ReplayReport, replay
    from hub.delivery.pull import (
        CursorExpired,
        CursorInvalid,
        PullDeliveries,
        PulledPage,
        decode_cursor,
        encode_cursor,
    )
    from hub.delivery.receiver import (
        Deduplicator,
        VerificationFailure,
        WebhookVerificationError,
        verify,
    )
    from hub.delivery.sender import (
        AttemptResult,
        SendOutcome,
        WebhookSender,
        check_webhook_url,
        is_retryable_status,
        parse_retry_after,
    )
    from hub.delivery.sequence import position_of, sequence
    from hub.delivery.signing import parse_secret, sign, signature_headers
    from hub.delivery.webhook import WebhookDeliverer

__all__ = [
    "AttemptResult",
    "BreakerState",
    "CircuitBreaker",
    "CursorExpired",
    "CursorInvalid",
    "Deduplicator",
    "PullDeliveries",
    "PulledPage",
    "ReplayReport",
    "SendOutcome",
    "VerificationFailure",
    "WebhookDeliverer",
    "WebhookSender",
    "WebhookVerificationError",
    "check_webhook_url",
    "decode_cursor",
    "encode_cursor",
    "is_retryable_status",
    "parse_retry_after",
    "parse_secret",
    "position_of",
    "replay",
    "sequence",
    "sign",
    "signature_headers",
    "verify",
]

_MODULE_OF = {
    "BreakerState": "breaker",
    "CircuitBreaker": "breaker",
    "Deduplicator": "receiver",
    "VerificationFailure": "receiver",
    "WebhookVerificationError": "receiver",
    "verify": "receiver",
    "AttemptResult": "sender",
    "SendOutcome": "sender",
    "WebhookSender": "sender",
    "check_webhook_url": "sender",
    "is_retryable_status": "sender",
    "parse_retry_after": "sender",
    "parse_secret": "signing",
    "sign": "signing",
    "signature_headers": "signing",
    "ReplayReport": "parking",
    "CursorExpired": "pull",
    "CursorInvalid": "pull",
    "PullDeliveries": "pull",
    "PulledPage": "pull",
    "decode_cursor": "pull",
    "encode_cursor": "pull",
    "position_of": "sequence",
    "sequence": "sequence",
    "WebhookDeliverer": "webhook",
    "replay": "parking",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
