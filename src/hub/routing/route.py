"""Release: from a ruled event to its deliveries and their disclosure records.

For every row of the table that names the event's type: choose the recipients (routing,
``recipients``), project the data onto the row's fields or withhold it (privacy,
``view``), render the view in the recipient's partner format where its connector does
(``hub.routing.render``), and record either in a disclosure record (audit,
``disclosure_record``). Pure: ids are derived from the event, so releasing a redelivered
event again gives the same ids; the state is read, and a renderer's changes returned.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hub.audit.record import DisclosureOutcome, DisclosureRecord, disclosure_record
from hub.connectors.discovery import catalogue
from hub.connectors.family import Link, LinkCondition
from hub.connectors.protocol import AsJson, Rendered, Unrenderable
from hub.connectors.registry import Partner
from hub.envelope import CloudEvent
from hub.privacy.policy import (
    DataCondition,
    RecipientKind,
    Route,
    RowCondition,
    assert_may_receive,
)
from hub.privacy.project import ItemPredicate, ObjectNode, Projected, Projection, project
from hub.privacy.views import view_schema_url
from hub.routing.context import RoutingContext
from hub.routing.decision import Delivery, RenderAlert
from hub.routing.ids import delivery_id, disclosure_id, span_id
from hub.routing.origin import Origin
from hub.routing.render import PendingView, RenderInput, renderer_for
from hub.routing.rules import Facts
from hub.state.store import StateView

__all__ = ["Releases", "recipients", "release", "subject_kind", "view"]

Value = Mapping[str, Any]


@dataclass(slots=True)
class Releases:
    """The deliveries and their disclosure records of one event, in the order they are decided.

    ``state_changes`` are the renderers' (written with the event's own); ``alerts`` the
    deliveries withheld because their format could not be rendered.
    """

    deliveries: list[Delivery] = field(default_factory=list)
    disclosures: list[DisclosureRecord] = field(default_factory=list)
    state_changes: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)
    alerts: list[RenderAlert] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Scene:
    """What every release of one event shares: context, clock, the state it reads."""

    ctx: RoutingContext
    decided_at: datetime
    state: StateView
    received_on: str


def release(
    origin: Origin,
    facts: Facts,
    ctx: RoutingContext,
    decided_at: datetime,
    *,
    state: StateView,
    received_on: str | None = None,
) -> Releases:
    """Every row of the event's type, to every recipient it resolves: delivered or withheld, recorded.

    Then the held copies the rule replays (``Facts.replays``), each through the rows of its
    selector, to the items that went live. ``state`` is the routing state as this event
    sees it (its rule's changes applied), which renderers read; ``received_on`` (ISO date,
    default: ``decided_at``'s) stamps what they keep.
    """
    releases = Releases()
    day = received_on or decided_at.date().isoformat()
    scene = _Scene(ctx, decided_at, PendingView(state, releases.state_changes), day)
    for route in ctx.policy.routes_for(origin.type):
        for target in recipients(route, origin, facts, ctx):
            _release(releases, route, origin, target, facts, scene)
    for replay in facts.replays:
        replay_facts = Facts(subjects=set(replay.subjects))
        for route in ctx.policy.routes_for(replay.origin.type):
            if route.selector is None or route.selector.name != replay.selector:
                continue
            for link in replay.links:
                linked = _linked(route, link, ctx)
                if linked is not None:
                    _release(
                        releases,
                        route,
                        replay.origin,
                        linked,
                        replay_facts,
                        scene,
                        omitted=replay.omitted,
                        released_by=origin,
                    )
    return releases


@dataclass(frozen=True, slots=True)
class _Target:
    """One resolved recipient, and the link (the item, per item) it was reached through."""

    partner: Partner
    link: Link | None = None

    @property
    def item_id(self) -> str | None:
        """The item a per-item delivery is for (the assignment number), else None."""
        return self.link.item_id if self.link is not None else None


def recipients(
    route: Route, origin: Origin, facts: Facts, ctx: RoutingContext
) -> Iterator[_Target]:
    """The partners one row resolves to for this event (per item where the selector says so)."""
    registry = ctx.registry
    if route.kind is RecipientKind.ROLE:
        partner = registry.one(route.recipient)  # None: an optional role nobody plays here
        if partner is not None:
            yield _Target(partner)
    elif route.kind is RecipientKind.PARTNER:
        partner = registry.get(route.partner_id or "")
        if partner is not None:
            yield _Target(partner)
    elif route.selector is not None:
        for link in route.selector.resolve(origin.data, facts):
            target = _linked(route, link, ctx)
            if target is not None:
                yield target


def _linked(route: Route, link: Link, ctx: RoutingContext) -> _Target | None:
    """The partner of a link, when the row's selector may reach it (its role's reach).

    A per-item selector's link without its item is skipped: its delivery would carry the
    original subject (what the items belong to), which the compiler forbids.
    """
    per_item = route.selector is not None and route.selector.item_field is not None
    if per_item and link.item_id is None:
        return None
    partner = ctx.registry.by_agb(link.agb)
    if partner is None or not ctx.registry.is_reached_through(partner, route.recipient):
        return None
    return _Target(partner, link)


def _holding(route: Route, data: Mapping[str, Any], facts: Facts) -> frozenset[RowCondition]:
    """The row's conditions that hold: link conditions the rule found, and true data fields."""
    holding: set[RowCondition] = set()
    for condition in route.conditions:
        if isinstance(condition, LinkCondition):
            if condition.name in facts.holding:
                holding.add(condition)
        elif isinstance(condition, DataCondition) and condition.holds(data):
            holding.add(condition)
    return frozenset(holding)


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
    # No item left is nothing delivered (privacy.md), also when the list had none to begin with.
    if route.item_filter is not None and not projected.payload.get(route.item_filter.list_path):
        return _View(_nothing(data, route.projection), route.item_filter.withheld_reason)
    return _View(projected, None)


def _release(
    releases: Releases,
    route: Route,
    origin: Origin,
    target: _Target,
    facts: Facts,
    scene: _Scene,
    *,
    omitted: tuple[str, ...] = (),
    released_by: Origin | None = None,
) -> None:
    """Deliver the row's view to one recipient (rendered in its format), or withhold it; record either way.

    ``released_by``: the event whose rule released a held copy now (a replay). Its record
    is a decision of its own, with an id of its own: the same copy may have been withheld
    from the same assignment before (no goals for its areas then), and the audit store
    keeps one record per id.
    """
    ctx = scene.ctx
    partner = target.partner
    assert_may_receive(origin.type, partner)  # invariant 2, whatever the table says
    number = target.item_id
    seen = view(route, origin.data, target, facts)
    record_id = disclosure_id(
        origin.source,
        origin.event_id,
        partner.id,
        number,
        released_by=None if released_by is None else (released_by.source, released_by.event_id),
    )
    span = span_id(record_id)
    disclosed = list(seen.projected.disclosed)
    withheld = [*seen.projected.withheld, *omitted]
    reason = seen.withheld_reason
    delivery: Delivery | None = None
    if reason is None:
        delivery = _delivery(route, origin, target, seen.projected, record_id, span, ctx)
        disclosed.extend(_added(route, target))
        renderer = renderer_for(ctx.renderers, partner, origin.type)
        if renderer is not None:
            rendered = renderer.render(
                RenderInput(
                    view=_payload(route, target, seen.projected),
                    event_id=origin.event_id,
                    source=origin.source,
                    type=origin.type,
                    time=origin.time,
                    subject=delivery.event.subject,
                    delivery_id=delivery.event.id,
                    disclosure_id=record_id,
                    recipient=partner,
                    state=scene.state,
                    pseudonymise=ctx.pseudonymise,
                    received_on=scene.received_on,
                    withheld=tuple(withheld),
                )
            )
            if isinstance(rendered, Rendered):
                # The document carries only fields of the view; the rest of it is withheld.
                carried = set(rendered.fields)
                withheld.extend(path for path in disclosed if path not in carried)
                disclosed = list(rendered.fields)
                delivery = _rendered(delivery, rendered)
                releases.state_changes.update(rendered.state_changes)
            elif isinstance(rendered, AsJson):
                releases.state_changes.update(rendered.state_changes)
            elif isinstance(rendered, Unrenderable):
                withheld.extend(disclosed)
                disclosed = []
                delivery = None
                reason = rendered.reason
                releases.alerts.append(
                    RenderAlert(partner.id, renderer.format, rendered.reason, record_id)
                )
        if delivery is not None:
            releases.deliveries.append(delivery)
    link = target.link if number is not None else None
    law = link.law if link is not None else facts.law
    item_subjects = link.subjects if link is not None else ()
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
            decided_at=scene.decided_at,
            outcome=(
                DisclosureOutcome.DELIVERED if delivery is not None else DisclosureOutcome.WITHHELD
            ),
            reason=reason,
            fields_disclosed=disclosed,
            fields_withheld=withheld,
            legal_basis=(
                route.legal_basis.for_laws(facts.laws)
                if law is None and facts.laws
                else route.legal_basis.for_law(law if isinstance(law, str) else None)
            ),
            processing_activity=route.processing_activity,
            data_subjects=(*facts.subjects, *item_subjects),
            trace_id=origin.trace.trace_id,
            span_id=span,
            parent_span_id=origin.trace.parent_span_id,
            policy_version=ctx.policy.version or None,
            pseudonym_key=ctx.pseudonymise.key_id,
        )
    )


def _rendered(delivery: Delivery, rendered: Rendered) -> Delivery:
    """The delivery with the rendered document as its data (no JSON view schema describes it)."""
    event = replace(
        delivery.event,
        data=rendered.data,
        datacontenttype=rendered.content_type,
        dataschema=None,
    )
    return replace(delivery, event=event)


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
    number = target.item_id
    payload = _payload(route, target, projected)
    subject, item_field = origin.subject, None
    if route.item_subject and number is not None:  # per item: the item's id, of its kind
        subject = number
        item_field = route.selector.item_field if route.selector is not None else None
    return Delivery(
        recipient=target.partner.id,
        event=CloudEvent(
            id=delivery_id(origin.source, origin.event_id, target.partner.id, number),
            source=origin.source,
            type=origin.type,
            time=origin.time_text,
            subject=subject,
            data=payload,
            traceparent=origin.trace.traceparent(span),
            dataschema=view_schema_url(target.partner.role, origin.type, ctx.schema_base_url),
        ),
        disclosure_id=record_id,
        subject_kind=subject_kind(item_field, origin.type),
    )


def _payload(route: Route, target: _Target, projected: Projected) -> Mapping[str, Any]:
    """The data one recipient receives: the projection, with the item's id where the row adds it."""
    payload: Mapping[str, Any] = projected.payload
    added = _added(route, target)
    if added:
        payload = {**dict.fromkeys(added, target.item_id), **payload}
    return payload


def _added(route: Route, target: _Target) -> tuple[str, ...]:
    """The fields the row adds to a per-item delivery's data (the item's id), if any."""
    return route.added if target.item_id is not None else ()


def _item_filters(route: Route, target: _Target) -> dict[str, ItemPredicate]:
    item_filter = route.item_filter
    if item_filter is None:
        return {}
    if target.link is None:  # cannot happen (the filter needs a per-item row): keep nothing
        return {item_filter.list_path: lambda item: False}
    return {item_filter.list_path: item_filter.keep(target.link)}


def _nothing(data: Mapping[str, Any], like: Projection) -> Projected:
    """Nothing delivered: every present path is withheld."""
    return project(data, Projection(ObjectNode({}), like.schema))


@functools.cache
def _kinds() -> tuple[Mapping[str, str], Mapping[str, str]]:
    # Per type, and per subject field (a per-item delivery's item field names its kind).
    types = catalogue().types
    by_type = {t: f"{spec.family}.{spec.subject_field}" for t, spec in types.items()}
    by_field = {spec.subject_field: by_type[t] for t, spec in sorted(types.items())}
    return by_type, by_field


def subject_kind(item_field: str | None, event_type: str) -> str | None:
    """What a delivery's subject identifies: ``<family>.<field>`` of its type, or of its item.

    Two partners may use equal ids for different things (a referral id and a request
    id); the delivery channel keeps them apart as subjects by this kind.
    """
    by_type, by_field = _kinds()
    if item_field is not None:
        return by_field.get(item_field, item_field)
    return by_type.get(event_type)
