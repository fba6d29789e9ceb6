"""Routing: which recipients an event goes to, with which fields, and what the hub remembers."""

from hub.routing.decision import Decision, Delivery, OutboundEvent, Outcome, OutcomeKind

__all__ = ["Decision", "Delivery", "OutboundEvent", "Outcome", "OutcomeKind"]
