"""The cases family: the team's case, its plan, its closing.

State: ``case:<case_id>`` (its household's pseudonyms, where it came from, its last plan
version, its closing) and, as held content, ``plan:<case_id>`` (the latest plan as a
provider may yet receive it). A plan goes to the providers of the case's live
assignments (the care family's ``live-assignment-providers``), each with only the goals
of its own result areas (the filter ``goals-in-assignment-result-areas``, required for
those rows: privacy.md invariant 4); an assignment that goes live later gets the held
plan then.
"""

from __future__ import annotations

from hub.connectors.family import Family, ItemFilterSpec, Link, StateKind
from hub.errors import ErrorCode
from hub.families import state as s
from hub.families.care import LIVE_ASSIGNMENT_PROVIDERS, assignment_link
from hub.families.retention import case_closed, on_end, with_case_end
from hub.privacy.project import ItemPredicate, project
from hub.routing.rules import RuleInput

__all__ = ["CASES", "GOALS_IN_ASSIGNMENT_RESULT_AREAS"]


def _goals_of(link: Link) -> ItemPredicate:
    areas = frozenset(link.item.get("result_areas", ()))
    return lambda goal: goal.get("result_area") in areas


GOALS_IN_ASSIGNMENT_RESULT_AREAS = ItemFilterSpec(
    name="goals-in-assignment-result-areas",
    selector=LIVE_ASSIGNMENT_PROVIDERS.name,
    list_path="goals",
    item_field="result_area",
    keep=_goals_of,
    withheld_reason="NO_GOALS_FOR_ASSIGNMENT",
    required=True,
    rule="goals reach a provider only with filter: goals-in-assignment-result-areas "
    "(privacy.md invariant 4)",
)


def _opened(item: RuleInput) -> None:
    case_id = item.data["case_id"]
    known = s.case(item, case_id)
    case: s.CaseState = {**known} if known is not None else {"subjects": []}
    # Opened again after a closing: open now, and its retention no longer counts from then.
    case.pop("closed_on", None)
    case.pop("ended_on", None)
    case["subjects"] = sorted(set(case.get("subjects", ())) | item.own_subjects())
    # Requests that named the case before it was opened (their own key, their own order).
    noted = s.case_requests(item, case_id)
    if noted is not None:
        case["subjects"] = sorted({*case["subjects"], *noted.get("subjects", ())})
        case["laws"] = sorted({*case.get("laws", ()), *noted.get("laws", ())})
        item.put(s.case_requests_key(case_id), None)
    origin = item.data.get("origin") or {}
    referral_id = origin.get("referral_id")
    if referral_id is not None:
        case["referral_id"] = referral_id
        _link_to_case(item, s.referral_key(referral_id), case_id)
    safety_case_id = origin.get("safety_case_id")
    if safety_case_id is not None:
        case["safety_case_id"] = safety_case_id
        _link_to_case(item, s.safety_case_key(safety_case_id), case_id)
    item.put(s.case_key(case_id), item.stamp(case))


def _link_to_case(item: RuleInput, key: str, case_id: str) -> None:
    """Record the case a referral or safety case became (both keep it as ``case_id``)."""
    linked = item.get(key)
    if linked is not None and linked.get("case_id") != case_id:
        item.put(key, item.stamp({**linked, "case_id": case_id}))


def _plan_updated(item: RuleInput) -> None:
    case_id = item.data["case_id"]
    case = s.case(item, case_id)
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
    updated: s.CaseState = {**case, "plan_version": version}
    item.put(s.case_key(case_id), item.stamp(updated))
    item.facts.subjects |= set(case.get("subjects", ()))
    for number, assignment in s.assignments_of_case(item, case_id):
        if s.is_live(assignment):
            planned: s.AssignmentState = {
                **assignment,
                "plan_version": version,
                "plan_case": case_id,
            }
            planned = item.stamp(planned)
            item.put(s.assignment_key(number), planned)
            item.facts.link(LIVE_ASSIGNMENT_PROVIDERS.name, assignment_link(number, planned))
    if "closed_on" not in case:
        # A closed case's closing dropped its held plan, and it keeps none after: a plan
        # sent after the closing reaches the assignments live now, not those issued later.
        _hold_plan(item, case_id, version)


def _hold_plan(item: RuleInput, case_id: str, version: int) -> None:
    """Keep what a provider may yet receive of this plan, for assignments that go live later."""
    if item.held is None:
        return
    held_fields = item.ctx.policy.held_projection(item.event.type)
    if held_fields is None:
        return
    # Goals without a result area go to no provider: the held copy does not keep them.
    kept = project(item.data, held_fields, {"goals": lambda goal: "result_area" in goal})
    event = item.event
    plan = s.HeldPlan(
        event_id=event.id,
        source=event.source,
        type=event.type,
        time=event.time_text,  # as sent: its replay carries the same time
        subject=event.subject,
        dataschema=event.dataschema,
        trace=item.trace,
        plan_version=version,
        data=kept.payload,
        omitted=kept.withheld,
    )
    # Stamped with its receipt: held content goes after the personal-data retention.
    item.hold(s.plan_key(case_id), item.stamp(plan.to_value()))


def _closed(item: RuleInput) -> None:
    case_id = item.data["case_id"]
    case = s.case(item, case_id)
    if case is not None:
        # It concerns its household and the clients of its requests and of the assignments
        # that name it now, under their laws (privacy.md, "Disclosure log" and "Default
        # legal bases"). Requests are noted on the case (they never move); assignments,
        # which may move to another case, are read from its index.
        item.facts.subjects |= set(case.get("subjects", ()))
        laws = set(case.get("laws", ()))
        for _, assignment in s.assignments_of_case(item, case_id):
            item.facts.subjects |= set(assignment.get("subjects", ()))
            laws.add(assignment["law"])
        if len(laws) == 1:
            (item.facts.law,) = laws
        else:
            item.facts.laws = frozenset(laws)
        closed: s.CaseState = {
            **case,
            "closed_on": item.data["closed_on"],
            "ended_on": item.received_on,
        }
        item.put(s.case_key(case_id), item.stamp(closed))
    if item.held is not None:
        item.hold(s.plan_key(case_id), None)  # a closed case gets no more plans


CASES = Family(
    name="cases",
    description="The team's case for a household: its origin, its plan, its closing.",
    rules={
        "cases.opened": _opened,
        "cases.plan-updated": _plan_updated,
        "cases.closed": _closed,
    },
    filters=(GOALS_IN_ASSIGNMENT_RESULT_AREAS,),
    state=(
        StateKind(
            "case",
            "A case: its origin links, last plan version, subjects, closing date.",
            on_end,
            ended=case_closed,
        ),
        StateKind(
            "case-assignments",
            "The assignment numbers issued for a case (also before the case is known).",
            with_case_end,
        ),
        StateKind(
            "case-requests",
            "The subjects and laws of provision requests naming a case not known yet.",
            with_case_end,
        ),
    ),
)
