"""Release: from a ruled event to its deliveries and their disclosure records.

For every row of the table that names the event's type: choose the recipients (routing,
``recipients``), project the data onto the row's fields or withhold it (privacy,
``view``), and record either in a disclosure record (audit, ``disclosure_record``).
Pure: ids are derived from the event, so releasing a redelivered event again gives the
same ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.audit.record import DisclosureOutcome, DisclosureRecord, disclosure_record
from hub.connectors.registry import Partner
from hub.envelope import CloudEvent
from hub.privacy.policy import (
    AddedField,
    Condition,
    DataCondition,
    ItemFilter,
    Route,
    RowCondition,
    Selector,
    SubjectOverride,
    assert_may_receive,
)
from hub.privacy.project import ItemPredicate, ObjectNode, Projected, Projection, project
from hub.privacy.views import view_schema_url
from hub.routing.context import RoutingContext
from hub.routing.decision import Delivery
from hub.routing.ids import TraceContext, delivery_id, disclosure_id, span_id
from hub.routing.rules import Facts
from hub.routing.state_model import AssignmentState, HeldPlan, case_key
from hub.schemas import ValidEvent
from hub.state.store import StateView

__all__ = ["Origin", "Releases", "release"]

Value = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Origin:
    """The event whose data is released: the inbound event, or a held plan being replayed."""

    event_id: str
    source: str
    type: str
    time: datetime
    subject: str
    trace: TraceContext
    data: Mapping[str, Any]

    @classmethod
    def of(cls, event: ValidEvent, data: Mapping[str, Any], trace: TraceContext) -> Origin:
        """The inbound event, with its canonical data and its trace."""
        return cls(event.id, event.source, event.type, event.time, event.subject, trace, data)

    @classmethod
    def held(cls, plan: HeldPlan) -> Origin:
        """A held plan, released to an assignment that went live after it."""
        return cls(
            plan.event_id,
            plan.source,
            plan.type,
            datetime.fromisoformat(plan.time),
            plan.subject,
            plan.trace,
            plan.data,
        )


@dataclass(slots=True)
class Releases:
    """The deliveries and their disclosure records of one event, in the order they are decided."""

    deliveries: list[Delivery] = field(default_factory=list)
    disclosures: list[DisclosureRecord] = field(default_factory=list)


def release(
    origin: Origin, facts: Facts, state: StateView, ctx: RoutingContext, decided_at: datetime
) -> Releases:
    """Every row of the event's type, to every recipient it resolves: delivered or withheld, recorded."""
    releases = Releases()
    for route in ctx.policy.routes_for(origin.type):
        for target in recipients(route, origin, facts, ctx):
            _release(releases, route, origin, target, facts, ctx, decided_at)

    # An assignment that just went live gets its case's latest plan now.
    plan = facts.replay_plan
    if plan is not None and facts.plan_replays:
        plan_origin = Origin.held(plan)
        case = state.get(case_key(str(facts.plan_replays[0][1].get("case_id"))))
        plan_facts = Facts(subjects=set(case.get("subjects", ())) if case else set())
        for route in ctx.policy.routes_for(plan_origin.type):
            if route.selector is not Selector.LIVE_ASSIGNMENT_PROVIDERS:
                continue
            for number, assignment in facts.plan_replays:
                replay_to = _assignment_target(number, assignment, ctx)
                if replay_to is not None:
                    _release(
                        releases,
                        route,
                        plan_origin,
                        replay_to,
                        plan_facts,
                        ctx,
                        decided_at,
                        omitted=plan.omitted,
                    )
    return releases


@dataclass(frozen=True, slots=True)
class _Target:
    """One resolved recipient, and the assignment a per-assignment delivery is for."""

    partner: Partner
    assignment_number: str | None = None
    assignment: AssignmentState | None = None


def recipients(
    route: Route, origin: Origin, facts: Facts, ctx: RoutingContext
) -> Iterator[_Target]:
    """The partners one row resolves to for this event (per assignment where the row says so)."""
    registry = ctx.registry
    selector = route.selector
    if selector is Selector.ROLE:
        partner = registry.one(route.recipient)  # None: an optional role nobody plays here
        if partner is not None:
            yield _Target(partner)
    elif selector is Selector.PARTNER:
        partner = registry.get(route.partner_id or "")
        if partner is not None:
            yield _Target(partner)
    elif selector is Selector.REFERRING_GP:
        referral = facts.referral
        gp = registry.by_agb(str(referral.get("gp_agb"))) if referral else None
        if gp is not None and registry.is_reached_through(gp, selector):
            yield _Target(gp)
    elif selector is Selector.ASSIGNED_PROVIDER:
        provider = registry.by_agb(str(origin.data.get("provider_agb")))
        if provider is not None and registry.is_reached_through(provider, selector):
            yield _Target(provider)
    elif selector is Selector.LIVE_ASSIGNMENT_PROVIDERS:
        for number, assignment in facts.live_assignments:
            target = _assignment_target(number, assignment, ctx)
            if target is not None:
                yield target


def _assignment_target(
    number: str, assignment: AssignmentState, ctx: RoutingContext
) -> _Target | None:
    provider = ctx.registry.by_agb(str(assignment.get("provider_agb")))
    if provider is None or not ctx.registry.is_reached_through(
        provider, Selector.LIVE_ASSIGNMENT_PROVIDERS
    ):
        return None
    return _Target(provider, number, assignment)


def _holding(route: Route, data: Mapping[str, Any], facts: Facts) -> frozenset[RowCondition]:
    """The row's conditions that hold: the referral's recorded consent, and true data fields."""
    referral = facts.referral
    holding: set[RowCondition] = set()
    if referral is not None and referral.get("status_feedback") is True:
        holding.add(Condition.CONSENT_STATUS_FEEDBACK)
    if referral is not None and referral.get("content_feedback") is True:
        holding.add(Condition.CONSENT_CONTENT_FEEDBACK)
    for condition in route.conditions:
        if isinstance(condition, DataCondition) and condition.holds(data):
            holding.add(condition)
    return frozenset(holding) & route.conditions


@dataclass(frozen=True, slots=True)
class _View:
    """What one recipient gets of the data: the projection, or nothing and the reason why."""

    projected: Projected
    withheld_reason: str | None


def view(route: Route, data: Mapping[str, Any], target: _Target, facts: Facts) -> _View:
    """Project the data onto the row's fields for one recipient, or withhold it (privacy)."""
    holding = _holding(route, data, facts)
    if route.condition is not None and route.condition not in holding:
        return _View(_nothing(data, route.projection), route.condition.withheld_reason)
    projected = project(data, route.projection_for(holding), _item_filters(route, target))
    if route.item_filter is not None and route.item_filter.list_path not in projected.payload:
        return _View(_nothing(data, route.projection), route.item_filter.withheld_reason)
    return _View(projected, None)


def _release(
    releases: Releases,
    route: Route,
    origin: Origin,
    target: _Target,
    facts: Facts,
    ctx: RoutingContext,
    decided_at: datetime,
    *,
    omitted: tuple[str, ...] = (),
) -> None:
    """Deliver the row's view to one recipient, or withhold it; record either way."""
    partner = target.partner
    assert_may_receive(origin.type, partner)  # invariant 2, whatever the table says
    number = target.assignment_number
    seen = view(route, origin.data, target, facts)
    record_id = disclosure_id(origin.source, origin.event_id, partner.id, number)
    span = span_id(record_id)
    disclosed = list(seen.projected.disclosed)
    delivery: Delivery | None = None
    if seen.withheld_reason is None:
        delivery = _delivery(route, origin, target, seen.projected, record_id, span, ctx)
        if _adds_number(route, target):
            disclosed.append("assignment_number")
        releases.deliveries.append(delivery)
    assignment = target.assignment
    law = assignment.get("law") if assignment is not None else facts.law
    assignment_subjects = assignment.get("subjects", ()) if assignment is not None else ()
    source_partner = ctx.registry.by_source(origin.source)
    releases.disclosures.append(
        disclosure_record(
            disclosure_id=record_id,
            event_id=origin.event_id,
            event_type=origin.type,
            source=source_partner.id if source_partner else origin.source,
            recipient=partner.id,
            assignment_number=number,
            delivery_id=None if delivery is None else delivery.event.id,
            decided_at=decided_at,
            outcome=(
                DisclosureOutcome.DELIVERED if delivery is not None else DisclosureOutcome.WITHHELD
            ),
            reason=seen.withheld_reason,
            fields_disclosed=disclosed,
            fields_withheld=(*seen.projected.withheld, *omitted),
            legal_basis=route.legal_basis.for_law(law if isinstance(law, str) else None),
            processing_activity=route.processing_activity,
            data_subjects=(*facts.subjects, *assignment_subjects),
            trace_id=origin.trace.trace_id,
            span_id=span,
            parent_span_id=origin.trace.parent_span_id,
        )
    )


def _delivery(
    route: Route,
    origin: Origin,
    target: _Target,
    projected: Projected,
    record_id: str,
    span: str,
    ctx: RoutingContext,
) -> Delivery:
    """The event one recipient receives: the origin's attributes, the projected data.

    Its ``dataschema`` names the published view schema of the recipient's role for this
    type (privacy.md): the sender's own ``dataschema`` describes data the recipient
    may not get whole.
    """
    number = target.assignment_number
    payload: Mapping[str, Any] = projected.payload
    if _adds_number(route, target):
        payload = {"assignment_number": number, **payload}
    subject = (
        number
        if route.subject is SubjectOverride.ASSIGNMENT_NUMBER and number is not None
        else origin.subject
    )
    return Delivery(
        recipient=target.partner.id,
        event=CloudEvent(
            id=delivery_id(origin.source, origin.event_id, target.partner.id, number),
            source=origin.source,
            type=origin.type,
            time=origin.time,
            subject=subject,
            data=payload,
            traceparent=origin.trace.traceparent(span),
            dataschema=view_schema_url(target.partner.role, origin.type, ctx.schema_base_url),
        ),
        disclosure_id=record_id,
    )


def _adds_number(route: Route, target: _Target) -> bool:
    """True when the row adds the assignment number to a per-assignment delivery's data."""
    return AddedField.ASSIGNMENT_NUMBER in route.added and target.assignment_number is not None


def _item_filters(route: Route, target: _Target) -> dict[str, ItemPredicate]:
    if route.item_filter is not ItemFilter.GOALS_IN_ASSIGNMENT_RESULT_AREAS:
        return {}
    assignment = target.assignment
    areas = frozenset(assignment.get("result_areas", ()) if assignment is not None else ())
    return {"goals": lambda goal: goal.get("result_area") in areas}


def _nothing(data: Mapping[str, Any], like: Projection) -> Projected:
    """Nothing delivered: every present path is withheld."""
    return project(data, Projection(ObjectNode({}), like.schema))
