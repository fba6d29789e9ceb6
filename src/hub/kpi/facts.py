"""The few facts a flow KPI needs, taken from an inbound event: type, time, ids, team; no personal data.

``fact_of`` reads a structured-mode event (as the inbound adapters give it) from the
partner whose inbound topic it came on, and keeps only what pairs a start with its end:
the id that links them (a referral, case, assignment or safety report), the event's
``time``, a team's name where the event names one, the case an assignment or safety
report belongs to, and a provider's AGB. Everything else of the event is dropped here.

It checks what it keeps (the sender's role and source, identifiers, the time), not the
whole contract: the router validates every event, and the KPIs are steering figures,
not the audit (docs/operations.md, "Flow KPIs").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from hub.connectors.registry import Partner
from hub.envelope import has_bsn_part, is_bsn, parse_time

__all__ = ["KPI_TYPES", "SUBJECT_ONLY", "Budget", "Fact", "fact_of"]

_PREFIX: Final = "nl.sociaaldomein."
_SUFFIX: Final = ".v1"
# The types a KPI reads, with the role that sends each (messages.md).
_SENDER: Final[Mapping[str, str]] = {
    "referrals.submitted": "gp",
    "referrals.status-changed": "swt",
    "cases.opened": "swt",
    "cases.closed": "swt",
    "assignments.issued": "backoffice",
    "care.started": "provider",
    "safety-reports.submitted": "swt",
    "safety-reports.feedback": "veilig-thuis",
    "budgets.status-reported": "backoffice",
}
KPI_TYPES: Final = frozenset(f"{_PREFIX}{short}{_SUFFIX}" for short in _SENDER)
"""The full CloudEvents types the KPIs read; records of other types are not parsed."""

SUBJECT_ONLY: Final[Mapping[str, str]] = {
    f"{_PREFIX}referrals.submitted{_SUFFIX}": "referral_id",
    f"{_PREFIX}cases.closed{_SUFFIX}": "case_id",
    f"{_PREFIX}safety-reports.feedback{_SUFFIX}": "report_id",
}
"""Types whose fact is their subject alone (the contract: subject = this data field), by type.

Binary mode carries the subject, source and time as headers, so these are read without
parsing their data: referrals are the bulk of the traffic.
"""

_IDENT = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Digits, also when written in groups ("111 222 333", "111.222.333"): a BSN as people type it.
_DIGIT_RUNS = re.compile(r"\d(?:[\s.\-_:/]?\d)*")
_NOT_DIGITS = re.compile(r"\D")
# Event times a KPI believes. Outside them a partner's clock or data is wrong, and the
# durations (and working days counted between them) would be nonsense or costly.
_EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
_AHEAD: Final = timedelta(days=1)
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_AGB = re.compile(r"^\d{8}$")
_NUMBER = re.compile(r"^\d{1,8}$")

Pair = Literal["referral", "case", "assignment", "report"]


@dataclass(frozen=True, slots=True)
class Budget:
    """A team's budget position for one month, as the back office reported it (whole cents)."""

    period: str
    budget_cents: int
    committed_cents: int
    spent_cents: int


@dataclass(frozen=True, slots=True)
class Fact:
    """What one event means for the KPIs: a pair starts, completes or is dropped, or a budget."""

    kind: Literal["start", "complete", "drop", "budget"]
    pair: Pair | None
    id: str
    at: datetime
    team: str | None = None
    case_id: str | None = None
    provider: str | None = None
    budget: Budget | None = None


def fact_of(event: Mapping[str, Any], sender: Partner) -> Fact | None:
    """The KPI fact of an event from ``sender``, or None when it has none or is not what it claims."""
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in KPI_TYPES:
        return None
    short = kind[len(_PREFIX) : -len(_SUFFIX)]
    if sender.role != _SENDER[short] or event.get("source") != sender.source:
        return None
    at = _time(event.get("time"))
    data = event.get("data")
    if at is None or not isinstance(data, Mapping):
        return None
    if short == "care.started" and data.get("provider_agb") != sender.agb:
        return None  # only the provider itself says its care started (the router checks too)
    return _READERS[short](data, at)


def _referral_submitted(data: Mapping[str, Any], at: datetime) -> Fact | None:
    ident = _ident(data.get("referral_id"))
    return None if ident is None else Fact("start", "referral", ident, at)


def _referral_status(data: Mapping[str, Any], at: datetime) -> Fact | None:
    ident = _ident(data.get("referral_id"))
    if ident is None or data.get("status") != "intake-scheduled":
        return None
    return Fact("complete", "referral", ident, at, team=_team(data.get("team")))


def _case_opened(data: Mapping[str, Any], at: datetime) -> Fact | None:
    ident = _ident(data.get("case_id"))
    team = _team(data.get("team"))
    return None if ident is None or team is None else Fact("start", "case", ident, at, team=team)


def _case_closed(data: Mapping[str, Any], at: datetime) -> Fact | None:
    ident = _ident(data.get("case_id"))
    return None if ident is None else Fact("complete", "case", ident, at)


def _assignment_issued(data: Mapping[str, Any], at: datetime) -> Fact | None:
    number = data.get("assignment_number")
    if not isinstance(number, str) or not _NUMBER.match(number):
        return None
    status = data.get("status")
    if status == "withdrawn":
        return Fact("drop", "assignment", number, at)
    if status != "new":
        return None
    provider = _agb(data.get("provider_agb"))
    case_id = _ident(data.get("case_id"))
    return Fact("start", "assignment", number, at, case_id=case_id, provider=provider)


def _care_started(data: Mapping[str, Any], at: datetime) -> Fact | None:
    number = data.get("assignment_number")
    if not isinstance(number, str) or not _NUMBER.match(number):
        return None
    # A "deleted" corrects an earlier start; the first start stays the one measured.
    if data.get("delivery_status") != "new":
        return None
    return Fact("complete", "assignment", number, at, provider=_agb(data.get("provider_agb")))


def _report_submitted(data: Mapping[str, Any], at: datetime) -> Fact | None:
    ident = _ident(data.get("report_id"))
    if ident is None:
        return None
    return Fact("start", "report", ident, at, case_id=_ident(data.get("case_id")))


def _report_feedback(data: Mapping[str, Any], at: datetime) -> Fact | None:
    ident = _ident(data.get("report_id"))
    return None if ident is None else Fact("complete", "report", ident, at)


def _budget(data: Mapping[str, Any], at: datetime) -> Fact | None:
    team = _team_name(data.get("team"))
    period = data.get("period")
    figures = [data.get(f) for f in ("budget_cents", "committed_cents", "spent_cents")]
    if team is None or not isinstance(period, str) or not _PERIOD.match(period):
        return None
    if not all(type(f) is int and f >= 0 for f in figures):
        return None
    budget = Budget(period, *(int(f) for f in figures if isinstance(f, int)))
    return Fact("budget", None, team, at, team=team, budget=budget)


_READERS: Final = {
    "referrals.submitted": _referral_submitted,
    "referrals.status-changed": _referral_status,
    "cases.opened": _case_opened,
    "cases.closed": _case_closed,
    "assignments.issued": _assignment_issued,
    "care.started": _care_started,
    "safety-reports.submitted": _report_submitted,
    "safety-reports.feedback": _report_feedback,
    "budgets.status-reported": _budget,
}


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    at = parse_time(value)  # RFC 3339 as validation reads it (``t``/``z`` too, no +01:60)
    if at is None or not _EARLIEST <= at <= datetime.now(UTC) + _AHEAD:
        return None
    return at


def _ident(value: object) -> str | None:
    # An id with a BSN part is refused by the router (BSN_IN_IDENTIFIER) and must not be
    # kept here either: the ledger outlives personal data's retention.
    ok = isinstance(value, str) and _IDENT.match(value) and not has_bsn_part(value)
    return value if ok and isinstance(value, str) else None


def _agb(value: object) -> str | None:
    return value if isinstance(value, str) and _AGB.match(value) else None


# An e-mail address (a domain with a dot); a date (2024-05-01, 2024/5/1, 1-5-2024,
# 01/05/79, 23 april 1979); a postcode with a house number (an address).
_PERSONAL_IN_NAME = re.compile(
    r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"
    r"|\b\d{1,2}\s+(?:jan|feb|maa|mrt|apr|mei|jun|jul|aug|sep|okt|nov|dec)[a-z]*\.?\s+\d{2,4}\b"
    r"|\b[1-9]\d{3}\s?[A-Za-z]{2}\s*\d",
    re.IGNORECASE,
)
# Digits as people group them in a phone number or a BSN: "+31 (0)6 12 34 56 78",
# "(038) 498 76 54", "06 - 12 34 56 78", "999 - 900 - 018".
_WIDE_DIGIT_RUNS = re.compile(r"\d(?:[\s().\-\u2013\u2014/+]{0,4}\d)*")


def _long_number(name: str) -> bool:
    # A phone number has ten digits or more, however grouped; a BSN nine, also grouped; a
    # number of eight or nine digits at once could be a mistyped BSN. Two years
    # ("2023-2024") are none of these.
    for run in _WIDE_DIGIT_RUNS.findall(name):
        digits = _NOT_DIGITS.sub("", run)
        if len(digits) >= 10 or is_bsn(digits) or (len(digits) >= 8 and digits == run):
            return True
    return False


def _team_name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip()
    if not 0 < len(name) <= 200:
        return None
    # A team's name is a metric label, a key of the long-lived KPI topic and a line on a
    # terminal: never one that carries a BSN (also written in groups) or another shape of
    # personal data (an e-mail address, a date, a phone number, a long number, an
    # address's postcode and number), nor control or formatting characters. Years
    # ("2023-2026"), a postcode alone ("8011 AB") and a plain "@" stay names.
    if any(is_bsn(_NOT_DIGITS.sub("", run)) for run in _DIGIT_RUNS.findall(name)):
        return None
    if _PERSONAL_IN_NAME.search(name) or _long_number(name):
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        return None
    return name


def _team(value: object) -> str | None:
    return _team_name(value.get("name")) if isinstance(value, Mapping) else None
