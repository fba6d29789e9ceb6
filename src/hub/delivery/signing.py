"""Standard Webhooks signatures: the secret format, signing a message, and checking a signature.

A signature is ``v1,<base64 of HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}")>``
(https://www.standardwebhooks.com). The ``webhook-signature`` header holds one or more of
them separated by spaces, so a sender can sign with an old and a new secret while a
receiver rotates.

Secrets are written as ``whsec_<base64>`` (the Standard Webhooks form, which its libraries in
other languages read too); a secret without that prefix is used as its UTF-8 bytes. The hub
and ``hub.delivery.receiver`` read secrets the same way, so either form works end to end;
partners on another library should be given the ``whsec_`` form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable

__all__ = [
    "SECRET_PREFIX",
    "SIGNATURE_VERSION",
    "WEBHOOK_ID",
    "WEBHOOK_SIGNATURE",
    "WEBHOOK_TIMESTAMP",
    "matches_any",
    "parse_secret",
    "parse_secrets",
    "sign",
    "signature_headers",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the format's prefix, not a secret
SIGNATURE_VERSION = "v1"
WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"


def parse_secret(secret: str | bytes) -> bytes:
    """Turn a configured secret into HMAC key bytes; ``whsec_<base64>`` is decoded.

    Raises ValueError (without quoting the secret) when the ``whsec_`` part is not base64
    or the key is empty.
    """
    if isinstance(secret, bytes):
        key = secret
    elif secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret must be followed by base64") from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def parse_secrets(value: str) -> tuple[bytes, ...]:
    """Parse a space-separated list of secrets (several during rotation) into HMAC keys."""
    keys = tuple(parse_secret(part) for part in value.split())
    if not keys:
        raise ValueError("a webhook secret must not be empty")
    return keys


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of the message ``{id}.{timestamp}.{body}``."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_headers(
    keys: Iterable[bytes], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every key given (rotation)."""
    signatures = " ".join(sign(key, webhook_id, timestamp, body) for key in keys)
    return {
        WEBHOOK_ID: webhook_id,
        WEBHOOK_TIMESTAMP: str(timestamp),
        WEBHOOK_SIGNATURE: signatures,
    }


def matches_any(
    keys: Iterable[bytes], webhook_id: str, timestamp: int, body: bytes, header: str
) -> bool:
    """Tell whether any ``v1`` signature in the header was made with any of the keys.

    Every comparison runs in constant time (``hmac.compare_digest``); signatures of other
    versions are skipped, as Standard Webhooks asks.
    """
    offered = [
        part.encode("ascii", "replace")
        for part in header.split()
        if part.startswith(f"{SIGNATURE_VERSION},")
    ]
    expected = [sign(key, webhook_id, timestamp, body).encode("ascii") for key in keys]
    found = False
    for candidate in offered:
        for signature in expected:
            # No early return: the work done does not depend on which signature matched.
            found |= hmac.compare_digest(candidate, signature)
    return found
