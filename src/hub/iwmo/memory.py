"""``IwmoState`` over the hub's routing state, with the translator's own records in memory.

The routing state holds the care family's assignment values (``assignment:<number>``);
the translator adds what iWmo needs beyond them: the care records (``CareDeliveries``)
per assignment, the receipts (TR056, replay), the ``AssignmentRecord`` of each
assignment whose 301 was sent, the 301s sent (to match a 302) and the 302 outcomes.
``hub iwmo`` keeps them in dicts; a store over Kafka keeps the same shapes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.iwmo.codes import Finding
from hub.iwmo.inbound import CareAnswer
from hub.iwmo.model import AssignmentRetour, ProductRef
from hub.iwmo.outbound import AssignmentRecord
from hub.iwmo.retour import Retourcodes
from hub.iwmo.state import AssignmentFacts, CareDeliveries, CareStart, CareStop, UsedIdentificatie
from hub.state.store import StateView

__all__ = ["CareOf", "KeptAnswer", "MemoryIwmoState", "SentWmo301"]

Value = Mapping[str, Any]
"""A routing-state value: here the care family's assignment (``hub.families.state``)."""

CareOf = Callable[[Value], Sequence[Mapping[str, Any]]]
"""The starts of an assignment's care, oldest first: ``{started_on, stops}``, each stop
``{stopped_on, stop_reason}`` (the care family's ``care_starts``)."""

ReceiptKey = tuple[str, int, str]
"""(Afzender, BerichtCode, Identificatie) of a heen message."""

Wmo301Key = tuple[str, str, str]
"""(Afzender, Ontvanger, Identificatie) of a 301: what a 302 names."""


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """The answer a 305/307 got, kept for TR056 and replay (30 days in the live hub)."""

    used: UsedIdentificatie
    retourcodes: Retourcodes
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class SentWmo301:
    """A 301 the hub sent: what a 302 must name, and its outcome once one came."""

    afzender: str
    ontvanger: str
    identificatie: str
    outcome: str | None = None
    """``acknowledged`` or ``rejected`` once a 302 answered it."""
    rejected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """The 302's codes per rejected ToewijzingNummer."""

    @property
    def key(self) -> Wmo301Key:
        """What a 302 names: Afzender, Ontvanger, Identificatie."""
        return (self.afzender, self.ontvanger, self.identificatie)


class MemoryIwmoState:
    """The translator's view of the hub: routing state read through, own records in memory.

    ``routing`` is the routing state as the current batch sees it; the caller may point it
    at another view (an overlay) between messages. ``assignment_key`` is the care family's
    key of an assignment (``hub.families.state.assignment_key``) and ``care_starts`` its
    reader of the care an assignment's value holds (``hub.families.state.care_starts``),
    passed in: the families sit above the engines, and the settings this package's section
    is part of sit below.
    """

    def __init__(
        self, routing: StateView, assignment_key: Callable[[str], str], care_starts: CareOf
    ) -> None:
        self.routing = routing
        self._care_starts = care_starts
        self._key = assignment_key
        self._prefix = assignment_key("")
        self.by_number: dict[int, set[str]] | None = None
        """Issued numbers by their value, kept by a caller that sees every state change
        (the gateway's book); None: found by a scan of the state (the command line)."""
        self.care: dict[str, CareDeliveries] = {}
        self.answers: dict[ReceiptKey, KeptAnswer] = {}
        self.records: dict[str, AssignmentRecord] = {}
        self.sent: dict[Wmo301Key, SentWmo301] = {}

    # ------------------------------------------------------------------ IwmoState

    def assignment(self, number: int) -> AssignmentFacts | None:
        """The issued assignment whose number equals ``number`` as an integer."""
        found = self._assignment(number)
        if found is None:
            return None
        issued, value = found
        record = self.records.get(issued)
        product = value.get("product") or {}
        period = value.get("period") or {}
        end = period.get("end")
        return AssignmentFacts(
            number=issued,
            provider_agb=str(value.get("provider_agb")),
            status=str(value.get("status")),
            law=str(value.get("law")),
            product=ProductRef(str(product.get("category")), product.get("code")),
            period_start=date.fromisoformat(str(period.get("start"))),
            period_end=None if end is None else date.fromisoformat(end),
            # The routing state keeps no scope: a budget is known from the 301 sent for it
            # (without one the provider has no iWmo assignment to answer with anyway).
            budget=record is not None and record.product.budget_cents is not None,
            clients=self._clients(issued, value),
        )

    def deliveries(self, assignment_number: str) -> CareDeliveries:
        """The kept care record; else the care the routing state knows from JSON events."""
        kept = self.care.get(assignment_number)
        if kept is not None:
            return kept
        value = self._value(assignment_number)
        return {"starts": [] if value is None else self._reported_starts(assignment_number, value)}

    def used_identificatie(
        self, afzender: str, bericht_code: int, identificatie: str
    ) -> UsedIdentificatie | None:
        """The earlier message of this sender and type under this Identificatie, if any."""
        kept = self.answers.get((afzender, bericht_code, identificatie))
        return None if kept is None else kept.used

    # ------------------------------------------------------------------ storing

    def keep_answer(self, answer: CareAnswer) -> None:
        """Store what an answer says to keep: its receipt and, on approval, the care records."""
        receipt = answer.receipt_to_keep
        if receipt is not None:
            self.answers[(receipt.afzender, receipt.bericht_code, receipt.identificatie)] = (
                KeptAnswer(
                    UsedIdentificatie(receipt.digest, receipt.retour, receipt.accepted),
                    dict(answer.retourcodes),
                    answer.findings,
                )
            )
        if answer.accepted:
            self.care.update(copy.deepcopy(answer.deliveries))

    def kept_answer(
        self, afzender: str, bericht_code: int, identificatie: str
    ) -> KeptAnswer | None:
        """The answer kept for this message (for a replay's codes)."""
        return self.answers.get((afzender, bericht_code, identificatie))

    def keep_301(self, sent: SentWmo301, record: AssignmentRecord) -> None:
        """Record a 301 sent, and keep its assignment's record (replacing the earlier one)."""
        self.sent[sent.key] = sent
        self.records[record.number] = record

    def match_302(self, retour: AssignmentRetour) -> SentWmo301 | None:
        """The 301 a 302 answers, with the 302's outcome recorded on it; None if none was sent."""
        sent = self.sent.get((retour.afzender, retour.ontvanger, retour.identificatie))
        if sent is None:
            return None
        answered = SentWmo301(
            sent.afzender,
            sent.ontvanger,
            sent.identificatie,
            retour.outcome,
            retour.rejected_numbers,
        )
        self.sent[sent.key] = answered
        return answered

    # ------------------------------------------------------------------ reading

    def _value(self, number: str) -> Value | None:
        return self.routing.get(self._key(number))

    def _assignment(self, number: int) -> tuple[str, Value] | None:
        # Numbers are issued as 1-8 digits and may carry leading zeros: the canonical form
        # is tried first, then every issued number (the state has no integer index).
        canonical = self._value(str(number))
        if canonical is not None:
            return str(number), canonical
        if self.by_number is not None:
            # An index, not a scan: an unknown number must not cost a pass over every
            # assignment (a document of unknown numbers would hold the gateway up).
            for issued in sorted(self.by_number.get(number, ())):
                value = self._value(issued)
                if value is not None:
                    return issued, value
            return None
        for key in sorted(self.routing.keys_with_prefix(self._prefix)):
            issued = key.removeprefix(self._prefix)
            if issued.isdigit() and int(issued) == number:
                value = self._value(issued)
                if value is not None:
                    return issued, value
        return None

    def _clients(self, number: str, value: Value) -> frozenset[str]:
        record = self.records.get(number)
        if record is not None:
            return frozenset({record.client})  # the client's own pseudonym
        client = value.get("client")
        if isinstance(client, str):  # the assignment's client, kept in the routing state
            return frozenset({client})
        # A state value written before the client was kept: its subjects are all the hub
        # knows (they may include a legal representative's pseudonym).
        return frozenset(value.get("subjects", ()))

    def _reported_starts(self, number: str, value: Value) -> list[CareStart]:
        """The starts (and stops) reported with JSON events, as an iWmo care record holds them."""
        clients = self._clients(number, value)
        if len(clients) != 1:
            return []
        product = value.get("product") or {}
        return [
            CareStart(
                client=next(iter(clients)),
                category=str(product.get("category")),
                code=product.get("code"),
                begin=start["started_on"],
                deleted=False,
                stops=[
                    CareStop(end=stop["stopped_on"], reason=stop["stop_reason"], deleted=False)
                    for stop in start["stops"]
                ],
            )
            for start in self._care_starts(value)
            if start["started_on"] is not None  # a stop whose start is unknown: no key
        ]
