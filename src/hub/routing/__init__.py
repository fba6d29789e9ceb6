"""Routing: the stateful rules, which recipients an event goes to, and what the hub remembers.

``apply_rules`` checks the rules that need state and works out the state changes;
``release`` chooses the recipients, projects the data for each and records every
disclosure. Both are pure; ``hub.pipeline.process`` runs them for one event.
"""

from hub.routing.context import RoutingContext, build_context
from hub.routing.decision import Decision, Delivery, Outcome, OutcomeKind
from hub.routing.route import Origin, Releases, release
from hub.routing.rules import Facts, Ruling, apply_rules

__all__ = [
    "Decision",
    "Delivery",
    "Facts",
    "Origin",
    "Outcome",
    "OutcomeKind",
    "Releases",
    "RoutingContext",
    "Ruling",
    "apply_rules",
    "build_context",
    "release",
]
