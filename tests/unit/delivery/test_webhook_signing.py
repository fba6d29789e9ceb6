"""Standard Webhooks signing: secret format, known vectors, and rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from hub.delivery.signing import (
    matches_any,
    parse_secret,
    parse_secrets,
    sign,
    signature_headers,
)

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def test_signature_is_base64_hmac_sha256_of_id_timestamp_body() -> None:
    """A signature is v1, then base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}", computed here by hand."""
    body = b'{"id":"evt-1","data":{"a":1}}'
    digest = hmac.new(KEY, b"evt-1.1700000000." + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()

    assert sign(parse_secret(SECRET), "evt-1", 1700000000, body) == expected


def test_published_standard_webhooks_vector() -> None:
    """The example from the Standard Webhooks specification signs to its published value."""
    key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_secret_without_prefix_is_used_as_utf8_bytes() -> None:
    """A secret without whsec_ is its UTF-8 bytes; with whsec_ it is base64-decoded."""
    assert parse_secret("plain-secret") == b"plain-secret"
    assert parse_secret(SECRET) == KEY
    assert parse_secret(KEY) == KEY


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_not*base64"])
def test_bad_secrets_are_refused_without_quoting_them(bad: str) -> None:
    """An empty secret or a whsec_ secret that is not base64 raises ValueError naming no value."""
    with pytest.raises(ValueError, match="secret") as raised:
        parse_secret(bad)
    assert "base64" in str(raised.value) or "empty" in str(raised.value)
    if bad:
        assert bad not in str(raised.value)


def test_headers_carry_one_signature_per_secret_during_rotation() -> None:
    """Several space-separated secrets give several space-separated signatures."""
    keys = parse_secrets(f"{SECRET} other-secret")
    headers = signature_headers(keys, "evt-1", 1700000000, b"{}")

    assert headers["webhook-id"] == "evt-1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == " ".join(
        [sign(KEY, "evt-1", 1700000000, b"{}"), sign(b"other-secret", "evt-1", 1700000000, b"{}")]
    )


def test_matches_any_accepts_any_v1_signature_and_skips_other_versions() -> None:
    """A header with an unknown version and a valid v1 signature matches; a wrong key does not."""
    good = sign(KEY, "evt-1", 1, b"{}")
    header = f"v2,AAAA {good}"

    assert matches_any([KEY], "evt-1", 1, b"{}", header)
    assert matches_any([b"rotated-out", KEY], "evt-1", 1, b"{}", header)
    assert not matches_any([b"wrong"], "evt-1", 1, b"{}", header)
    assert not matches_any([KEY], "evt-1", 1, b"{}", good.replace("v1,", "v2,"))
