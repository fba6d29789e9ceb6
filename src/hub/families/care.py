"""The care family: assignments to providers, and what providers report on them.

State: ``assignment:<number>`` (everything the care rules check, the care started and
stopped, the last plan it got), ``assignment-request:<request_id>``, and the case's
index of assignments (``case-assignments:``, kept with the case). Rows may name the
selectors ``assigned-provider`` (the partner with the event's ``provider_agb``) and
``live-assignment-providers`` (per live assignment of the event's case, one delivery per
assignment, named by its ``assignment_number``). A provider's role is reached only
through these (privacy.md invariant 4).

Provider isolation: an assignment issued to another provider is answered exactly as an
unknown one (same path, code and sentence), so probing numbers reveals nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, cast

from hub.connectors.family import Family, Link, LinkedFacts, SelectorSpec, StateKind
from hub.envelope import parse_time
from hub.errors import ErrorCode
from hub.families import state as s
from hub.families.provisions import check_category
from hub.families.retention import assignment_over, with_case
from hub.routing.origin import Origin
from hub.routing.rules import Replay, RuleInput
from hub.schemas import STOP_REASONS, TEMPORARY_STOP

__all__ = ["ASSIGNED_PROVIDER", "CARE", "LIVE_ASSIGNMENT_PROVIDERS", "assignment_link"]

# One sentence for "unknown" and "another provider's": the two must be indistinguishable.
_NOT_YOUR_ASSIGNMENT = (
    "No assignment with this assignment_number is issued to the sending provider."
)


def _assigned_provider(data: Mapping[str, Any], facts: LinkedFacts) -> Iterable[Link]:
    agb = data.get("provider_agb")
    return (Link(agb=agb),) if isinstance(agb, str) else ()


def _live_assignment_providers(data: Mapping[str, Any], facts: LinkedFacts) -> Iterable[Link]:
    return facts.links.get(LIVE_ASSIGNMENT_PROVIDERS.name, ())


ASSIGNED_PROVIDER = SelectorSpec(
    name="assigned-provider",
    description="The partner with the event's provider_agb.",
    resolve=_assigned_provider,
    needs="provider_agb",
    # Read from the event's own data: only an assignment links a provider this way (a new
    # type with a provider_agb field cannot reach providers through it).
    fed_by=("assignments.issued",),
)

LIVE_ASSIGNMENT_PROVIDERS = SelectorSpec(
    name="live-assignment-providers",
    description="The provider of each live assignment of the event's case, per assignment.",
    resolve=_live_assignment_providers,
    needs="case_id",
    item_field="assignment_number",
    item_schema={
        "type": "string",
        "pattern": "^[0-9]{1,8}$",
        "description": "Added by the hub: the assignment this delivery is for.",
    },
    # The plan's rule links the case's live assignments; an assignment going live (issued,
    # or its stop deleted) replays the held plan to it.
    fed_by=("cases.plan-updated", "assignments.issued", "care.stopped"),
)


def assignment_link(number: str, assignment: s.AssignmentState) -> Link:
    """The link to one live assignment's provider, for ``live-assignment-providers``."""
    return Link(
        agb=str(assignment.get("provider_agb")),
        item_id=number,
        law=assignment.get("law"),
        subjects=tuple(assignment.get("subjects", ())),
        item=assignment,
    )


# --------------------------------------------------------------------------- assignments


def _issued(item: RuleInput) -> None:
    data = item.data
    number = data["assignment_number"]
    key = s.assignment_key(number)
    known = s.assignment(item, number)
    status = data["status"]
    provider = item.ctx.registry.by_agb(data["provider_agb"])
    if status == "new":
        if known is not None or _issued_as_another_text(item, number):
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
        provider, ASSIGNED_PROVIDER.name
    ):
        item.reject(
            "data.provider_agb",
            ErrorCode.PROVIDER_UNKNOWN,
            "The provider_agb is not that of a registered provider.",
        )
    if item.ruling.errors:
        return

    value = s.AssignmentState(
        provider_agb=data["provider_agb"],
        status=status,
        law=data["law"],
        product=cast(s.Product, dict(data["product"])),
        period=cast(s.Period, dict(data["period"])),
        result_areas=list(data["result_areas"]),
        decision_id=data["decision_id"],
        subjects=sorted(item.own_subjects()),
        care=s.Care(**(known.get("care") or {})) if known is not None else s.Care(),
        plan_version=int(known.get("plan_version", 0)) if known is not None else 0,
        client=item.ctx.pseudonymise(data["client"]["bsn"]),
    )
    if "case_id" in data:
        value["case_id"] = data["case_id"]
    if status == "withdrawn":
        value["ended_on"] = item.received_on
    elif known is not None and "ended_on" in known:
        # Its care was stopped: a change does not make it live again, and the retention
        # clock keeps running from the stop (without ended_on it would never expire).
        value["ended_on"] = known["ended_on"]
    old_case = known.get("case_id") if known is not None else None
    new_case = value.get("case_id")
    if known is not None and "plan_case" in known:
        value["plan_case"] = known["plan_case"]
    if old_case != new_case:
        _index_assignment(item, old_case, number, add=False)
        _index_assignment(item, new_case, number, add=True)
        if new_case is not None and new_case != value.get("plan_case", old_case):
            # Linked to a case whose plans it has had none of (not back to its own).
            value["plan_version"] = 0
            value["plan_case"] = new_case
    if status == "new" or (old_case != new_case and new_case is not None):
        # It goes live for its case (privacy.md): issued, or linked to the case later.
        value = _replay_plan_if_newer(item, number, value)
    item.put(key, item.stamp(value))


def _issued_as_another_text(item: RuleInput, number: str) -> bool:
    """True when the number was issued written otherwise: with or without leading zeros.

    iWmo compares a ToewijzingNummer as an integer (docs/iwmo.md), so ``06000311`` and
    ``6000311`` would be one assignment to a provider's software. Numbers have 1-8 digits,
    so the other spellings are few and each is one look-up.
    """
    if not number.isdigit():
        return False
    bare = str(int(number))
    spellings = {bare.zfill(width) for width in range(len(bare), 9)} - {number}
    return any(s.assignment(item, other) is not None for other in spellings)


def _index_assignment(item: RuleInput, case_id: str | None, number: str, *, add: bool) -> None:
    if case_id is None:
        return
    index = s.case_assignments(item, case_id)
    numbers = list(index.get("assignments", ())) if index is not None else []
    if add and number not in numbers:
        numbers.append(number)
    elif not add and number in numbers:
        numbers.remove(number)
    indexed = s.CaseAssignmentsState(assignments=numbers)
    item.put(s.case_assignments_key(case_id), item.stamp(indexed) if numbers else None)


def _replay_plan_if_newer(
    item: RuleInput, number: str, value: s.AssignmentState
) -> s.AssignmentState:
    """An assignment that goes live after its case's latest plan gets that plan now."""
    case_id = value.get("case_id")
    if case_id is None or item.held is None or not s.is_live(value):
        return value
    held = item.held.get(s.plan_key(case_id))
    plan = None if held is None else s.HeldPlan.from_value(held)
    if plan is None or plan.plan_version <= int(value.get("plan_version", 0)):
        return value
    value = {**value, "plan_version": plan.plan_version, "plan_case": case_id}
    case = s.case(item, case_id)
    item.facts.replays.append(
        Replay(
            origin=Origin(
                plan.event_id,
                plan.source,
                plan.type,
                _held_time(plan.time),
                plan.time,
                plan.subject,
                plan.trace,
                plan.data,
            ),
            selector=LIVE_ASSIGNMENT_PROVIDERS.name,
            links=(assignment_link(number, value),),
            subjects=frozenset(case.get("subjects", ()) if case is not None else ()),
            omitted=plan.omitted,
        )
    )
    return value


# --------------------------------------------------------------------------- care


def _own_assignment(item: RuleInput) -> tuple[str, s.AssignmentState] | None:
    """The sender's own, not withdrawn assignment, or None after rejecting the event."""
    number = item.data["assignment_number"]
    assignment = s.assignment(item, number)
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
    item.facts.law = assignment.get("law")
    item.facts.subjects |= set(assignment.get("subjects", ()))
    return number, assignment


def _check_product(item: RuleInput, assignment: s.AssignmentState) -> None:
    product = item.data["product"]
    law = assignment.get("law")
    if isinstance(law, str):
        check_category(item, law, product)
    if dict(product) != dict(assignment.get("product") or {}):
        item.reject(
            "data.product",
            ErrorCode.PRODUCT_MISMATCH,
            "The product must equal the product of the assignment.",
        )


def _check_in_period(item: RuleInput, assignment: s.AssignmentState, path: str, day: str) -> None:
    period = assignment.get("period") or {}
    start, end = period.get("start"), period.get("end")
    value = date.fromisoformat(day)
    if (start is not None and value < date.fromisoformat(start)) or (
        end is not None and value > date.fromisoformat(end)
    ):
        item.reject(
            path, ErrorCode.DATE_OUTSIDE_PERIOD, "The date must lie within the assignment period."
        )


def _started(item: RuleInput) -> None:
    """care.started, as iWmo answers a 305 (iwmo.md, section 5: 9074, 9326, 9063, 9071)."""
    own = _own_assignment(item)
    if own is None:
        return
    number, assignment = own
    _check_product(item, assignment)
    starts = s.care_starts(assignment)
    started_on = item.data["started_on"]
    same = next((start for start in starts if start["started_on"] == started_on), None)
    if item.data["delivery_status"] == "deleted":
        if same is None:
            item.reject(
                "data.delivery_status",
                ErrorCode.DELETE_WITHOUT_NEW,
                "A deleted start must correct an earlier start with the same started_on.",
            )
        elif same["stops"]:
            item.reject(
                "data.delivery_status",
                ErrorCode.START_HAS_STOP,
                "This start has a stop: delete the stop first.",
            )
        else:
            starts.remove(same)
    else:
        _check_in_period(item, assignment, "data.started_on", started_on)
        if same is not None:
            item.reject(
                "data.started_on",
                ErrorCode.CARE_ALREADY_STARTED,
                "Care with this started_on was already started; a correction deletes the "
                "start, then sends it new.",
            )
        elif any(not start["stops"] for start in starts):
            item.reject(
                "data.started_on",
                ErrorCode.OTHER_CARE_CURRENT,
                "Another start of this assignment is current (not stopped); stop it, or "
                "delete it to correct it, first.",
            )
        else:
            starts.append(s.CareStart(started_on=started_on, stops=[]))
    if not item.ruling.errors:
        item.put(s.assignment_key(number), item.stamp(_with_care(item, number, assignment, starts)))


def _stopped(item: RuleInput) -> None:
    """care.stopped, as iWmo answers a 307 (iwmo.md, section 5: 9069, 9074, 9415, 9063).

    A stop names no start: it stops the latest start on or before its ``stopped_on``.
    """
    own = _own_assignment(item)
    if own is None:
        return
    number, assignment = own
    _check_product(item, assignment)
    starts = s.care_starts(assignment)
    stop = s.CareStop(stopped_on=item.data["stopped_on"], stop_reason=item.data["reason"])
    if item.data["delivery_status"] == "deleted":
        stopped = _stopped_start(
            [start for start in starts if stop in start["stops"]], stop["stopped_on"]
        )
        if stopped is None:
            item.reject(
                "data.delivery_status",
                ErrorCode.DELETE_WITHOUT_NEW,
                "A deleted stop must correct an earlier stop with the same stopped_on and reason.",
            )
            return
        stopped["stops"].remove(stop)
        if stopped["started_on"] is None and not stopped["stops"]:
            starts.remove(stopped)  # a stop whose start was deleted before: nothing left
    else:
        # A stop left by an earlier version without its start stops nothing new.
        dated = [start for start in starts if start["started_on"] is not None]
        before = [start for start in dated if _started_by(start, stop["stopped_on"])]
        if not dated:
            item.reject(
                "data.assignment_number",
                ErrorCode.CARE_NOT_STARTED,
                "Care was not started for this assignment (or its start was deleted).",
            )
        elif not before:
            item.reject(
                "data.stopped_on",
                ErrorCode.STOP_BEFORE_START,
                "stopped_on must not be before started_on.",
            )
        else:
            start = _stopped_start(before, stop["stopped_on"])
            assert start is not None
            if stop in start["stops"]:
                item.reject(
                    "data.stopped_on",
                    ErrorCode.CARE_ALREADY_STOPPED,
                    "This stop was already reported.",
                )
            elif any(other["stop_reason"] != TEMPORARY_STOP for other in start["stops"]):
                item.reject(
                    "data.stopped_on",
                    ErrorCode.CARE_STOPPED_OTHERWISE,
                    "The care was already stopped; a correction deletes the stop, then "
                    "sends it new.",
                )
            else:
                start["stops"].append(stop)
        _check_in_period(item, assignment, "data.stopped_on", stop["stopped_on"])
        law = str(assignment.get("law"))
        if stop["stop_reason"] not in STOP_REASONS.get(law, frozenset()):
            item.reject(
                "data.reason",
                ErrorCode.STOP_REASON_INVALID,
                "The stop reason is not in the list for the assignment's law "
                "(WMO588 for Wmo and Participatiewet, JZ588 for Jeugdwet).",
            )
    if not item.ruling.errors:
        item.put(s.assignment_key(number), item.stamp(_with_care(item, number, assignment, starts)))


def _started_by(start: s.CareStart, day: str) -> bool:
    """True when the start is on or before ``day`` (one whose date is unknown: always)."""
    return start["started_on"] is None or start["started_on"] <= day


def _stopped_start(starts: list[s.CareStart], day: str) -> s.CareStart | None:
    """Of these starts, the one a stop on ``day`` stops: the latest begun by then, else the first."""
    begun = [start for start in starts if _started_by(start, day)]
    if begun:
        return max(begun, key=lambda start: start["started_on"] or "")
    return starts[0] if starts else None


def _with_care(
    item: RuleInput, number: str, assignment: s.AssignmentState, starts: list[s.CareStart]
) -> s.AssignmentState:
    """The assignment with its care changed.

    No longer live once a stop is recorded (privacy.md), ended (``ended_on``, the
    retention's clock) once every start has a stop: care started again after a stop
    keeps the assignment's state. Live again (its last stop deleted), it gets its case's
    latest plan if it missed it.
    """
    value: s.AssignmentState = {**assignment, "care": s.Care(starts=starts)}
    if s.care_over(starts):
        was_over = s.care_over(s.care_starts(assignment))
        value["ended_on"] = (
            assignment.get("ended_on", item.received_on) if was_over else item.received_on
        )
    else:
        value.pop("ended_on", None)  # care is delivered: the assignment has not ended
    if s.is_live(assignment) or not s.is_live(value):
        return value
    return _replay_plan_if_newer(item, number, value)  # live again: its last stop deleted


def _outcomes_reported(item: RuleInput) -> None:
    own = _own_assignment(item)
    if own is None:
        return
    _, assignment = own
    period = item.data["period"]
    _check_in_period(item, assignment, "data.period.start", period["start"])
    _check_in_period(item, assignment, "data.period.end", period["end"])
    areas = set(assignment.get("result_areas", ()))
    for index, result in enumerate(item.data["results"]):
        path = f"data.results[{index}]"
        _check_in_period(item, assignment, f"{path}.assessed_on", result["assessed_on"])
        if result["result_area"] not in areas:
            item.reject(
                f"{path}.result_area",
                ErrorCode.RESULT_AREA_NOT_ASSIGNED,
                "This result area is not one of the assignment's result areas.",
            )


def _request_submitted(item: RuleInput) -> None:
    key = s.assignment_request_key(item.data["request_id"])
    if not item.is_new(
        key, "data.request_id", "An assignment request with this request_id was already submitted."
    ):
        return
    request = s.AssignmentRequestState(
        provider_agb=item.data["provider_agb"],
        law=item.data["law"],
        subjects=sorted(item.own_subjects()),
    )
    item.put(key, item.stamp(request))


CARE = Family(
    name="care",
    description="Assignments to providers, and the start, stop and outcomes they report.",
    rules={
        "assignments.issued": _issued,
        "care.started": _started,
        "care.stopped": _stopped,
        "outcomes.reported": _outcomes_reported,
        "assignment-requests.submitted": _request_submitted,
    },
    selectors=(ASSIGNED_PROVIDER, LIVE_ASSIGNMENT_PROVIDERS),
    state=(
        StateKind(
            "assignment",
            "An assignment: provider, law, product, period, result areas, care, links.",
            assignment_over,
        ),
        StateKind(
            "assignment-request",
            "A provider's request for an assignment: its provider, law and subjects.",
            with_case,
        ),
    ),
)


def _held_time(text: str) -> datetime:
    """The held plan's ``time``: the text its sender wrote, which validation accepted."""
    time = parse_time(text)
    # Always RFC 3339: the sender's text validation accepted, or (held by an earlier
    # version) Python's isoformat of it.
    assert time is not None, "a held plan's time is the hub's own record of a valid event"
    return time
