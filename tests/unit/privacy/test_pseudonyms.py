"""Keyed pseudonyms of BSNs: HMAC-SHA256 with the configured secret, hex."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.errors import ConfigurationError
from hub.privacy import DEFAULT_KEY_ID, DEMO_PSEUDONYM_SECRET, Pseudonymiser, pseudonyms_of
from hub.settings import HubSettings

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
    assert repr(Pseudonymiser(SECRET)) == "Pseudonymiser(key_id='k1', secret=<hidden>)"
    assert Pseudonymiser(DEMO_PSEUDONYM_SECRET).is_demo is True
    assert Pseudonymiser(SECRET).is_demo is False


OLD_SECRET = b"unit-test-earlier-pseudonym-secret-42"
BSN = "999900018"


def test_with_one_key_every_pseudonym_is_the_current_one() -> None:
    """A deployment without earlier keys looks up exactly the one pseudonym it writes."""
    pseudonymise = Pseudonymiser(SECRET)
    assert pseudonymise.key_id == DEFAULT_KEY_ID == "k1"
    assert pseudonymise.every(BSN) == (pseudonymise(BSN),)
    assert pseudonyms_of(pseudonymise, BSN) == (pseudonymise(BSN),)


def test_after_a_rotation_new_pseudonyms_use_the_new_key_and_lookups_every_key() -> None:
    """The current key makes new pseudonyms; every() gives the current key's first, then the
    earlier keys' in their configured order, each as that key alone would make it."""
    before = Pseudonymiser(OLD_SECRET, key_id="k1")
    after = Pseudonymiser(SECRET, key_id="k2", previous={"k1": OLD_SECRET})
    assert after.key_id == "k2"
    assert after(BSN) == Pseudonymiser(SECRET)(BSN) != before(BSN)
    assert after.every(BSN) == (after(BSN), before(BSN))
    assert pseudonyms_of(after, BSN) == after.every(BSN)


def test_a_plain_function_knows_one_key() -> None:
    """pseudonyms_of() over a plain BSN -> pseudonym function gives its one pseudonym."""
    assert pseudonyms_of(lambda bsn: "p" + bsn, BSN) == ("p" + BSN,)


def test_an_earlier_key_is_held_to_the_same_rules() -> None:
    """A short earlier key, an earlier key with the current id or the current secret is a
    configuration error naming the setting, never the secret."""
    with pytest.raises(ConfigurationError) as short:
        Pseudonymiser(SECRET, key_id="k2", previous={"k1": b"short-secret"})
    assert short.value.path == "previous_pseudonym_secrets.k1"
    assert "short-secret" not in str(short.value)
    with pytest.raises(ConfigurationError) as same_id:
        Pseudonymiser(SECRET, key_id="k1", previous={"k1": OLD_SECRET})
    assert same_id.value.path == "previous_pseudonym_secrets"
    with pytest.raises(ConfigurationError) as same_secret:
        Pseudonymiser(SECRET, key_id="k2", previous={"k1": SECRET})
    assert same_secret.value.path == "previous_pseudonym_secrets"
    assert SECRET.decode() not in str(same_secret.value)


def test_an_earlier_demo_key_counts_as_demo() -> None:
    """The demo secret kept as an earlier key is as public as a current one."""
    kept = Pseudonymiser(SECRET, key_id="k2", previous={"k1": DEMO_PSEUDONYM_SECRET})
    assert kept.is_demo is True
    assert "demo-only" not in repr(kept)


def test_the_settings_build_the_deployments_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """HUB_PRIVACY__PSEUDONYM_KEY_ID and HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS (a JSON
    object) configure the current key's id and the earlier keys; neither shows the secrets."""
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_SECRET", SECRET.decode())
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_KEY_ID", "k2")
    monkeypatch.setenv(
        "HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS", json.dumps({"k1": OLD_SECRET.decode()})
    )
    privacy = HubSettings().privacy
    assert OLD_SECRET.decode() not in repr(privacy)
    pseudonymise = Pseudonymiser.from_settings(privacy)
    assert pseudonymise.key_id == "k2"
    assert pseudonymise.every(BSN) == (
        Pseudonymiser(SECRET)(BSN),
        Pseudonymiser(OLD_SECRET)(BSN),
    )


def test_a_deployment_that_names_no_key_keeps_its_one_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only HUB_PRIVACY__PSEUDONYM_SECRET set: its key is k1 and pseudonyms are as before."""
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_SECRET", SECRET.decode())
    monkeypatch.delenv("HUB_PRIVACY__PSEUDONYM_KEY_ID", raising=False)
    monkeypatch.delenv("HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS", raising=False)
    pseudonymise = Pseudonymiser.from_settings(HubSettings().privacy)
    assert pseudonymise.key_id == "k1"
    assert pseudonymise.every(BSN) == (hmac.new(SECRET, BSN.encode(), hashlib.sha256).hexdigest(),)


def test_a_key_id_is_a_short_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key id that is not a short name (it is written into every record) is refused."""
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_KEY_ID", "key 2 (new)")
    with pytest.raises(ValidationError):
        HubSettings()
