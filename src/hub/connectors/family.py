"""What a message family brings besides its schemas: its rules and the words rows may use.

A *family* is a group of types that share state (referrals, cases, care, ...). What is
specific to it lives in one module beside the family's schemas (``hub.families``), not in
the core: the stateful rule of each of its types, the dynamic recipient selectors the
routing/privacy table may name (``referring-gp``), the row conditions that depend on
state (``consent.status_feedback``), the per-item filters (``goals-in-assignment-result-areas``)
and how long each kind of state value is kept. A connector lists the families its types
belong to (``Connector.families``); discovery collects them (``hub.connectors.discovery``)
and the routing and privacy engines use them by name, as data.

The engines call a family through three small contracts:

- a **rule** gets a ``hub.routing.RuleInput`` (the event, its data, the state as this event
  sees it) and records errors, state changes and the *links* routing needs;
- a **selector** turns the event's data and those links into ``Link``s: the AGB of each
  partner the row reaches (and, per item, the item a delivery is for);
- a **state kind** says when a value of its key prefix has expired.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hub.state.store import StateView

__all__ = [
    "Family",
    "ItemFilterSpec",
    "ItemPredicate",
    "Link",
    "LinkCondition",
    "LinkedFacts",
    "Rule",
    "SelectorSpec",
    "StateKind",
]

# A type's stateful rule, called with a ``hub.routing.RuleInput``. Typed loosely here: the
# routing engine sits above this protocol (it imports it), so this module cannot name it;
# the families' functions are typed with ``RuleInput`` itself.
Rule = Callable[[Any], None]

ItemPredicate = Callable[[Mapping[str, Any]], bool]
"""Keeps (True) or drops (False) one item of a list (``hub.privacy.project``)."""


@dataclass(frozen=True, slots=True)
class Link:
    """A partner an event is linked to, as a selector resolves it.

    ``agb`` finds the partner. A per-item selector (one delivery per item, e.g. per live
    assignment) also gives the item: ``item_id`` (the value the row may use as subject or
    add to the data), its ``law`` and data ``subjects`` (for the disclosure record) and
    ``item`` (its state value, which an item filter reads).
    """

    agb: str
    item_id: str | None = None
    law: str | None = None
    subjects: tuple[str, ...] = ()
    item: Mapping[str, Any] = field(default_factory=dict)


class LinkedFacts(Protocol):
    """What a selector reads of the rule's facts (``hub.routing.Facts`` has it)."""

    @property
    def links(self) -> Mapping[str, Sequence[Link]]:
        """Per selector name, the links the rule recorded."""
        ...


@dataclass(frozen=True, slots=True)
class SelectorSpec:
    """A dynamic recipient a row may name: the partners linked to the event.

    ``fed_by`` are the short names of the types whose rules may link partners to it
    (``Facts.link``) and the only types whose rows may name it; a link from any other
    type's rule is refused as a privacy breach (``hub.privacy.InvariantViolation``), so a
    new family cannot feed a contract selector. Empty: any type with ``needs`` may use it.
    ``needs`` is a field the type's data must have for a row to name the selector
    (``referral_id``). ``item_field`` makes it per item: one delivery per link, and the
    row may use the link's ``item_id`` as its subject (``subject: <item_field>``) or add it
    to the data (``add: [<item_field>]``), described by ``item_schema``; a per-item row must
    use it as subject (the original subject names what the items belong to). A role whose
    ``reach`` lists the selector is reached only this way (``RoleSpec.reach``).
    """

    name: str
    description: str
    resolve: Callable[[Mapping[str, Any], LinkedFacts], Iterable[Link]]
    needs: str | None = None
    item_field: str | None = None
    item_schema: Mapping[str, Any] | None = None
    fed_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LinkCondition:
    """A row condition on what the event is linked to (a consent recorded in the state).

    It holds when the rule of a type in ``fed_by`` put its ``name`` in ``Facts.holding``
    (any other rule that does is refused); otherwise the row's data is withheld with
    ``withheld_reason``. A row may name it only with one of ``selectors`` as recipient.
    """

    name: str
    withheld_reason: str
    selectors: tuple[str, ...]
    fed_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemFilterSpec:
    """A per-item filter on a list: ``filter: <name>`` keeps the items ``keep(link)`` accepts.

    A row may name it only with ``selector`` as recipient and for a type whose data has
    ``<list_path>[].<item_field>``. When the filter leaves no item, nothing is delivered
    (``withheld_reason``). ``required``: a row with ``selector`` that discloses the list
    must name the filter; ``rule`` is the sentence the hub refuses to start with otherwise.
    """

    name: str
    selector: str
    list_path: str
    item_field: str
    keep: Callable[[Link], ItemPredicate]
    withheld_reason: str
    required: bool = False
    rule: str = ""


@dataclass(frozen=True, slots=True)
class StateKind:
    """One kind of routing-state value (key ``<prefix>:<id>``) and when it expires.

    ``expired(id, value, state, today, retention)`` is called by the retention sweep for
    every stamped value of the kind; ``ended(value)`` tells a value written before receipt
    dates that had already ended (it is then stamped as ended on the day of migration).
    """

    prefix: str
    description: str
    expired: Callable[[str, Mapping[str, Any], StateView, date, timedelta], bool]
    ended: Callable[[Mapping[str, Any]], bool] = lambda value: False


@dataclass(frozen=True, slots=True)
class Family:
    """A message family: its types' rules (by short type name) and the words rows may use."""

    name: str
    description: str
    rules: Mapping[str, Rule] = field(default_factory=dict)
    selectors: tuple[SelectorSpec, ...] = ()
    conditions: tuple[LinkCondition, ...] = ()
    filters: tuple[ItemFilterSpec, ...] = ()
    state: tuple[StateKind, ...] = ()
