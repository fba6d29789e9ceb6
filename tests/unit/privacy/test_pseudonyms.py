"""Keyed pseudonyms of BSNs: HMAC-SHA256 with the configured secret, hex."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ConfigurationError
from hub.privacy import DEMO_PSEUDONYM_SECRET, Pseudonymiser

SECRET = b"unit-test-pseudonym-secret-0123456789"


def test_a_pseudonym_is_the_hex_hmac_sha256_of_the_bsn() -> None:
    """The pseudonym is HMAC-SHA256(secret, BSN) in lower-case hex."""
    expected = hmac.new(SECRET, b"999900018", hashlib.sha256).hexdigest()
    assert Pseudonymiser(SECRET)("999900018") == expected
    assert len(expected) == 64


@given(bsn=st.from_regex(r"[0-9]{9}", fullmatch=True))
def test_the_same_bsn_gives_the_same_pseudonym_only_under_the_same_secret(bsn: str) -> None:
    """Pseudonyms are stable under one secret, different under another, and never the BSN."""
    one, other = Pseudonymiser(SECRET), Pseudonymiser(SECRET + b"-other")
    assert one(bsn) == Pseudonymiser(SECRET)(bsn)
    assert one(bsn) != other(bsn)
    assert bsn not in one(bsn)


def test_a_short_secret_refuses_to_start() -> None:
    """A secret under 16 bytes is a configuration error naming the setting, not the secret."""
    with pytest.raises(ConfigurationError) as caught:
        Pseudonymiser(b"short-secret")
    assert caught.value.path == "pseudonym_secret"
    assert "short-secret" not in str(caught.value)


def test_the_secret_never_shows() -> None:
    """repr() hides the key; the demo key is recognised as demo-only."""
    assert repr(Pseudonymiser(SECRET)) == "Pseudonymiser(secret=<hidden>)"
    assert Pseudonymiser(DEMO_PSEUDONYM_SECRET).is_demo is True
    assert Pseudonymiser(SECRET).is_demo is False
