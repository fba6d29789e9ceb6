"""Deterministic ids: a redelivered event yields the same delivery and disclosure ids.

Kafka delivers at least once, so the same inbound event can be decided twice; the ids of
what it releases are derived from what identifies the release, (source, event id,
recipient, the item a per-item delivery is for: an assignment number), never drawn at random. Recipients can then drop a repeat
by ``id`` and the disclosure store can insert idempotently by ``disclosure_id``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TraceContext", "delivery_id", "disclosure_id", "span_id", "trace_context"]

# Fixed namespaces (generated once for this project); changing them changes every id.
_DELIVERY_NAMESPACE = uuid.UUID("5b0e2f4e-8a43-4a63-9d5c-2f9c1f0a7d11")
_DISCLOSURE_NAMESPACE = uuid.UUID("c7d2a9e1-3f5b-4e8c-b6a0-91d4e2f8a356")

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def _name(source: str, event_id: str, recipient: str, item_id: str | None) -> str:
    # The unit separator cannot occur in a URN, an event id of the contract or a slug.
    return "\x1f".join((source, event_id, recipient, item_id or ""))


def _uuid5(namespace: hashlib._Hash, name: str) -> str:
    # uuid.uuid5 by hand, from a SHA-1 already fed the namespace: the same text as
    # str(uuid.uuid5(...)) without building a UUID object (two of these per release).
    digest = namespace.copy()
    digest.update(name.encode())
    raw = bytearray(digest.digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    hex_ = raw.hex()
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


_DELIVERY_SHA1 = hashlib.sha1(_DELIVERY_NAMESPACE.bytes, usedforsecurity=False)
_DISCLOSURE_SHA1 = hashlib.sha1(_DISCLOSURE_NAMESPACE.bytes, usedforsecurity=False)


def delivery_id(source: str, event_id: str, recipient: str, item_id: str | None = None) -> str:
    """The CloudEvent id of one delivery (a UUIDv5)."""
    return _uuid5(_DELIVERY_SHA1, _name(source, event_id, recipient, item_id))


def disclosure_id(
    source: str,
    event_id: str,
    recipient: str,
    item_id: str | None = None,
    *,
    released_by: tuple[str, str] | None = None,
) -> str:
    """The id of the disclosure record of one (event, recipient[, item]) (a UUIDv5).

    ``released_by``: the (source, id) of the event that released a held copy later (a
    replay): that decision is a record of its own.
    """
    name = _name(source, event_id, recipient, item_id)
    if released_by is not None:
        name = "\x1f".join((name, *released_by))
    return _uuid5(_DISCLOSURE_SHA1, name)


def span_id(disclosure: str) -> str:
    """The W3C span id of one disclosure within its event's trace (16 hex, from its id)."""
    value = hashlib.sha256(disclosure.encode()).hexdigest()[:16]
    return value if value != "0" * 16 else "0" * 15 + "1"


@dataclass(frozen=True, slots=True)
class TraceContext:
    """The trace an event belongs to: its trace id, the sender's span, the sampling flags."""

    trace_id: str
    parent_span_id: str | None
    flags: str

    def traceparent(self, span: str) -> str:
        """The traceparent header of a child span of this trace."""
        return f"00-{self.trace_id}-{span}-{self.flags}"


def trace_context(traceparent: str | None, new_trace_id: Callable[[], str]) -> TraceContext:
    """The event's trace from its traceparent, or a new trace (``new_trace_id()``) without one."""
    match = _TRACEPARENT.match(traceparent or "")
    if match is None:
        return TraceContext(new_trace_id(), None, "00")
    return TraceContext(match.group(2), match.group(3), match.group(4))
