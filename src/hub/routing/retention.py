"""Which routing-state keys have outlived their retention (privacy.md, "Retention").

The routing state must outlive the topics' retention, but not the case: it is kept
until a configured time after the case or assignment ends (default two years). Dedupe
markers are needed only while an event can still be redelivered, which is the inbound
topics' retention. ``expired_keys`` is pure; the router writes a tombstone for each key
it returns, in a transaction of its own, so the compacted changelog forgets them too.

Every clock counts from receipt: ``received_on`` is the date the hub received the event
that last changed a value, ``ended_on`` the date it received the one that ended an
assignment or closed a case. Never the event's own ``time`` or a date in its data, which
are the sender's claims (messages.md, "Rules that need state").

Rules (docs/state.md, "Retention"):

- ``seen:`` after the inbound retention, counted from ``received_on``;
- ``assignment:`` after the retention, counted from ``ended_on`` (withdrawn or stopped);
  a live assignment is kept;
- ``case:`` and its ``case-assignments:`` after the retention, counted from the case's
  ``ended_on`` (closed); an open case is kept;
- every other key (referral, provision request, decision, safety report and case,
  assignment request) after the retention counted from its last ``received_on``, and only
  when the case it names, if any, is not open.

A value without ``received_on`` was written before the clocks counted from receipt; it
is never judged by its old dates: ``legacy_keys`` names it, and the router stamps it
with the day it first sees it, from which its clock then runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from hub.routing.state_model import case_key
from hub.state.store import StateView, Value

__all__ = ["expired_keys", "legacy_keys"]

_RECEIVED = "received_on"
_ENDED = "ended_on"
_ENDS = ("assignment", "case")
# The fields that held the sender's dates before the clocks counted from receipt.
_LEGACY = ("seen_on", "updated_on")


def expired_keys(
    state: StateView, today: date, *, retention: timedelta, seen_retention: timedelta
) -> Iterator[str]:
    """Every key whose retention has run out on ``today``.

    One pass over the whole state (``StateView.scan``): memory bounded by the store's
    page, whatever the state's size. Only the case a key names is looked up.
    """
    for key, value in state.scan():
        if _expired(key, value, state, today, retention, seen_retention):
            yield key


def _expired(
    key: str,
    value: Value,
    state: StateView,
    today: date,
    retention: timedelta,
    seen_retention: timedelta,
) -> bool:
    if _RECEIVED not in value:
        return False  # written before receipt dates: stamped first (legacy_keys)
    kind, _, ident = key.partition(":")
    if kind == "seen":
        return _older(value.get(_RECEIVED), today, seen_retention)
    if kind in _ENDS:
        return _older(value.get(_ENDED), today, retention)
    if kind == "case-assignments":
        case = state.get(case_key(ident))
        return case is None or _older(case.get(_ENDED), today, retention)
    if not _older(value.get(_RECEIVED), today, retention):
        return False
    case_id = value.get("case_id")
    case = state.get(case_key(case_id)) if isinstance(case_id, str) else None
    return case is None or case.get("closed_on") is not None


def legacy_keys(state: StateView, today: date) -> Iterator[tuple[str, dict[str, object]]]:
    """Values written before receipt dates, each stamped as received (and, if ended, ended) today."""
    for key, value in state.scan():
        if _RECEIVED in value:
            continue
        stamped = {k: v for k, v in value.items() if k not in _LEGACY}
        stamped[_RECEIVED] = today.isoformat()
        if _ENDED in value or value.get("closed_on") is not None:
            stamped[_ENDED] = today.isoformat()
        yield key, stamped


def _older(day: object, today: date, retention: timedelta) -> bool:
    if not isinstance(day, str):
        return False  # not ended (or not dated): kept
    try:
        return date.fromisoformat(day) + retention < today
    except ValueError:
        return False
