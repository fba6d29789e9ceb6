"""Which routing-state keys have outlived their retention (privacy.md, "Retention").

The routing state must outlive the topics' retention, but not the case: it is kept
until a configured time after the case or assignment ends (default two years). Dedupe
markers are needed only while an event can still be redelivered, which is the inbound
topics' retention. ``expired_keys`` is pure; the router writes a tombstone for each key
it returns, in a transaction of its own, so the compacted changelog forgets them too.

Rules (docs/state.md, "Retention"):

- ``seen:`` after the inbound retention, counted from ``seen_on``;
- ``assignment:`` after the retention, counted from ``ended_on`` (withdrawn or stopped);
  a live assignment is kept;
- ``case:`` and its ``case-assignments:`` after the retention, counted from ``closed_on``;
  an open case is kept;
- every other key (referral, provision request, decision, safety report and case,
  assignment request) after the retention counted from its last ``updated_on``, and only
  when the case it names, if any, is not open.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from hub.routing.state_model import case_key
from hub.state.store import StateView, Value

__all__ = ["expired_keys"]

_ENDS = {"assignment": "ended_on", "case": "closed_on"}


def expired_keys(
    state: StateView, today: date, *, retention: timedelta, seen_retention: timedelta
) -> Iterator[str]:
    """Every key whose retention has run out on ``today``."""
    for key in state.keys_with_prefix(""):
        value = state.get(key)
        if value is not None and _expired(key, value, state, today, retention, seen_retention):
            yield key


def _expired(
    key: str,
    value: Value,
    state: StateView,
    today: date,
    retention: timedelta,
    seen_retention: timedelta,
) -> bool:
    kind, _, ident = key.partition(":")
    if kind == "seen":
        return _older(value.get("seen_on"), today, seen_retention)
    if kind in _ENDS:
        return _older(value.get(_ENDS[kind]), today, retention)
    if kind == "case-assignments":
        case = state.get(case_key(ident))
        return case is None or _older(case.get("closed_on"), today, retention)
    if not _older(value.get("updated_on"), today, retention):
        return False
    case_id = value.get("case_id")
    case = state.get(case_key(case_id)) if isinstance(case_id, str) else None
    return case is None or case.get("closed_on") is not None


def _older(day: object, today: date, retention: timedelta) -> bool:
    if not isinstance(day, str):
        return False  # not ended (or not dated): kept
    try:
        return date.fromisoformat(day) + retention < today
    except ValueError:
        return False
