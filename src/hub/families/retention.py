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
    """Expired with the case its id names: the retention after the case ended, or no case."""
    case = state.get(case_key(ident))
    return case is None or older(case.get("ended_on"), today, retention)


def with_case(
    ident: str, value: Mapping[str, Any], state: StateView, today: date, retention: timedelta
) -> bool:
    """Expired the retention after it was last received, once the case it names is not open."""
    if not older(value.get(RECEIVED), today, retention):
        return False
    case_id = value.get("case_id")
    case = state.get(case_key(case_id)) if isinstance(case_id, str) else None
    return case is None or case.get("closed_on") is not None


def case_closed(value: Mapping[str, Any]) -> bool:
    """A case value written before receipt dates that was already closed."""
    return value.get("closed_on") is not None
