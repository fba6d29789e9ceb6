"""``decide``: from a valid event and the state to deliveries, disclosure records and state changes.

Pure: it reads the state and the configuration and returns a Decision; the pipeline
writes that Decision atomically. For every row of the table that names the event's type
it resolves the recipients, checks the row's condition, projects the data onto the row's
fields, and writes one disclosure record per (event, recipient[, assignment]), delivered
or withheld. Ids are derived from the event, so deciding a redelivered event again gives
the same ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.audit.record import DisclosureOutcome, DisclosureRecord
from hub.connectors.registry import Partner, Role
from hub.privacy.policy import (
    AddedField,
    Condition,
    ItemFilter,
    Route,
    Selector,
    SubjectOverride,
    assert_may_receive,
)
from hub.privacy.project import ItemPredicate, ObjectNode, Projected, Projection, project
from hub.routing.context import RoutingContext
from hub.routing.decision import Decision, Delivery, OutboundEvent
from hub.routing.ids import TraceContext, delivery_id, disclosure_id, span_id, trace_context
from hub.routing.rules import Facts, apply_rules
from hub.routing.state_model import case_key
from hub.schemas import ValidEvent
from hub.state.store import StateView

__all__ = ["decide"]

Value = Mapping[str, Any]

_ROLE_SELECTORS = {
    Selector.SWT: Role.SWT,
    Selector.BACKOFFICE: Role.BACKOFFICE,
    Selector.VEILIG_THUIS: Role.VEILIG_THUIS,
}


def decide(
    event: ValidEvent,
    state: StateView,
    ctx: RoutingContext,
    *,
    held: StateView | None = None,
    received_on: str | None = None,
) -> Decision:
    """Apply the stateful rules, route and project one valid event; pure.

    ``held`` is the held-content store (the latest plan per case); without it, plans are
    neither kept nor replayed to assignments that go live later. ``received_on`` (ISO date,
    default today by ``ctx.now``) stamps the state for retention.
    """
    data = event.canonical_data()
    trace = trace_context(event.traceparent, ctx.new_trace_id)
    received = received_on or ctx.now().date().isoformat()
    ruling = apply_rules(event, data, state, ctx, trace, held=held, received_on=received)
    if ruling.errors:
        return Decision(rejection=tuple(ruling.errors), unroutable=ruling.unroutable)

    releases = _Releases(ctx, ctx.now())
    origin = _Origin(
        event_id=event.id,
        source=event.source,
        type=event.type,
        time=event.time.isoformat(),
        subject=event.subject,
        dataschema=event.dataschema,
        trace=trace,
        data=data,
    )
    facts = ruling.facts
    for route in ctx.policy.routes_for(event.type):
        for target in _targets(route, origin, facts, ctx):
            releases.release(route, origin, target, facts)

    plan = facts.replay_plan
    if plan is not None and facts.plan_replays:
        plan_origin = _Origin.from_held(plan)
        case = state.get(case_key(str(facts.plan_replays[0][1].get("case_id"))))
        plan_facts = Facts(subjects=set(case.get("subjects", ())) if case else set())
        for route in ctx.policy.routes_for(plan_origin.type):
            if route.selector is not Selector.LIVE_ASSIGNMENT_PROVIDERS:
                continue
            for number, assignment in facts.plan_replays:
                replay_target = _assignment_target(number, assignment, ctx)
                if replay_target is not None:
                    releases.release(
                        route,
                        plan_origin,
                        replay_target,
                        plan_facts,
                        omitted=plan.get("omitted", ()),
                    )

    return Decision(
        deliveries=tuple(releases.deliveries),
        disclosures=tuple(releases.disclosures),
        state_changes=ruling.changes,
        held_changes=ruling.held,
    )


@dataclass(frozen=True, slots=True)
class _Origin:
    """The event whose data is released: the inbound event, or a held plan being replayed."""

    event_id: str
    source: str
    type: str
    time: str
    subject: str
    dataschema: str | None
    trace: TraceContext
    data: Mapping[str, Any]

    @classmethod
    def from_held(cls, plan: Value) -> _Origin:
        return cls(
            event_id=str(plan["event_id"]),
            source=str(plan["source"]),
            type=str(plan["type"]),
            time=str(plan["time"]),
            subject=str(plan["subject"]),
            dataschema=plan.get("dataschema"),
            trace=TraceContext(
                str(plan["trace_id"]),
                plan.get("parent_span_id"),
                str(plan.get("trace_flags", "00")),
            ),
            data=plan["data"],
        )


@dataclass(frozen=True, slots=True)
class _Target:
    """One resolved recipient, and the assignment a per-assignment delivery is for."""

    partner: Partner
    assignment_number: str | None = None
    assignment: Value | None = None


def _targets(route: Route, origin: _Origin, facts: Facts, ctx: RoutingContext) -> Iterator[_Target]:
    registry = ctx.registry
    selector = route.selector
    if selector in _ROLE_SELECTORS:
        yield _Target(registry.only(_ROLE_SELECTORS[selector]))
    elif selector is Selector.PARTNER:
        partner = registry.get(route.partner_id or "")
        if partner is not None:
            yield _Target(partner)
    elif selector is Selector.REFERRING_GP:
        referral = facts.referral
        gp = registry.by_agb(str(referral.get("gp_agb"))) if referral else None
        if gp is not None and gp.role is Role.GP:
            yield _Target(gp)
    elif selector is Selector.ASSIGNED_PROVIDER:
        provider = registry.by_agb(str(origin.data.get("provider_agb")))
        if provider is not None and provider.role is Role.PROVIDER:
            yield _Target(provider)
    elif selector is Selector.LIVE_ASSIGNMENT_PROVIDERS:
        for number, assignment in facts.live_assignments:
            target = _assignment_target(number, assignment, ctx)
            if target is not None:
                yield target


def _assignment_target(number: str, assignment: Value, ctx: RoutingContext) -> _Target | None:
    provider = ctx.registry.by_agb(str(assignment.get("provider_agb")))
    if provider is None or provider.role is not Role.PROVIDER:
        return None
    return _Target(provider, number, assignment)


def _holding(route: Route, facts: Facts) -> frozenset[Condition]:
    """The conditions that hold for this event (consent is the referral's, as recorded)."""
    referral = facts.referral or {}
    holding = set()
    if referral.get("status_feedback") is True:
        holding.add(Condition.CONSENT_STATUS_FEEDBACK)
    if referral.get("content_feedback") is True:
        holding.add(Condition.CONSENT_CONTENT_FEEDBACK)
    return frozenset(holding) & route.conditions


class _Releases:
    """Collects deliveries and their disclosure records, in the order they are decided."""

    def __init__(self, ctx: RoutingContext, decided_at: datetime) -> None:
        self.ctx = ctx
        self.decided_at = decided_at
        self.deliveries: list[Delivery] = []
        self.disclosures: list[dict[str, Any]] = []

    def release(
        self,
        route: Route,
        origin: _Origin,
        target: _Target,
        facts: Facts,
        *,
        omitted: tuple[str, ...] | list[str] = (),
    ) -> None:
        """Deliver the row's projection to one target, or withhold it; record either way."""
        partner = target.partner
        assert_may_receive(origin.type, partner)  # invariant 2, whatever the table says
        number = target.assignment_number
        holding = _holding(route, facts)

        reason: str | None = None
        if route.condition is not None and route.condition not in holding:
            reason = route.condition.withheld_reason
            projected = _nothing(origin.data, route.projection)
        else:
            projected = project(
                origin.data, route.projection_for(holding), _item_filters(route, target)
            )
            if (
                route.item_filter is not None
                and route.item_filter.list_path not in projected.payload
            ):
                reason = route.item_filter.withheld_reason
                projected = _nothing(origin.data, route.projection)

        law = (target.assignment or {}).get("law") if target.assignment else facts.law
        subjects = set(facts.subjects) | set((target.assignment or {}).get("subjects", ()))
        record_id = disclosure_id(origin.source, origin.event_id, partner.id, number)
        span = span_id(record_id)
        disclosed = list(projected.disclosed)
        withheld = [*projected.withheld, *omitted]
        released: str | None = None

        if reason is None:
            payload = dict(projected.payload)
            if AddedField.ASSIGNMENT_NUMBER in route.added and number is not None:
                payload = {"assignment_number": number, **payload}
                disclosed.append("assignment_number")
            subject = (
                number
                if route.subject is SubjectOverride.ASSIGNMENT_NUMBER and number is not None
                else origin.subject
            )
            released = delivery_id(origin.source, origin.event_id, partner.id, number)
            self.deliveries.append(
                Delivery(
                    recipient=partner.id,
                    event=OutboundEvent(
                        id=released,
                        source=origin.source,
                        type=origin.type,
                        time=origin.time,
                        subject=subject,
                        data=payload,
                        traceparent=origin.trace.traceparent(span),
                        dataschema=None,  # the view's schema is not the sender's
                    ),
                    disclosure_id=record_id,
                )
            )

        source_partner = self.ctx.registry.by_source(origin.source)
        record = DisclosureRecord(
            disclosure_id=record_id,
            event_id=origin.event_id,
            event_type=origin.type,
            source=source_partner.id if source_partner else origin.source,
            recipient=partner.id,
            assignment_number=number,
            delivery_id=released,
            decided_at=self.decided_at,
            outcome=DisclosureOutcome.DELIVERED if reason is None else DisclosureOutcome.WITHHELD,
            reason=reason,
            fields_disclosed=tuple(disclosed),
            fields_withheld=tuple(withheld),
            legal_basis=route.legal_basis.for_law(law if isinstance(law, str) else None),
            processing_activity=route.processing_activity,
            data_subjects=tuple(subjects),
            trace_id=origin.trace.trace_id,
            span_id=span,
            parent_span_id=origin.trace.parent_span_id,
        )
        self.disclosures.append(record.model_dump(mode="json"))


def _item_filters(route: Route, target: _Target) -> dict[str, ItemPredicate]:
    if route.item_filter is not ItemFilter.GOALS_IN_ASSIGNMENT_RESULT_AREAS:
        return {}
    areas = frozenset((target.assignment or {}).get("result_areas", ()))
    return {"goals": lambda goal: goal.get("result_area") in areas}


def _nothing(data: Mapping[str, Any], like: Projection) -> Projected:
    """Nothing delivered: every present path is withheld."""
    return project(data, Projection(ObjectNode({}), like.schema))
