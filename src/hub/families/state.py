"""The message families' routing state: keys and the shape of values (docs/state.md has each).

Values are small JSON objects of identifiers, AGB codes, consent flags, links, periods,
result areas, law, product codes and BSN pseudonyms. Never a name, an address, a birth
date or free text: the state outlives the personal-data topics (privacy.md, "Retention").

Plan content (goal descriptions are free text) is *not* routing state; it is kept in the
separate held-content store under ``plan:<case_id>`` (see ``plan_key``), written from
``Decision.held_changes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

from hub.routing.ids import TraceContext

if TYPE_CHECKING:
    from hub.routing.rules import RuleInput

__all__ = [
    "AssignmentRequestState",
    "AssignmentState",
    "Care",
    "CareStart",
    "CareStop",
    "CaseAssignmentsState",
    "CaseRequestsState",
    "CaseState",
    "DecisionState",
    "HeldPlan",
    "Period",
    "Product",
    "ProvisionRequestState",
    "ReferralState",
    "SafetyCaseState",
    "SafetyReportState",
    "assignment",
    "assignment_key",
    "assignment_request_key",
    "assignments_of_case",
    "care_over",
    "care_starts",
    "care_stopped",
    "case",
    "case_assignments",
    "case_assignments_key",
    "case_key",
    "case_requests",
    "case_requests_key",
    "decision_key",
    "is_live",
    "note_on_case",
    "plan_key",
    "provision_request",
    "referral",
    "referral_key",
    "report",
    "report_key",
    "request_key",
    "safety_case",
    "safety_case_key",
]

Value = Mapping[str, Any]


# ------------------------------------------------------------------ the values, typed
#
# Each value is the JSON object kept in the state store and its changelog topic, written
# by one rule and read by others (the rules of hub.families), typed here once. TypedDicts rather
# than classes: the store holds the objects as read from the changelog, so a read costs
# no conversion, and a value rewritten with ``{**value, ...}`` keeps what it already held.
# ``received_on`` (and ``ended_on``) are stamped for retention (each family's ``StateKind``).


class ReferralState(TypedDict):
    """``referral:<referral_id>``: who referred, the consent given, the case it became."""

    gp_agb: str
    status_feedback: bool
    content_feedback: bool
    subjects: list[str]
    case_id: NotRequired[str]
    received_on: NotRequired[str]


class CaseState(TypedDict):
    """``case:<case_id>``: its household's pseudonyms, origin links, last plan, closing."""

    subjects: list[str]
    referral_id: NotRequired[str]
    safety_case_id: NotRequired[str]
    plan_version: NotRequired[int]
    laws: NotRequired[list[str]]
    """The laws of the provision requests that name the case (its closing's legal basis)."""
    closed_on: NotRequired[str]
    ended_on: NotRequired[str]
    received_on: NotRequired[str]


class CaseRequestsState(TypedDict):
    """``case-requests:<case_id>``: the subjects and laws of provision requests that named the
    case before it was known; folded into the case when it is opened."""

    subjects: list[str]
    laws: list[str]
    received_on: NotRequired[str]


class CaseAssignmentsState(TypedDict):
    """``case-assignments:<case_id>``: the numbers of the assignments issued for the case."""

    assignments: list[str]
    received_on: NotRequired[str]


class SafetyReportState(TypedDict):
    """``safety-report:<report_id>``: its subjects and case."""

    subjects: list[str]
    case_id: NotRequired[str]
    safety_case_ids: NotRequired[list[str]]
    """The Veilig Thuis cases it was handed over as (their cases, for retention)."""
    received_on: NotRequired[str]


class SafetyCaseState(TypedDict):
    """``safety-case:<safety_case_id>``: its report, subjects and case."""

    subjects: list[str]
    report_id: NotRequired[str]
    case_id: NotRequired[str]
    received_on: NotRequired[str]


class ProvisionRequestState(TypedDict):
    """``provision-request:<request_id>``: its case, law and subjects."""

    case_id: str
    law: str
    subjects: list[str]
    received_on: NotRequired[str]


class DecisionState(TypedDict):
    """``decision:<decision_id>``: the request it answers."""

    request_id: str
    received_on: NotRequired[str]


class Product(TypedDict):
    """An assignment's product: category and code."""

    category: str
    code: NotRequired[str]


class Period(TypedDict):
    """An assignment's period (ISO dates)."""

    start: str
    end: NotRequired[str | None]


class CareStop(TypedDict):
    """A stop of a start, as ``care.stopped`` reported it."""

    stopped_on: str
    stop_reason: str


class CareStart(TypedDict):
    """A start of the care, as ``care.started`` reported it, and its stops (not deleted).

    ``started_on`` None: a stop whose start an earlier version let be deleted under it.
    """

    started_on: str | None
    stops: list[CareStop]


class Care(TypedDict, total=False):
    """What the provider reported of the care: its starts, each with its stops.

    As iWmo keeps a provider's deliveries (iwmo.md, section 5): care may be started again
    after a stop, a temporary stop (reason ``20``) may be followed by another stop of the
    same start, and a correction deletes the start or stop it corrects. Deleted ones are
    not kept. Read through ``care_starts``: values written before starts were kept hold
    ``started_on``, ``stopped_on`` and ``stop_reason`` of one start instead.
    """

    starts: list[CareStart]
    started_on: str
    stopped_on: str
    stop_reason: str


class AssignmentState(TypedDict):
    """``assignment:<number>``: everything the care rules check, and the last plan it got."""

    provider_agb: str
    status: str
    law: str
    product: Product
    period: Period
    result_areas: list[str]
    decision_id: str
    subjects: list[str]
    care: Care
    plan_version: int
    client: NotRequired[str]
    """The pseudonym of ``client.bsn`` alone (``subjects`` also has a legal representative's);
    absent in values written before it was kept."""
    plan_case: NotRequired[str]
    """The case whose plan ``plan_version`` counts (absent: its ``case_id`` then)."""
    case_id: NotRequired[str]
    ended_on: NotRequired[str]
    received_on: NotRequired[str]


class AssignmentRequestState(TypedDict):
    """``assignment-request:<request_id>``: the requesting provider, law and subjects."""

    provider_agb: str
    law: str
    subjects: list[str]
    received_on: NotRequired[str]


# ------------------------------------------------------------------ the keys


def referral_key(referral_id: str) -> str:
    """A referral: the gp that sent it, its consent flags, its case, its subjects."""
    return f"referral:{referral_id}"


def case_key(case_id: str) -> str:
    """A wijkteam case: its origin links, last plan version, subjects, closing date."""
    return f"case:{case_id}"


def case_requests_key(case_id: str) -> str:
    """What provision requests noted for a case the hub did not know yet."""
    return f"case-requests:{case_id}"


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


def care_starts(assignment: Mapping[str, Any]) -> list[CareStart]:
    """The assignment's starts, oldest first, each with its stops: a copy to change."""
    care = assignment.get("care") or {}
    if "starts" in care:
        return [
            CareStart(started_on=start["started_on"], stops=list(start["stops"]))
            for start in care["starts"]
        ]
    # A value written before starts were kept: one start and its stop, either may be absent.
    stops = []
    if "stopped_on" in care:
        stops.append(
            CareStop(stopped_on=care["stopped_on"], stop_reason=care.get("stop_reason", ""))
        )
    if "started_on" not in care and not stops:
        return []
    return [CareStart(started_on=care.get("started_on"), stops=stops)]


def care_stopped(starts: list[CareStart]) -> bool:
    """True when a stop (not deleted) is recorded: privacy.md ends a live assignment there."""
    return any(start["stops"] for start in starts)


def care_over(starts: list[CareStart]) -> bool:
    """True when care was started and every start has a stop: nothing is delivered any more.

    The assignment's end for retention (``ended_on``); care started again after a stop is
    not over, though the assignment is no longer live (``care_stopped``).
    """
    return bool(starts) and all(start["stops"] for start in starts)


def is_live(assignment: AssignmentState) -> bool:
    """Live from its ``new`` until withdrawn or a care stop (not deleted) is recorded (privacy.md)."""
    return assignment.get("status") != "withdrawn" and not care_stopped(care_starts(assignment))


@dataclass(frozen=True, slots=True)
class HeldPlan:
    """HELD CONTENT under ``plan:<case_id>``: a case's latest plan as a provider may yet receive it.

    Written by the rules when a plan is updated, read back when an assignment of the case
    goes live later; ``to_value``/``from_value`` are the JSON object of the held topic.
    """

    event_id: str
    source: str
    type: str
    time: str
    subject: str
    dataschema: str | None
    trace: TraceContext
    plan_version: int
    data: Mapping[str, Any]
    omitted: tuple[str, ...]
    """Paths of the plan the held copy does not keep (reported as withheld on replay)."""

    def to_value(self) -> dict[str, Any]:
        """The JSON object kept in the held-content store and topic."""
        return {
            "event_id": self.event_id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "subject": self.subject,
            "dataschema": self.dataschema,
            "trace_id": self.trace.trace_id,
            "parent_span_id": self.trace.parent_span_id,
            "trace_flags": self.trace.flags,
            "plan_version": self.plan_version,
            "data": self.data,
            "omitted": list(self.omitted),
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> HeldPlan:
        """The plan in a held-content value (as ``to_value`` writes it)."""
        return cls(
            event_id=str(value["event_id"]),
            source=str(value["source"]),
            type=str(value["type"]),
            time=str(value["time"]),
            subject=str(value["subject"]),
            dataschema=value.get("dataschema"),
            trace=TraceContext(
                str(value["trace_id"]),
                value.get("parent_span_id"),
                str(value.get("trace_flags", "00")),
            ),
            plan_version=int(value["plan_version"]),
            data=value["data"],
            omitted=tuple(value.get("omitted", ())),
        )


# ------------------------------------------------------------------ reading, typed
#
# The state as each rule reads it (``RuleInput.get``: the event's own earlier changes
# first), as the values typed above.


def referral(item: RuleInput, referral_id: str) -> ReferralState | None:
    """The referral ``referral_id``, if known."""
    return cast("ReferralState | None", item.get(referral_key(referral_id)))


def case(item: RuleInput, case_id: str) -> CaseState | None:
    """The case ``case_id``, if known."""
    return cast("CaseState | None", item.get(case_key(case_id)))


def note_on_case(item: RuleInput, case_id: str, subjects: Iterable[str], law: object) -> None:
    """Note on the case the subjects and law of a provision request that names it.

    privacy.md: a disclosure concerns the BSNs "in the event or linked to it through
    state", and its basis follows the law "of its linked request or assignment": the
    case's closing concerns its requests' and assignments' clients, under their laws.
    A request and its case's opening travel under different keys, so the request may
    come first: then the note waits under ``case-requests:`` until the case is opened.
    """
    known: CaseState | CaseRequestsState | None = case(item, case_id)
    key = case_key(case_id)
    if known is None:
        known, key = (
            case_requests(item, case_id) or {"subjects": [], "laws": []},
            case_requests_key(case_id),
        )
    noted = sorted({*known.get("subjects", ()), *subjects})
    laws = sorted({*known.get("laws", ()), *([law] if isinstance(law, str) else [])})
    if noted != known.get("subjects") or laws != known.get("laws", []):
        item.put(key, item.stamp({**known, "subjects": noted, "laws": laws}))


def case_requests(item: RuleInput, case_id: str) -> CaseRequestsState | None:
    """What provision requests noted for ``case_id`` before it was known, if anything."""
    return cast("CaseRequestsState | None", item.get(case_requests_key(case_id)))


def report(item: RuleInput, report_id: str) -> SafetyReportState | None:
    """The safety report ``report_id``, if known."""
    return cast("SafetyReportState | None", item.get(report_key(report_id)))


def safety_case(item: RuleInput, safety_case_id: str) -> SafetyCaseState | None:
    """The safety case ``safety_case_id``, if known."""
    return cast("SafetyCaseState | None", item.get(safety_case_key(safety_case_id)))


def provision_request(item: RuleInput, request_id: str) -> ProvisionRequestState | None:
    """The provision request ``request_id``, if known."""
    return cast("ProvisionRequestState | None", item.get(request_key(request_id)))


def assignment(item: RuleInput, number: str) -> AssignmentState | None:
    """The assignment ``number``, if issued."""
    return cast("AssignmentState | None", item.get(assignment_key(number)))


def case_assignments(item: RuleInput, case_id: str) -> CaseAssignmentsState | None:
    """The index of the assignments issued for case ``case_id``, if any."""
    return cast("CaseAssignmentsState | None", item.get(case_assignments_key(case_id)))


def assignments_of_case(item: RuleInput, case_id: str) -> Iterator[tuple[str, AssignmentState]]:
    """Every assignment issued for the case that still names it, with its number."""
    index = case_assignments(item, case_id)
    for number in index.get("assignments", ()) if index is not None else ():
        value = assignment(item, number)
        if value is not None and value.get("case_id") == case_id:
            yield number, value
