"""Keyed pseudonyms of BSNs: HMAC-SHA256 with the hub's secret, as lower-case hex.

The disclosure log and the routing state hold these, never the BSN. The same BSN
always gives the same pseudonym under one secret, so a resident's disclosures can be
found again (``hub audit subject``); without the secret a pseudonym cannot be turned
back into a BSN, not even by trying all 10^9 candidates.

Key rotation: the hub makes new pseudonyms with its current key (named by a key id,
which each disclosure record carries) and keeps earlier keys only to recognise what it
wrote before: lookups by BSN search the pseudonyms under every configured key, and the
routing rules that compare a BSN with stored pseudonyms accept a match under any of them
(docs/privacy.md, "Rotating the pseudonym key").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import SecretStr

from hub.errors import ConfigurationError

__all__ = [
    "DEFAULT_KEY_ID",
    "DEMO_PSEUDONYM_SECRET",
    "MIN_SECRET_BYTES",
    "KeySettings",
    "Pseudonymiser",
    "pseudonyms_of",
]

MIN_SECRET_BYTES = 16
"""Shorter keys would make the 10^9 BSNs cheap to enumerate for whoever guesses the key."""

DEMO_PSEUDONYM_SECRET = b"demo-only-pseudonym-secret-change-me"
"""DEMO ONLY: the secret of the demo settings; production sets HUB_PRIVACY__PSEUDONYM_SECRET."""

DEFAULT_KEY_ID = "k1"
"""The id of a deployment's first key; records written before keys had ids were made with it."""


class KeySettings(Protocol):
    """The pseudonym keys of the privacy settings (``hub.settings.PrivacySettings``)."""

    @property
    def pseudonym_secret(self) -> SecretStr: ...

    @property
    def pseudonym_key_id(self) -> str: ...

    @property
    def previous_pseudonym_secrets(self) -> Mapping[str, SecretStr]: ...


def _keyed(secret: bytes, setting: str) -> hmac.HMAC:
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            "privacy settings",
            setting,
            f"the pseudonym secret must be at least {MIN_SECRET_BYTES} bytes",
        )
    # Keyed once; each pseudonym copies it (keying an HMAC costs two hash blocks).
    return hmac.new(secret, digestmod=hashlib.sha256)


class Pseudonymiser:
    """Turns a BSN into its keyed pseudonym (64 hex characters) under the current key.

    ``previous`` maps the ids of earlier keys to their secrets: they never make a new
    pseudonym, only ``every()`` uses them, to find what was written under them.
    """

    __slots__ = ("_key_id", "_keyed", "_keys", "_previous")

    def __init__(
        self,
        secret: bytes,
        *,
        key_id: str = DEFAULT_KEY_ID,
        previous: Mapping[str, bytes] | None = None,
    ) -> None:
        self._key_id = key_id
        self._keyed = _keyed(secret, "pseudonym_secret")
        previous = dict(previous or {})
        if key_id in previous:
            raise ConfigurationError(
                "privacy settings",
                "previous_pseudonym_secrets",
                "an earlier key may not have the current key's id",
            )
        self._previous = tuple(
            _keyed(value, f"previous_pseudonym_secrets.{name}") for name, value in previous.items()
        )
        self._keys = (bytes(secret), *(bytes(value) for value in previous.values()))
        if len(set(self._keys)) != len(self._keys):
            raise ConfigurationError(
                "privacy settings",
                "previous_pseudonym_secrets",
                "each configured pseudonym key must be a different secret",
            )

    @classmethod
    def from_settings(cls, privacy: KeySettings) -> Pseudonymiser:
        """The deployment's pseudonymiser: its current key and the earlier ones it keeps."""
        return cls(
            privacy.pseudonym_secret.get_secret_value().encode("utf-8"),
            key_id=privacy.pseudonym_key_id,
            previous={
                name: value.get_secret_value().encode("utf-8")
                for name, value in privacy.previous_pseudonym_secrets.items()
            },
        )

    def __call__(self, bsn: str) -> str:
        """The pseudonym of one BSN under the current key."""
        mac = self._keyed.copy()
        mac.update(bsn.encode("ascii"))
        return mac.hexdigest()

    def every(self, bsn: str) -> tuple[str, ...]:
        """The BSN's pseudonyms under every configured key, the current key's first."""
        if not self._previous:
            return (self(bsn),)
        data = bsn.encode("ascii")
        found = [self(bsn)]
        for keyed in self._previous:
            mac = keyed.copy()
            mac.update(data)
            found.append(mac.hexdigest())
        return tuple(found)

    def __repr__(self) -> str:
        return f"Pseudonymiser(key_id={self._key_id!r}, secret=<hidden>)"

    @property
    def key_id(self) -> str:
        """The id of the current key, which each disclosure record names."""
        return self._key_id

    @property
    def is_demo(self) -> bool:
        """True when any configured key is the demo-only secret (never acceptable in production)."""
        return any(hmac.compare_digest(key, DEMO_PSEUDONYM_SECRET) for key in self._keys)


def pseudonyms_of(pseudonymise: Callable[[str], str], bsn: str) -> tuple[str, ...]:
    """A BSN's pseudonyms under every key ``pseudonymise`` knows, the current key's first.

    For comparing a BSN with pseudonyms stored earlier, which may have been made with a
    key the hub has since rotated away from. A plain function knows one key.
    """
    if isinstance(pseudonymise, Pseudonymiser):
        return pseudonymise.every(bsn)
    return (pseudonymise(bsn),)
