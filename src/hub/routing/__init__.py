"""Routing: the stateful rules' engine, which recipients an event goes to, what the hub remembers.

``apply_rules`` runs the type's rule (a message family's, ``hub.families``) and works out
the state changes and facts; ``release`` chooses the recipients, projects the data for
each and records every disclosure. Both are pure; ``hub.pipeline.process`` runs them
for one event. Nothing here names a role or a type.
"""

from hub.routing.context import RoutingContext, build_context
from hub.routing.decision import Decision, Delivery, Outcome, OutcomeKind, RenderAlert
from hub.routing.origin import Origin
from hub.routing.render import RenderInput
from hub.routing.route import Releases, release
from hub.routing.rules import Facts, Replay, RuleInput, Ruling, apply_rules

__all__ = [
    "Decision",
    "Delivery",
    "Facts",
    "Origin",
    "Outcome",
    "OutcomeKind",
    "Releases",
    "RenderAlert",
    "RenderInput",
    "Replay",
    "RoutingContext",
    "RuleInput",
    "Ruling",
    "apply_rules",
    "build_context",
    "release",
]
