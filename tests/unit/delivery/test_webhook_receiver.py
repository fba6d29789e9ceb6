"""The partners' receiver helper: verify() and the Deduplicator."""

from __future__ import annotations

import base64
import json

import pytest

from hub.delivery.receiver import (
    Deduplicator,
    VerificationFailure,
    WebhookVerificationError,
    verify,
)
from hub.delivery.signing import parse_secret, signature_headers

SECRET = "whsec_" + base64.b64encode(b"receiver-test-secret-of-32-bytes").decode()
NOW = 1_700_000_000
EVENT = {"specversion": "1.0", "id": "evt-1", "type": "t", "data": {"a": 1}}
BODY = json.dumps(EVENT).encode()


def _headers(secret: str = SECRET, *, body: bytes = BODY, timestamp: int = NOW) -> dict[str, str]:
    return signature_headers([parse_secret(secret)], "evt-1", timestamp, body)


def _failure(headers: dict[str, str], body: bytes = BODY, **kwargs: object) -> VerificationFailure:
    with pytest.raises(WebhookVerificationError) as raised:
        verify(headers, body, kwargs.pop("secret", SECRET), now=NOW, **kwargs)  # type: ignore[arg-type]
    return raised.value.code


def test_good_delivery_verifies_and_returns_the_event() -> None:
    """A correctly signed, fresh delivery returns its CloudEvent."""
    assert verify(_headers(), BODY, SECRET, now=NOW) == EVENT


def test_header_names_are_case_insensitive() -> None:
    """Header names are matched whatever their case."""
    headers = {name.upper(): value for name, value in _headers().items()}
    assert verify(headers, BODY, SECRET, now=NOW) == EVENT


def test_tampered_body_is_refused() -> None:
    """Changing one byte of the body fails with SIGNATURE_MISMATCH."""
    assert _failure(_headers(), BODY.replace(b'"a": 1', b'"a": 2')) is (
        VerificationFailure.SIGNATURE_MISMATCH
    )


def test_wrong_secret_is_refused() -> None:
    """A delivery signed with another secret fails with SIGNATURE_MISMATCH."""
    headers = _headers("whsec_" + base64.b64encode(b"another-secret-another-secret!!!").decode())
    assert _failure(headers) is VerificationFailure.SIGNATURE_MISMATCH


def test_tampered_timestamp_is_refused() -> None:
    """A timestamp changed after signing fails with SIGNATURE_MISMATCH."""
    headers = _headers()
    headers["webhook-timestamp"] = str(NOW + 1)
    assert _failure(headers) is VerificationFailure.SIGNATURE_MISMATCH


def test_stale_and_future_timestamps_are_refused() -> None:
    """A timestamp beyond the tolerance, before or after now, is refused before the signature."""
    assert _failure(_headers(timestamp=NOW - 301)) is VerificationFailure.TIMESTAMP_TOO_OLD
    assert _failure(_headers(timestamp=NOW + 301)) is VerificationFailure.TIMESTAMP_TOO_NEW
    assert verify(_headers(timestamp=NOW - 300), BODY, SECRET, now=NOW) == EVENT
    assert (
        _failure(_headers(timestamp=NOW - 61), tolerance_seconds=60)
        is VerificationFailure.TIMESTAMP_TOO_OLD
    )


def test_missing_and_malformed_headers_are_refused() -> None:
    """A missing header or a timestamp that is not unix seconds has its own code."""
    headers = _headers()
    del headers["webhook-signature"]
    assert _failure(headers) is VerificationFailure.HEADER_MISSING
    headers = _headers()
    headers["webhook-timestamp"] = "2023-11-14T22:13:20Z"
    assert _failure(headers) is VerificationFailure.TIMESTAMP_INVALID


@pytest.mark.parametrize("timestamp", ["\u00b2", "1" * 5000, "\u0661\u0667\u0660\u0660"])
def test_a_hostile_timestamp_is_refused_not_raised(timestamp: str) -> None:
    """Digits isdigit() takes but int() refuses (or a number too long for it): TIMESTAMP_INVALID."""
    headers = _headers()
    headers["webhook-timestamp"] = timestamp
    assert _failure(headers) is VerificationFailure.TIMESTAMP_INVALID


def test_rotation_on_either_side() -> None:
    """Several signatures in the header, or several secrets at the receiver, pass if any pair matches."""
    old = "whsec_" + base64.b64encode(b"old-secret-old-secret-old-secre").decode()
    both = signature_headers([parse_secret(old), parse_secret(SECRET)], "evt-1", NOW, BODY)

    assert verify(both, BODY, SECRET, now=NOW) == EVENT
    assert verify(both, BODY, old, now=NOW) == EVENT
    assert verify(_headers(), BODY, [old, SECRET], now=NOW) == EVENT
    assert _failure(_headers(old), secret=[SECRET]) is VerificationFailure.SIGNATURE_MISMATCH


def test_signed_body_that_is_not_a_json_object_is_refused() -> None:
    """A verified body that is not a JSON object fails with BODY_INVALID."""
    body = b"[1, 2]"
    assert _failure(_headers(body=body), body) is VerificationFailure.BODY_INVALID


def test_error_message_names_the_code() -> None:
    """The error's message starts with its code and holds no header values."""
    with pytest.raises(WebhookVerificationError, match=r"^SIGNATURE_MISMATCH: ") as raised:
        verify(_headers(), b"{}", SECRET, now=NOW)
    assert _headers()["webhook-signature"] not in str(raised.value)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_deduplicator_remembers_ids_until_they_expire() -> None:
    """An added id is seen until its TTL has passed."""
    clock = _Clock()
    seen = Deduplicator(max_entries=10, ttl_seconds=60, clock=clock)

    assert "evt-1" not in seen
    seen.add("evt-1")
    assert "evt-1" in seen
    clock.now = 59.9
    assert "evt-1" in seen
    clock.now = 60.0
    assert "evt-1" not in seen
    assert len(seen) == 0


def test_deduplicator_is_bounded_and_forgets_the_least_recently_used() -> None:
    """When full, the id used least recently is forgotten first."""
    seen = Deduplicator(max_entries=2, ttl_seconds=60, clock=_Clock())
    seen.add("a")
    seen.add("b")
    assert "a" in seen  # a is now more recently used than b
    seen.add("c")

    assert len(seen) == 2
    assert "a" in seen
    assert "b" not in seen
    assert "c" in seen
