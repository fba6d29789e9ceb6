"""How long the contract families keep their routing state (privacy.md, "Retention").

The state must outlive the topics' retention, but not the case: a value is kept until
the configured retention after the case or assignment ends (default two years). Every
clock counts from receipt (``received_on``, ``ended_on``: dates the hub received the
events), never from a date the sender wrote. Each function is a ``StateKind.expired``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from hub.families.state import case_key, request_key, safety_case_key
from hub.routing.retention import RECEIVED, older
from hub.state.store import StateView

__all__ = ["assignment_over", "case_closed", "on_end", "with_case", "with_case_end"]


def on_end(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired the retention after it ended (``ended_on``); kept while it has not ended."""
    return older(value.get("ended_on"), today, retention)


def assignment_over(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired the retention after it ended: stopped or withdrawn (``ended_on``), or its period over.

    An assignment whose period ran out without a stop or a withdrawal has ended too (its
    end date is iWmo's ``Einddatum``); it goes once both its period's end and the last
    event received about it lie the retention back, so that the clock still counts from
    receipt (a late event, or one claiming an old period, keeps it the whole retention).
    """
    if on_end(ident, value, state, today, retention):
        return True
    period = value.get("period")
    end = period.get("end") if isinstance(period, Mapping) else None
    return older(end, today, retention) and older(value.get(RECEIVED), today, retention)


def with_case_end(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired with the case its id names (a case's index of assignments); see ``with_case``."""
    return older(value.get(RECEIVED), today, retention) and _over(ident, state, today, retention)


def with_case(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired the retention after it was last received and after every case it is linked to ended.

    privacy.md keeps state "until a configured time after the case ... ends": a referral
    received long before its case closed stays the retention after that closing. Linked:
    the case the value names, the case of the request a decision answers, the case of the
    safety case a report was handed over as. A case the hub does not know (not opened yet,
    or itself gone) holds nothing back: the value counts from its own receipt.
    """
    if not older(value.get(RECEIVED), today, retention):
        return False
    return all(_over(case_id, state, today, retention) for case_id in _linked_cases(value, state))


def _linked_cases(value: Mapping[str, Any], state: StateView) -> list[str]:
    found = [value["case_id"]] if isinstance(value.get("case_id"), str) else []
    links = [request_key(value["request_id"])] if isinstance(value.get("request_id"), str) else []
    links += [safety_case_key(ident) for ident in value.get("safety_case_ids", ())]
    for key in links:
        linked = state.get(key)
        if linked is not None and isinstance(linked.get("case_id"), str):
            found.append(linked["case_id"])
    return found


def _over(case_id: str, state: StateView, today: date, retention: timedelta) -> bool:
    """True when the case is unknown, or ended the retention ago."""
    case = state.get(case_key(case_id))
    return case is None or older(case.get("ended_on"), today, retention)


def case_closed(value: Mapping[str, Any]) -> bool:
    """A case value written before receipt dates that was already closed."""
    return value.get("closed_on") is not None
