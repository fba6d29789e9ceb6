"""The contract's rules for identifiers that travel in headers, keys and long-lived records.

messages.md, "Envelope": an event ``id`` is 1-128 characters from ``A-Z a-z 0-9 . _ : -``,
and neither it, nor ``subject``, nor an identifier field may have a part between the
separators ``. _ : -`` that is a BSN (9 digits passing the 11-proof).
"""

from __future__ import annotations

import re

from hub.envelope import passes_eleven_proof

__all__ = ["EVENT_ID_PATTERN", "has_bsn_part", "is_bsn", "is_reportable_id"]

EVENT_ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_SEPARATORS = re.compile(r"[._:\-]")


def is_bsn(value: str) -> bool:
    """True for exactly nine ASCII digits passing the 11-proof (weighted sum divisible by 11, not 0)."""
    return len(value) == 9 and value.isascii() and value.isdigit() and passes_eleven_proof(value)


def has_bsn_part(value: str) -> bool:
    """True when a part of ``value`` between the separators ``. _ : -`` is a BSN."""
    return any(is_bsn(part) for part in _SEPARATORS.split(value))


def is_reportable_id(value: object) -> bool:
    """True for an event id the hub may use as a key or keep in a status record."""
    return (
        isinstance(value, str)
        and EVENT_ID_PATTERN.fullmatch(value) is not None
        and not has_bsn_part(value)
    )
