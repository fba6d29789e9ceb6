"""The rules that need state (messages.md), and what each accepted event changes in it.

One function per type reads the state, rejects the event with path, code and sentence
when a rule is broken, and otherwise records the state changes and the facts routing
needs (the law, the data subjects, the referral, the live assignments). Sentences never
hold values. Duplicate suppression by (source, id) happens before (``process``).

Provider isolation: an assignment issued to another provider is answered exactly as an
unknown one (same path, code and sentence), so probing numbers reveals nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar, cast

from hub.connectors.registry import Partner
from hub.errors import ErrorCode, ErrorDetail
from hub.privacy.policy import Selector
from hub.privacy.project import ObjectNode, bsn_paths, bsns, project, schema_tree
from hub.routing.context import RoutingContext
from hub.routing.ids import TraceContext
from hub.routing.state_model import (
    AssignmentRequestState,
    AssignmentState,
    Care,
    CaseAssignmentsState,
    CaseState,
    DecisionState,
    HeldPlan,
    Period,
    Product,
    ProvisionRequestState,
    ReferralState,
    SafetyCaseState,
    SafetyReportState,
    assignment_key,
    assignment_request_key,
    case_assignments_key,
    case_key,
    decision_key,
    is_live,
    plan_key,
    referral_key,
    report_key,
    request_key,
    safety_case_key,
)
from hub.schemas import LAW_CATEGORIES, STOP_REASONS, TYPES, ValidEvent
from hub.state.store import StateView

__all__ = ["Facts", "Ruling", "apply_rules"]

Value = Mapping[str, Any]
_V = TypeVar("_V", bound=Mapping[str, Any])

# One sentence for "unknown" and "another provider's": the two must be indistinguishable.
_NOT_YOUR_ASSIGNMENT = (
    "No assignment with this assignment_number is issued to the sending provider."
)


@dataclass(slots=True)
class Facts:
    """What routing needs to know about an accepted event's links."""

    law: str | None = None
    subjects: set[str] = field(default_factory=set)
    referral: ReferralState | None = None
    live_assignments: list[tuple[str, AssignmentState]] = field(default_factory=list)
    # (assignment number, its state) that just went live and get the case's held plan now
    plan_replays: list[tuple[str, AssignmentState]] = field(default_factory=list)
    replay_plan: HeldPlan | None = None


@dataclass(slots=True)
class Ruling:
    """The verdict on one event: errors, or the state changes and facts of an accepted event."""

    errors: list[ErrorDetail] = field(default_factory=list)
    unroutable: bool = False
    changes: dict[str, Value | None] = field(default_factory=dict)
    held: dict[str, Value | None] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)


@dataclass(slots=True)
class _Input:
    event: ValidEvent
    data: Mapping[str, Any]
    state: StateView
    held: StateView | None
    ctx: RoutingContext
    sender: Partner | None
    ruling: Ruling
    trace: TraceContext
    received_on: str
    _subjects: frozenset[str] | None = None

    def get(self, key: str) -> Value | None:
        """The state as this event sees it: its own earlier changes first."""
        if key in self.ruling.changes:
            return self.ruling.changes[key]
        return self.state.get(key)

    def put(self, key: str, value: Value | None) -> None:
        self.ruling.changes[key] = value

    def stamp(self, value: _V) -> _V:
        """A copy of a state value marked with the date the hub received this event (for retention)."""
        return cast(_V, {**value, "received_on": self.received_on})

    def is_new(self, key: str, path: str, message: str) -> bool:
        """True when key is not in the state yet; else the event is rejected as ID_ALREADY_KNOWN."""
        if self.get(key) is None:
            return True
        self.reject(path, ErrorCode.ID_ALREADY_KNOWN, message)
        return False

    def reject(self, path: str, code: ErrorCode, message: str) -> None:
        self.ruling.errors.append(ErrorDetail(path, code, message))

    def unroutable(self, path: str, message: str) -> None:
        self.ruling.unroutable = True
        self.reject(path, ErrorCode.UNKNOWN_REFERENCE, message)

    def own_subjects(self) -> frozenset[str]:
        """Pseudonyms of the BSNs in this event; computed once, along the type's BSN paths."""
        if self._subjects is None:
            found = bsns(self.data, _bsn_paths(self.event.type))
            self._subjects = frozenset(self.ctx.pseudonymise(bsn) for bsn in found)
        return self._subjects


def apply_rules(
    event: ValidEvent,
    data: Mapping[str, Any],
    state: StateView,
    ctx: RoutingContext,
    trace: TraceContext,
    *,
    held: StateView | None = None,
    received_on: str,
) -> Ruling:
    """Check the stateful rules for one valid event and work out its state changes.

    ``received_on`` (ISO date) is when the hub received the event: state values are stamped
    with it, never with the event's own ``time`` (a sender's claim).
    """
    sender = ctx.registry.by_source(event.source)
    ruling = Ruling()
    item = _Input(event, data, state, held, ctx, sender, ruling, trace, received_on)
    ruling.facts.subjects |= item.own_subjects()
    law = data.get("law")
    ruling.facts.law = law if isinstance(law, str) else None
    _RULES.get(event.spec.short_name, _no_rules)(item)
    if ruling.errors:
        # A rejected event changes nothing (process() still records that it was seen).
        ruling.changes.clear()
        ruling.held.clear()
    return ruling


def _no_rules(item: _Input) -> None:
    """Types without stateful rules or state (budgets)."""


# The state as each rule reads it: the values typed once in state_model.


def _referral(item: _Input, referral_id: str) -> ReferralState | None:
    return cast("ReferralState | None", item.get(referral_key(referral_id)))


def _case(item: _Input, case_id: str) -> CaseState | None:
    return cast("CaseState | None", item.get(case_key(case_id)))


def _report(item: _Input, report_id: str) -> SafetyReportState | None:
    return cast("SafetyReportState | None", item.get(report_key(report_id)))


def _safety_case(item: _Input, safety_case_id: str) -> SafetyCaseState | None:
    return cast("SafetyCaseState | None", item.get(safety_case_key(safety_case_id)))


def _request(item: _Input, request_id: str) -> ProvisionRequestState | None:
    return cast("ProvisionRequestState | None", item.get(request_key(request_id)))


def _assignment(item: _Input, number: str) -> AssignmentState | None:
    return cast("AssignmentState | None", item.get(assignment_key(number)))


def _case_assignments(item: _Input, case_id: str) -> CaseAssignmentsState | None:
    return cast("CaseAssignmentsState | None", item.get(case_assignments_key(case_id)))


# --------------------------------------------------------------------------- referrals


def _referral_submitted(item: _Input) -> None:
    key = referral_key(item.data["referral_id"])
    if not item.is_new(
        key, "data.referral_id", "A referral with this referral_id was already submitted."
    ):
        return
    consent = item.data["consent"]
    referral = ReferralState(
        gp_agb=item.data["referrer"]["agb"],
        status_feedback=bool(consent["status_feedback"]),
        content_feedback=bool(consent.get("content_feedback", False)),
        subjects=sorted(item.own_subjects()),
    )
    item.put(key, item.stamp(referral))


def _referral_status_changed(item: _Input) -> None:
    referral_id = item.data["referral_id"]
    referral = _referral(item, referral_id)
    if referral is None:
        item.unroutable("data.referral_id", "No referral with this referral_id is known.")
        return
    item.ruling.facts.referral = referral
    item.ruling.facts.subjects |= set(referral.get("subjects", ()))
    case_id = item.data.get("case_id")
    if case_id is not None and referral.get("case_id") != case_id:
        updated: ReferralState = {**referral, "case_id": case_id}
        item.put(referral_key(referral_id), item.stamp(updated))


# --------------------------------------------------------------------------- cases


def _case_opened(item: _Input) -> None:
    case_id = item.data["case_id"]
    known = _case(item, case_id)
    case: CaseState = {**known} if known is not None else {"subjects": []}
    case["subjects"] = sorted(set(case.get("subjects", ())) | item.own_subjects())
    origin = item.data.get("origin") or {}
    referral_id = origin.get("referral_id")
    if referral_id is not None:
        case["referral_id"] = referral_id
        _link_to_case(item, referral_key(referral_id), case_id)
    safety_case_id = origin.get("safety_case_id")
    if safety_case_id is not None:
        case["safety_case_id"] = safety_case_id
        _link_to_case(item, safety_case_key(safety_case_id), case_id)
    item.put(case_key(case_id), item.stamp(case))


def _link_to_case(item: _Input, key: str, case_id: str) -> None:
    """Record the case a referral or safety case became (both keep it as ``case_id``)."""
    linked = item.get(key)
    if linked is not None and linked.get("case_id") != case_id:
        item.put(key, item.stamp({**linked, "case_id": case_id}))


def _case_plan_updated(item: _Input) -> None:
    case_id = item.data["case_id"]
    case = _case(item, case_id)
    if case is None:
        item.unroutable("data.case_id", "No case with this case_id is known.")
        return
    version = item.data["plan_version"]
    if version <= int(case.get("plan_version", 0)):
        item.reject(
            "data.plan_version",
            ErrorCode.PLAN_VERSION_NOT_NEWER,
            "The plan_version must be higher than the last one the hub saw for this case.",
        )
        return
    updated: CaseState = {**case, "plan_version": version}
    item.put(case_key(case_id), item.stamp(updated))
    item.ruling.facts.subjects |= set(case.get("subjects", ()))
    for number, assignment in _assignments_of_case(item, case_id):
        if is_live(assignment):
            planned: AssignmentState = {**assignment, "plan_version": version}
            planned = item.stamp(planned)
            item.put(assignment_key(number), planned)
            item.ruling.facts.live_assignments.append((number, planned))
    _hold_plan(item, case_id, version)


def _hold_plan(item: _Input, case_id: str, version: int) -> None:
    """Keep what a provider may yet receive of this plan, for assignments that go live later."""
    if item.held is None:
        return
    held_fields = item.ctx.policy.held_projection(item.event.type)
    if held_fields is None:
        return
    # Goals without a result area go to no provider: the held copy does not keep them.
    kept = project(item.data, held_fields, {"goals": lambda goal: "result_area" in goal})
    event = item.event
    item.ruling.held[plan_key(case_id)] = HeldPlan(
        event_id=event.id,
        source=event.source,
        type=event.type,
        time=event.time.isoformat(),
        subject=event.subject,
        dataschema=event.dataschema,
        trace=item.trace,
        plan_version=version,
        data=kept.payload,
        omitted=kept.withheld,
    ).to_value()


def _case_closed(item: _Input) -> None:
    case_id = item.data["case_id"]
    case = _case(item, case_id)
    if case is not None:
        item.ruling.facts.subjects |= set(case.get("subjects", ()))
        closed: CaseState = {
            **case,
            "closed_on": item.data["closed_on"],
            "ended_on": item.received_on,
        }
        item.put(case_key(case_id), item.stamp(closed))
    if item.held is not None:
        item.ruling.held[plan_key(case_id)] = None  # a closed case gets no more plans


def _assignments_of_case(item: _Input, case_id: str) -> Iterator[tuple[str, AssignmentState]]:
    index = _case_assignments(item, case_id)
    for number in index.get("assignments", ()) if index is not None else ():
        assignment = _assignment(item, number)
        if assignment is not None and assignment.get("case_id") == case_id:
            yield number, assignment


# --------------------------------------------------------------------------- safety


def _safety_report_submitted(item: _Input) -> None:
    key = report_key(item.data["report_id"])
    if not item.is_new(
        key, "data.report_id", "A safety report with this report_id was already submitted."
    ):
        return
    report = SafetyReportState(subjects=sorted(item.own_subjects()))
    if "case_id" in item.data:
        report["case_id"] = item.data["case_id"]
    item.put(key, item.stamp(report))


def _safety_report_feedback(item: _Input) -> None:
    report = _report(item, item.data["report_id"])
    if report is None:
        item.unroutable("data.report_id", "No safety report with this report_id is known.")
        return
    item.ruling.facts.subjects |= set(report.get("subjects", ()))


def _safety_case_handed_over(item: _Input) -> None:
    safety_case_id = item.data["safety_case_id"]
    known = _safety_case(item, safety_case_id)
    # A copy, or a new value whose keys come in the order they are set (as always written).
    value = cast(SafetyCaseState, dict(known or {}))
    subjects = set(value.get("subjects", ())) | item.own_subjects()
    report_id = item.data.get("report_id")
    if report_id is not None:
        value["report_id"] = report_id
        report = _report(item, report_id)
        if report is not None:
            subjects |= set(report.get("subjects", ()))
    item.ruling.facts.subjects |= subjects
    value["subjects"] = sorted(subjects)
    item.put(safety_case_key(safety_case_id), item.stamp(value))


# --------------------------------------------------------------------------- provisions


def _provision_requested(item: _Input) -> None:
    key = request_key(item.data["request_id"])
    if not item.is_new(
        key, "data.request_id", "A provision request with this request_id was already submitted."
    ):
        return
    request = ProvisionRequestState(
        case_id=item.data["case_id"], law=item.data["law"], subjects=sorted(item.own_subjects())
    )
    item.put(key, item.stamp(request))


def _provision_decided(item: _Input) -> None:
    request_id = item.data["request_id"]
    request = _request(item, request_id)
    if request is None:
        item.unroutable("data.request_id", "No provision request with this request_id is known.")
        return
    law = request.get("law")
    item.ruling.facts.law = law
    item.ruling.facts.subjects |= set(request.get("subjects", ()))
    product = item.data.get("product")
    if isinstance(law, str) and product is not None:
        _check_category(item, law, product)
    decision = DecisionState(request_id=request_id)
    item.put(decision_key(item.data["decision_id"]), item.stamp(decision))


def _check_category(item: _Input, law: str, product: Mapping[str, Any]) -> None:
    if product.get("category") not in LAW_CATEGORIES.get(law, frozenset()):
        item.reject(
            "data.product.category",
            ErrorCode.CATEGORY_LAW_MISMATCH,
            "The product category does not belong to the law of the request or assignment "
            "(Wmo 01-18, Jeugdwet 40-55, Participatiewet P1-P9).",
        )


# --------------------------------------------------------------------------- assignments


# --------------------------------------------------------------------------- assignments


def _assignment_issued(item: _Input) -> None:
    data = item.data
    number = data["assignment_number"]
    key = assignment_key(number)
    known = _assignment(item, number)
    status = data["status"]
    provider = item.ctx.registry.by_agb(data["provider_agb"])
    if status == "new":
        if known is not None:
            item.reject(
                "data.assignment_number",
                ErrorCode.ID_ALREADY_KNOWN,
                "An assignment with this assignment_number was already issued.",
            )
    elif known is None:
        item.reject(
            "data.assignment_number",
            ErrorCode.ASSIGNMENT_UNKNOWN,
            "No assignment with this assignment_number was issued; issue it with status new first.",
        )
    elif known.get("status") == "withdrawn":
        item.reject(
            "data.status",
            ErrorCode.ASSIGNMENT_WITHDRAWN,
            "This assignment was withdrawn; nothing may follow a withdrawal.",
        )
    elif known.get("provider_agb") != data["provider_agb"]:
        item.reject(
            "data.provider_agb",
            ErrorCode.PROVIDER_CHANGED,
            "The provider of an assignment cannot change; withdraw it and issue a new one.",
        )
    if provider is None or not item.ctx.registry.is_reached_through(
        provider, Selector.ASSIGNED_PROVIDER
    ):
        item.reject(
            "data.provider_agb",
            ErrorCode.PROVIDER_UNKNOWN,
            "The provider_agb is not that of a registered provider.",
        )
    if item.ruling.errors:
        return

    value = AssignmentState(
        provider_agb=data["provider_agb"],
        status=status,
        law=data["law"],
        product=cast(Product, dict(data["product"])),
        period=cast(Period, dict(data["period"])),
        result_areas=list(data["result_areas"]),
        decision_id=data["decision_id"],
        subjects=sorted(item.own_subjects()),
        care=Care(**(known.get("care") or {})) if known is not None else Care(),
        plan_version=int(known.get("plan_version", 0)) if known is not None else 0,
    )
    if "case_id" in data:
        value["case_id"] = data["case_id"]
    if status == "withdrawn":
        value["ended_on"] = item.received_on
    old_case = known.get("case_id") if known is not None else None
    new_case = value.get("case_id")
    if old_case != new_case:
        _index_assignment(item, old_case, number, add=False)
        _index_assignment(item, new_case, number, add=True)
    if status == "new":
        value = _replay_plan_if_newer(item, number, value)
    item.put(key, item.stamp(value))


def _index_assignment(item: _Input, case_id: str | None, number: str, *, add: bool) -> None:
    if case_id is None:
        return
    index = _case_assignments(item, case_id)
    numbers = list(index.get("assignments", ())) if index is not None else []
    if add and number not in numbers:
        numbers.append(number)
    elif not add and number in numbers:
        numbers.remove(number)
    indexed = CaseAssignmentsState(assignments=numbers)
    item.put(case_assignments_key(case_id), item.stamp(indexed) if numbers else None)


def _replay_plan_if_newer(item: _Input, number: str, value: AssignmentState) -> AssignmentState:
    """An assignment that goes live after its case's latest plan gets that plan now."""
    case_id = value.get("case_id")
    if case_id is None or item.held is None or not is_live(value):
        return value
    held = item.held.get(plan_key(case_id))
    plan = None if held is None else HeldPlan.from_value(held)
    if plan is None or plan.plan_version <= int(value.get("plan_version", 0)):
        return value
    value = {**value, "plan_version": plan.plan_version}
    item.ruling.facts.replay_plan = plan
    item.ruling.facts.plan_replays.append((number, value))
    return value


# --------------------------------------------------------------------------- care


def _own_assignment(item: _Input) -> tuple[str, AssignmentState] | None:
    """The sender's own, not withdrawn assignment, or None after rejecting the event."""
    number = item.data["assignment_number"]
    assignment = _assignment(item, number)
    sender_agb = item.sender.agb if item.sender is not None else None
    if assignment is None or sender_agb is None or assignment.get("provider_agb") != sender_agb:
        item.reject("data.assignment_number", ErrorCode.ASSIGNMENT_UNKNOWN, _NOT_YOUR_ASSIGNMENT)
        return None
    if assignment.get("status") == "withdrawn":
        item.reject(
            "data.assignment_number",
            ErrorCode.ASSIGNMENT_WITHDRAWN,
            "This assignment was withdrawn; nothing may be reported on it.",
        )
        return None
    item.ruling.facts.law = assignment.get("law")
    item.ruling.facts.subjects |= set(assignment.get("subjects", ()))
    return number, assignment


def _check_product(item: _Input, assignment: AssignmentState) -> None:
    product = item.data["product"]
    law = assignment.get("law")
    if isinstance(law, str):
        _check_category(item, law, product)
    if dict(product) != dict(assignment.get("product") or {}):
        item.reject(
            "data.product",
            ErrorCode.PRODUCT_MISMATCH,
            "The product must equal the product of the assignment.",
        )


def _check_in_period(item: _Input, assignment: AssignmentState, path: str, day: str) -> None:
    period = assignment.get("period") or {}
    start, end = period.get("start"), period.get("end")
    value = date.fromisoformat(day)
    if (start is not None and value < date.fromisoformat(start)) or (
        end is not None and value > date.fromisoformat(end)
    ):
        item.reject(
            path, ErrorCode.DATE_OUTSIDE_PERIOD, "The date must lie within the assignment period."
        )


def _care_started(item: _Input) -> None:
    own = _own_assignment(item)
    if own is None:
        return
    number, assignment = own
    _check_product(item, assignment)
    care = Care(**(assignment.get("care") or {}))
    started_on = item.data["started_on"]
    if item.data["delivery_status"] == "deleted":
        if care.get("started_on") != started_on:
            item.reject(
                "data.delivery_status",
                ErrorCode.DELETE_WITHOUT_NEW,
                "A deleted start must correct an earlier start with the same started_on.",
            )
            return
        care.pop("started_on")
    else:
        _check_in_period(item, assignment, "data.started_on", started_on)
        care["started_on"] = started_on
    if not item.ruling.errors:
        started: AssignmentState = {**assignment, "care": care}
        item.put(assignment_key(number), item.stamp(started))


def _care_stopped(item: _Input) -> None:
    own = _own_assignment(item)
    if own is None:
        return
    number, assignment = own
    _check_product(item, assignment)
    care = Care(**(assignment.get("care") or {}))
    stopped_on, reason = item.data["stopped_on"], item.data["reason"]
    value: AssignmentState = {**assignment}
    if item.data["delivery_status"] == "deleted":
        if care.get("stopped_on") != stopped_on or care.get("stop_reason") != reason:
            item.reject(
                "data.delivery_status",
                ErrorCode.DELETE_WITHOUT_NEW,
                "A deleted stop must correct an earlier stop with the same stopped_on and reason.",
            )
            return
        care.pop("stopped_on")
        care.pop("stop_reason")
        value.pop("ended_on", None)
        value["care"] = care
        value = _replay_plan_if_newer(item, number, value)  # live again
    else:
        started_on = care.get("started_on")
        if started_on is None:
            item.reject(
                "data.assignment_number",
                ErrorCode.CARE_NOT_STARTED,
                "Care was not started for this assignment (or its start was deleted).",
            )
        elif date.fromisoformat(stopped_on) < date.fromisoformat(started_on):
            item.reject(
                "data.stopped_on",
                ErrorCode.STOP_BEFORE_START,
                "stopped_on must not be before started_on.",
            )
        _check_in_period(item, assignment, "data.stopped_on", stopped_on)
        law = str(assignment.get("law"))
        if reason not in STOP_REASONS.get(law, frozenset()):
            item.reject(
                "data.reason",
                ErrorCode.STOP_REASON_INVALID,
                "The stop reason is not in the list for the assignment's law "
                "(WMO588 for Wmo and Participatiewet, JZ588 for Jeugdwet).",
            )
        care["stopped_on"] = stopped_on
        care["stop_reason"] = reason
        value["care"] = care
        value["ended_on"] = item.received_on
    if not item.ruling.errors:
        item.put(assignment_key(number), item.stamp(value))


def _outcomes_reported(item: _Input) -> None:
    own = _own_assignment(item)
    if own is None:
        return
    _, assignment = own
    period = item.data["period"]
    _check_in_period(item, assignment, "data.period.start", period["start"])
    _check_in_period(item, assignment, "data.period.end", period["end"])
    areas = set(assignment.get("result_areas", ()))
    for index, result in enumerate(item.data["results"]):
        if result["result_area"] not in areas:
            item.reject(
                f"data.results[{index}].result_area",
                ErrorCode.RESULT_AREA_NOT_ASSIGNED,
                "This result area is not one of the assignment's result areas.",
            )


def _assignment_request_submitted(item: _Input) -> None:
    key = assignment_request_key(item.data["request_id"])
    if not item.is_new(
        key, "data.request_id", "An assignment request with this request_id was already submitted."
    ):
        return
    request = AssignmentRequestState(
        provider_agb=item.data["provider_agb"],
        law=item.data["law"],
        subjects=sorted(item.own_subjects()),
    )
    item.put(key, item.stamp(request))


# --------------------------------------------------------------------------- helpers


# Where each type's data holds BSNs, compiled once per type from its v1 model. On first
# use, not at import: the types come from the connectors, and a connector that cannot be
# read must stop the hub as a configuration error, not fail an import.
_BSN_PATHS: dict[str, ObjectNode] = {}


def _bsn_paths(event_type: str) -> ObjectNode:
    paths = _BSN_PATHS.get(event_type)
    if paths is None:
        paths = _BSN_PATHS[event_type] = bsn_paths(schema_tree(TYPES[event_type].model))
    return paths


_RULES: dict[str, Callable[[_Input], None]] = {
    "referrals.submitted": _referral_submitted,
    "referrals.status-changed": _referral_status_changed,
    "cases.opened": _case_opened,
    "cases.plan-updated": _case_plan_updated,
    "cases.closed": _case_closed,
    "safety-reports.submitted": _safety_report_submitted,
    "safety-reports.feedback": _safety_report_feedback,
    "safety-cases.handed-over": _safety_case_handed_over,
    "provisions.requested": _provision_requested,
    "provisions.decided": _provision_decided,
    "budgets.status-reported": _no_rules,
    "assignments.issued": _assignment_issued,
    "care.started": _care_started,
    "care.stopped": _care_stopped,
    "outcomes.reported": _outcomes_reported,
    "assignment-requests.submitted": _assignment_request_submitted,
}
