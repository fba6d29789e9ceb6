"""Keyed pseudonyms of BSNs: HMAC-SHA256 with the hub's secret, as lower-case hex.

The disclosure log and the routing state hold these, never the BSN. The same BSN
always gives the same pseudonym under one secret, so a resident's disclosures can be
found again (``hub audit subject``); without the secret a pseudonym cannot be turned
back into a BSN, not even by trying all 10^9 candidates.
"""

from __future__ import annotations

import hashlib
import hmac

from hub.errors import ConfigurationError

__all__ = ["DEMO_PSEUDONYM_SECRET", "MIN_SECRET_BYTES", "Pseudonymiser"]

MIN_SECRET_BYTES = 16
"""Shorter keys would make the 10^9 BSNs cheap to enumerate for whoever guesses the key."""

DEMO_PSEUDONYM_SECRET = b"demo-only-pseudonym-secret-change-me"
"""DEMO ONLY: the secret of the demo settings; production sets HUB_PRIVACY__PSEUDONYM_SECRET."""


class Pseudonymiser:
    """Turns a BSN into its keyed pseudonym (64 hex characters)."""

    __slots__ = ("_key", "_keyed")

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                "privacy settings",
                "pseudonym_secret",
                f"the pseudonym secret must be at least {MIN_SECRET_BYTES} bytes",
            )
        self._key = bytes(secret)
        # Keyed once; each pseudonym copies it (keying an HMAC costs two hash blocks).
        self._keyed = hmac.new(self._key, digestmod=hashlib.sha256)

    def __call__(self, bsn: str) -> str:
        """The pseudonym of one BSN."""
        mac = self._keyed.copy()
        mac.update(bsn.encode("ascii"))
        return mac.hexdigest()

    def __repr__(self) -> str:
        return "Pseudonymiser(secret=<hidden>)"

    @property
    def is_demo(self) -> bool:
        """True when this uses the demo-only secret (never acceptable in production)."""
        return hmac.compare_digest(self._key, DEMO_PSEUDONYM_SECRET)
