"""The routing state's keys and the shape of their values (docs/state.md describes each).

Values are small JSON objects of identifiers, AGB codes, consent flags, links, periods,
result areas, law, product codes and BSN pseudonyms. Never a name, an address, a birth
date or free text: the state outlives the personal-data topics (privacy.md, "Retention").

Plan content (goal descriptions are free text) is *not* routing state; it is kept in the
separate held-content store under ``plan:<case_id>`` (see ``plan_key``), written from
``Decision.held_changes``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

__all__ = [
    "assignment_key",
    "assignment_request_key",
    "case_assignments_key",
    "case_key",
    "decision_key",
    "is_live",
    "plan_key",
    "referral_key",
    "report_key",
    "request_key",
    "safety_case_key",
    "seen_key",
]

Value = Mapping[str, Any]


def seen_key(source: str, event_id: str) -> str:
    """Duplicate marker for (source, id); hashed so a partner's id text is never a key."""
    digest = hashlib.sha256(f"{source}\n{event_id}".encode()).hexdigest()
    return f"seen:{digest}"


def referral_key(referral_id: str) -> str:
    """A referral: the gp that sent it, its consent flags, its case, its subjects."""
    return f"referral:{referral_id}"


def case_key(case_id: str) -> str:
    """A wijkteam case: its origin links, last plan version, subjects, closing date."""
    return f"case:{case_id}"


def case_assignments_key(case_id: str) -> str:
    """The assignment numbers issued for a case (also before the case itself is known)."""
    return f"case-assignments:{case_id}"


def report_key(report_id: str) -> str:
    """A safety report: its subjects and case."""
    return f"safety-report:{report_id}"


def safety_case_key(safety_case_id: str) -> str:
    """A Veilig Thuis handover: its report and subjects."""
    return f"safety-case:{safety_case_id}"


def request_key(request_id: str) -> str:
    """A provision request of the wijkteam: its case, law and subjects."""
    return f"provision-request:{request_id}"


def decision_key(decision_id: str) -> str:
    """A back-office decision: the request it answers."""
    return f"decision:{decision_id}"


def assignment_key(assignment_number: str) -> str:
    """An assignment: provider, law, product, period, result areas, care start/stop, links."""
    return f"assignment:{assignment_number}"


def assignment_request_key(request_id: str) -> str:
    """A provider's request for an assignment: its provider, law and subjects."""
    return f"assignment-request:{request_id}"


def plan_key(case_id: str) -> str:
    """HELD CONTENT, not routing state: the case's latest plan, for assignments that go live later."""
    return f"plan:{case_id}"


def is_live(assignment: Value) -> bool:
    """Live from its ``new`` until withdrawn or a (not deleted) care stop is recorded."""
    care = assignment.get("care") or {}
    return assignment.get("status") != "withdrawn" and "stopped_on" not in care
