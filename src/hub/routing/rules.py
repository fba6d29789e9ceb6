"""The engine of the stateful rules: one rule per type, found by the type, never by name.

The rules themselves belong to the message families (``hub.families``, declared through
``hub.connectors.family.Family``). The engine gives a rule a ``RuleInput``: the event,
its data, the routing state as this event sees it (its own earlier changes first), and
ways to reject it (path, code, sentence; sentences never hold values), to record state
changes and held copies, and to record the *facts* routing needs: the law, the data
subjects (BSN pseudonyms), the partners the event is linked to per selector, the link
conditions that hold, and held copies to replay. A type without a rule changes no state.
Duplicate suppression by (source, id) happens before (``hub.pipeline.process``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from hub.connectors.discovery import Catalogue, catalogue
from hub.connectors.family import Link
from hub.connectors.registry import Partner
from hub.errors import ErrorCode, ErrorDetail
from hub.privacy.policy import InvariantViolation
from hub.privacy.project import ObjectNode, bsn_paths, bsns, schema_tree
from hub.routing.context import RoutingContext
from hub.routing.ids import TraceContext
from hub.routing.origin import Origin
from hub.schemas import TYPES, ValidEvent
from hub.state.store import StateView

__all__ = ["Facts", "Replay", "RuleInput", "Ruling", "apply_rules"]

Value = Mapping[str, Any]
_V = TypeVar("_V", bound=Mapping[str, Any])


@dataclass(frozen=True, slots=True)
class Replay:
    """A held copy released now, per row of ``selector``, to ``links`` (items that went live).

    ``subjects`` are the data subjects of the copy (for the disclosure records), ``omitted``
    the paths the held copy did not keep (reported as withheld).
    """

    origin: Origin
    selector: str
    links: tuple[Link, ...]
    subjects: frozenset[str] = frozenset()
    omitted: tuple[str, ...] = ()


@dataclass(slots=True)
class Facts:
    """What routing needs to know about an accepted event's links.

    ``links``: per selector name, the partners the rule found the event linked to (a
    selector reads them, ``SelectorSpec.resolve``). ``holding``: the names of the link
    conditions that hold (``LinkCondition``). ``replays``: held copies to release now.
    """

    law: str | None = None
    laws: frozenset[str] = frozenset()
    """Where no one law applies: the laws of all it is linked to (a case's closing)."""
    subjects: set[str] = field(default_factory=set)
    links: dict[str, list[Link]] = field(default_factory=dict)
    holding: set[str] = field(default_factory=set)
    replays: list[Replay] = field(default_factory=list)

    def link(self, selector: str, link: Link) -> None:
        """Record that the event reaches, through ``selector``, the partner of ``link``."""
        self.links.setdefault(selector, []).append(link)


@dataclass(slots=True)
class Ruling:
    """The verdict on one event: errors, or the state changes and facts of an accepted event."""

    errors: list[ErrorDetail] = field(default_factory=list)
    unroutable: bool = False
    changes: dict[str, Value | None] = field(default_factory=dict)
    held: dict[str, Value | None] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)


@dataclass(slots=True)
class RuleInput:
    """What a rule reads and writes for one valid event (see the module docstring).

    ``held`` is the held-content store (None: copies are neither kept nor replayed);
    ``received_on`` (ISO date) is when the hub received the event.
    """

    event: ValidEvent
    data: Mapping[str, Any]
    state: StateView
    held: StateView | None
    ctx: RoutingContext
    sender: Partner | None
    ruling: Ruling
    trace: TraceContext
    received_on: str
    _subjects: frozenset[str] | None = None

    @property
    def facts(self) -> Facts:
        """The facts routing reads from this event's ruling."""
        return self.ruling.facts

    def get(self, key: str) -> Value | None:
        """The state as this event sees it: its own earlier changes first."""
        if key in self.ruling.changes:
            return self.ruling.changes[key]
        return self.state.get(key)

    def put(self, key: str, value: Value | None) -> None:
        """Change (or, with None, remove) a state value if the event is accepted."""
        self.ruling.changes[key] = value

    def hold(self, key: str, value: Value | None) -> None:
        """Keep (or, with None, drop) a held copy if the event is accepted."""
        self.ruling.held[key] = value

    def stamp(self, value: _V) -> _V:
        """A copy of a state value marked with the date the hub received this event (for retention)."""
        return cast(_V, {**value, "received_on": self.received_on})

    def is_new(self, key: str, path: str, message: str) -> bool:
        """True when key is not in the state yet; else the event is rejected as ID_ALREADY_KNOWN."""
        if self.get(key) is None:
            return True
        self.reject(path, ErrorCode.ID_ALREADY_KNOWN, message)
        return False

    def reject(self, path: str, code: ErrorCode, message: str) -> None:
        """Reject the event: ``path`` into it, a stable code, a sentence without values."""
        self.ruling.errors.append(ErrorDetail(path, code, message))

    def unroutable(self, path: str, message: str) -> None:
        """Reject the event as naming something the hub does not know (it may come later)."""
        self.ruling.unroutable = True
        self.reject(path, ErrorCode.UNKNOWN_REFERENCE, message)

    def own_subjects(self) -> frozenset[str]:
        """Pseudonyms of the BSNs in this event; computed once, along the type's BSN paths."""
        if self._subjects is None:
            found = bsns(self.data, _bsn_paths(self.event.type))
            self._subjects = frozenset(self.ctx.pseudonymise(bsn) for bsn in found)
        return self._subjects


def apply_rules(
    event: ValidEvent,
    data: Mapping[str, Any],
    state: StateView,
    ctx: RoutingContext,
    trace: TraceContext,
    *,
    held: StateView | None = None,
    received_on: str,
) -> Ruling:
    """Check the stateful rules for one valid event and work out its state changes.

    ``received_on`` (ISO date) is when the hub received the event: state values are stamped
    with it, never with the event's own ``time`` (a sender's claim).
    """
    sender = ctx.registry.by_source(event.source)
    ruling = Ruling()
    item = RuleInput(event, data, state, held, ctx, sender, ruling, trace, received_on)
    ruling.facts.subjects |= item.own_subjects()
    law = data.get("law")
    ruling.facts.law = law if isinstance(law, str) else None
    found = catalogue()
    rule = found.rules.get(event.type)
    if rule is not None:
        rule(item)
        _check_fed(event.spec.short_name, ruling.facts, found)
    if ruling.errors:
        # A rejected event changes nothing (process() still records that it was seen).
        ruling.changes.clear()
        ruling.held.clear()
    return ruling


def _check_fed(short_name: str, facts: Facts, found: Catalogue) -> None:
    """Refuse links, consents and replays the type's rule may not record (``fed_by``).

    A selector or a link condition says which types' rules may feed it; a rule of any
    other type that does (a new family naming a contract selector) would reach a gp or a
    provider that no rule of the contract linked, so the release is refused.
    """
    fed = [*facts.links, *(replay.selector for replay in facts.replays)]
    for name in fed:
        selector = found.selectors.get(name)
        if selector is None or short_name not in selector.fed_by:
            raise InvariantViolation(f"the rule of {short_name} may not link {name}")
    for name in facts.holding:
        condition = found.conditions.get(name)
        if condition is None or short_name not in condition.fed_by:
            raise InvariantViolation(f"the rule of {short_name} may not hold {name}")


# Where each type's data holds BSNs, compiled once per type from its v1 model. On first
# use, not at import: the types come from the connectors, and a connector that cannot be
# read must stop the hub as a configuration error, not fail an import.
_BSN_PATHS: dict[str, ObjectNode] = {}


def _bsn_paths(event_type: str) -> ObjectNode:
    paths = _BSN_PATHS.get(event_type)
    if paths is None:
        paths = _BSN_PATHS[event_type] = bsn_paths(schema_tree(TYPES[event_type].model))
    return paths
