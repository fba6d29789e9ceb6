"""Routing: which recipients an event goes to, with which fields, and what the hub remembers.

``process`` is the per-event step of the live pipeline and of ``hub preview``:
validate -> dedupe -> ``decide`` -> record state changes. ``decide`` is pure.
"""

from hub.routing.context import RoutingContext, build_context
from hub.routing.decision import Decision, Delivery, OutboundEvent, Outcome, OutcomeKind
from hub.routing.process import WritableState, process
from hub.routing.route import decide

__all__ = [
    "Decision",
    "Delivery",
    "OutboundEvent",
    "Outcome",
    "OutcomeKind",
    "RoutingContext",
    "WritableState",
    "build_context",
    "decide",
    "process",
]
