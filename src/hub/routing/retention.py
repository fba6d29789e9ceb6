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

Each kind of value (the key's prefix) expires as the message family that writes it
declares (``StateKind``; docs/state.md, "Retention", lists them): for the contract's
families, an assignment or a case after the retention counted from its end, every other
value after the retention counted from its last ``received_on`` once the case it names
is not open. ``seen:`` markers expire after the inbound retention, counted from
``received_on``. A kind no family declares expires after the retention counted from its
last ``received_on``. The disclosure log's chain heads (``audit-chain:``) never expire.

A value without ``received_on`` was written before the clocks counted from receipt; it
is never judged by its old dates: ``legacy_keys`` names it, and the router stamps it
with the day it first sees it, from which its clock then runs.

Held content (a case's latest plan, with goal texts: personal data) is not routing
state: ``held_sweep`` expires it after the personal-data retention counted from its
receipt, as its topic's retention would, also in a router that ran the whole time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta

from hub.audit.chain import CHAIN_STATE_PREFIX
from hub.connectors.discovery import catalogue
from hub.connectors.family import StateKind
from hub.state.store import StateView, Value

__all__ = ["RECEIVED", "expired_keys", "held_sweep", "legacy_keys", "older"]

RECEIVED = "received_on"
_ENDED = "ended_on"
# The fields that held the sender's dates before the clocks counted from receipt.
_LEGACY = ("seen_on", "updated_on")
_DAY = timedelta(days=1)


def expired_keys(
    state: StateView,
    today: date,
    *,
    retention: timedelta,
    seen_retention: timedelta,
    kinds: Mapping[str, StateKind] | None = None,
    entries: Iterable[tuple[str, Value]] | None = None,
) -> Iterator[str]:
    """Every key whose retention has run out on ``today``.

    One pass over the whole state (``StateView.scan``): memory bounded by the store's
    page, whatever the state's size. ``kinds`` defaults to the families' (the catalogue's).
    ``entries``: judge only these of the state's keys and values (one step of a sweep).
    """
    if kinds is None:
        kinds = catalogue().state_kinds
    for key, value in state.scan() if entries is None else entries:
        if RECEIVED not in value:
            continue  # written before receipt dates: stamped first (legacy_keys)
        prefix, _, ident = key.partition(":")
        if prefix == "seen":
            expired = older(value.get(RECEIVED), today, seen_retention)
        elif prefix == CHAIN_STATE_PREFIX:
            expired = False  # a chain's head: forgetting it would restart the chain at 1
        elif prefix in kinds:
            expired = kinds[prefix].expired(ident, value, state, today, retention)
        else:
            expired = older(value.get(RECEIVED), today, retention)
        if expired:
            yield key


def held_sweep(
    held: StateView, today: date, *, retention: timedelta
) -> tuple[list[str], dict[str, Value]]:
    """The held keys whose personal-data retention ran out, and the unstamped ones stamped today.

    A held plan written before held plans carried ``received_on`` is stamped with the day
    the sweep first sees it (its topic's retention had already been counting; it is kept
    at most that long again).
    """
    expired: list[str] = []
    stamped: dict[str, Value] = {}
    for key, value in held.scan():
        if RECEIVED not in value:
            stamped[key] = {**value, RECEIVED: today.isoformat()}
        elif older(value.get(RECEIVED), today, retention):
            expired.append(key)
    return expired, stamped


def legacy_keys(
    state: StateView,
    today: date,
    *,
    kinds: Mapping[str, StateKind] | None = None,
    entries: Iterable[tuple[str, Value]] | None = None,
) -> Iterator[tuple[str, dict[str, object]]]:
    """Values written before receipt dates, each stamped as received (and, if ended, ended) today.

    ``entries``: as for ``expired_keys``.
    """
    if kinds is None:
        kinds = catalogue().state_kinds
    for key, value in state.scan() if entries is None else entries:
        if RECEIVED in value:
            continue
        stamped = {k: v for k, v in value.items() if k not in _LEGACY}
        stamped[RECEIVED] = today.isoformat()
        kind = kinds.get(key.partition(":")[0])
        if _ENDED in value or (kind is not None and kind.ended(value)):
            stamped[_ENDED] = today.isoformat()
        yield key, stamped


def older(day: object, today: date, retention: timedelta) -> bool:
    """True when ``day`` (an ISO date) lies more than ``retention`` before ``today``.

    The state dates by day, so part of a day counts as a whole one: with 36 hours, a value
    received on the 5th is kept through the 7th (it may have come at 23:59 on the 5th).
    Not a date (absent: not ended, or not dated): False, and the value is kept.
    """
    if not isinstance(day, str):
        return False
    whole_days = -(-retention // _DAY)
    try:
        return date.fromisoformat(day) + whole_days * _DAY < today
    except ValueError:
        return False
