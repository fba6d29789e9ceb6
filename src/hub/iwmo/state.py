"""What levels 3-4 read from the hub's state, and the care record the caller keeps.

The translator reads the hub's state through ``IwmoState``, a small protocol the caller
implements over its own store. The start/stop keys (TR074, 9326, 9069, 9415, 9063, 9071)
need a history of the provider's deliveries per assignment: ``CareDeliveries``, a JSON
record the caller keeps per assignment number and replaces with the one an approved
message returns. Client keys are keyed pseudonyms, never BSNs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, TypedDict

from hub.iwmo.model import ProductRef

__all__ = [
    "AssignmentFacts",
    "CareDeliveries",
    "CareStart",
    "CareStop",
    "IwmoState",
    "UsedIdentificatie",
]


@dataclass(frozen=True, slots=True)
class AssignmentFacts:
    """An issued assignment as levels 3-4 need it."""

    number: str
    """As issued (``assignment_number``); the translator matches it as an integer."""
    provider_agb: str
    status: str
    """``new``, ``changed`` or ``withdrawn``."""
    law: str
    product: ProductRef
    period_start: date
    period_end: date | None
    budget: bool
    """True for a budget scope: its 301 carries no product Code (CD041)."""
    clients: frozenset[str] = field(repr=False)
    """Keyed pseudonyms of the client's BSN."""


class CareStop(TypedDict):
    """A stop of a start: its Einddatum and RedenBeeindiging, and whether it was deleted."""

    end: str
    reason: str
    deleted: bool


class CareStart(TypedDict):
    """A start: the client's pseudonym, Product as sent, Begindatum, deleted, its stops."""

    client: str
    category: str
    code: str | None
    begin: str
    deleted: bool
    stops: list[CareStop]


class CareDeliveries(TypedDict):
    """Every start and stop a provider delivered for one assignment, oldest first."""

    starts: list[CareStart]


@dataclass(frozen=True, slots=True)
class UsedIdentificatie:
    """A message a sender sent earlier under an Identificatie (TR056, replay)."""

    digest: str
    """SHA-256 (hex) of its bytes."""
    retour: bytes | None = field(repr=False)
    """The retour it got, while kept (30 days [D]); None after."""
    accepted: bool


class IwmoState(Protocol):
    """The hub's state as the translator reads it at receipt."""

    def assignment(self, number: int) -> AssignmentFacts | None:
        """The assignment whose number equals ``number`` as an integer, if any was issued."""
        ...

    def deliveries(self, assignment_number: str) -> CareDeliveries:
        """The kept care record of an assignment (``{"starts": []}`` if none)."""
        ...

    def used_identificatie(
        self, afzender: str, bericht_code: int, identificatie: str
    ) -> UsedIdentificatie | None:
        """The earlier message of this sender and type under this Identificatie, if any."""
        ...
