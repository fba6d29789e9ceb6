"""``process``: the per-event step that the live pipeline and ``hub preview`` both run.

validate (stateless contract) -> dedupe by (source, id) -> decide (stateful rules, route,
project) -> record the state changes in the batch's overlay. The caller writes the
Outcome's decision (deliveries, disclosure records, state changes) atomically; nothing
here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from hub.connectors.registry import Partner
from hub.envelope import is_event_id
from hub.errors import InvalidEvent
from hub.routing.context import RoutingContext
from hub.routing.decision import Outcome, OutcomeKind
from hub.routing.route import decide
from hub.routing.state_model import seen_key
from hub.schemas import TYPES, ValidEvent, validate_event, validate_with_registry

__all__ = ["WritableState", "process"]

Value = Mapping[str, Any]


class WritableState(Protocol):
    """A batch's view of a store that also takes changes (hub.state.Overlay is one)."""

    def get(self, key: str) -> Value | None:
        """The value under key as this batch sees it."""
        ...

    def keys_with_prefix(self, prefix: str) -> Iterator[str]:
        """Live keys with this prefix."""
        ...

    def put(self, changes: Mapping[str, Value | None]) -> None:
        """Record changes (None deletes)."""
        ...


def process(
    raw: Mapping[str, Any],
    sender: Partner | None,
    state: WritableState,
    ctx: RoutingContext,
    *,
    held: WritableState | None = None,
    received_at: datetime | None = None,
) -> Outcome:
    """Validate, dedupe and decide one structured-mode event; put its state changes in ``state``.

    ``sender`` is the authenticated partner; None (tools only) means "the registered
    partner whose source the event carries". A stateful rejection still records the
    event as seen, so a redelivery of it is a duplicate; a stateless rejection records
    nothing. ``held`` is the held-content store (see ``decide``). ``received_at`` is when
    the hub received the event (default: ``ctx.now()``); every retention clock of the
    state counts from it, never from the event's own ``time``.
    """
    received_on = (received_at or ctx.now()).date().isoformat()
    event_id, source, event_type = _envelope(raw, sender, ctx)
    try:
        event = _validate(raw, sender, ctx)
    except InvalidEvent as exc:
        return Outcome(
            kind=OutcomeKind.DEAD_LETTERED,
            event_id=event_id,
            source=source,
            event_type=event_type,
            errors=exc.errors,
        )
    seen = seen_key(event.source, event.id)
    if state.get(seen) is not None:
        return Outcome(
            kind=OutcomeKind.DUPLICATE,
            event_id=event.id,
            source=event.source,
            event_type=event.type,
        )
    decision = decide(event, state, ctx, held=held, received_on=received_on)
    changes = {**decision.state_changes, seen: {"received_on": received_on}}
    decision = replace(decision, state_changes=changes)
    state.put(changes)
    if held is not None and decision.held_changes:
        held.put(decision.held_changes)
    if decision.rejected:
        return Outcome(
            kind=OutcomeKind.DEAD_LETTERED,
            event_id=event.id,
            source=event.source,
            event_type=event.type,
            errors=decision.rejection,
            decision=decision,
            unroutable=decision.unroutable,
        )
    return Outcome(
        kind=OutcomeKind.ACCEPTED,
        event_id=event.id,
        source=event.source,
        event_type=event.type,
        decision=decision,
    )


def _validate(raw: Mapping[str, Any], sender: Partner | None, ctx: RoutingContext) -> ValidEvent:
    if sender is None:
        return validate_with_registry(raw, ctx.registry, result_areas=ctx.result_areas)
    return validate_event(raw, sender=sender, result_areas=ctx.result_areas)


def _envelope(
    raw: Any, sender: Partner | None, ctx: RoutingContext
) -> tuple[str | None, str | None, str | None]:
    """The id, source and type of a possibly invalid event, where they are safe to report."""
    if not isinstance(raw, Mapping):
        return None, None, None
    event_id, source, event_type = raw.get("id"), raw.get("source"), raw.get("type")
    # The sender's own registered source (so it finds the status of what it sent), or for
    # tools a registered one: an arbitrary string would become part of a long-lived key.
    if sender is not None:
        source = sender.source
    elif not isinstance(source, str) or ctx.registry.by_source(source) is None:
        source = None
    return (
        # An id outside the contract (a name, a BSN) is not repeated anywhere.
        event_id if is_event_id(event_id) else None,
        source,
        # Only known types: an arbitrary string must not become a metric label.
        event_type if isinstance(event_type, str) and event_type in TYPES else None,
    )
