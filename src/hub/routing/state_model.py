"""The routing state's own record: the duplicate marker (docs/state.md).

Everything else in the routing state belongs to a message family and is typed beside its
rules (``hub.families.state``); the engine reads and writes it only through the rules.
"""

from __future__ import annotations

import hashlib
from typing import NotRequired, TypedDict

__all__ = ["SeenMarker", "seen_key"]


class SeenMarker(TypedDict):
    """``seen:<sha256(source, id)>``: the event was processed (duplicate suppression)."""

    received_on: str
    rejected: NotRequired[bool]
    """True when a stateful rule rejected it: an operator's replay may route it after all."""


def seen_key(source: str, event_id: str) -> str:
    """Duplicate marker for (source, id); hashed so a partner's id text is never a key."""
    digest = hashlib.sha256(f"{source}\n{event_id}".encode()).hexdigest()
    return f"seen:{digest}"
