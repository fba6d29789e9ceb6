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

from hub.families.state import case_key
from hub.routing.retention import RECEIVED, older
from hub.state.store import StateView

__all__ = ["case_closed", "on_end", "with_case", "with_case_end"]


def on_end(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired the retention after it ended (``ended_on``); kept while it has not ended."""
    return older(value.get("ended_on"), today, retention)


def with_case_end(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired with the case its id names (a case's index of assignments); see ``with_case``."""
    return _linked_case_over(ident, value, state, today, retention)


def with_case(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired the retention after it was last received and after the case it names ended.

    A value that names no case, or a case the hub does not know (not opened yet, or
    itself gone), counts from its own receipt alone.
    """
    case_id = value.get("case_id")
    return _linked_case_over(
        case_id if isinstance(case_id, str) else None, value, state, today, retention
    )


def _linked_case_over(
    case_id: str | None,
    value: Mapping[str, Any],
    state: StateView,
    today: date,
    retention: timedelta,
) -> bool:
    # privacy.md: kept "until a configured time after the case ... ends": a referral
    # received long before its case closed stays the retention after that closing.
    if not older(value.get(RECEIVED), today, retention):
        return False
    case = state.get(case_key(case_id)) if case_id is not None else None
    return case is None or older(case.get("ended_on"), today, retention)


def case_closed(value: Mapping[str, Any]) -> bool:
    """A case value written before receipt dates that was already closed."""
    return value.get("closed_on") is not None
