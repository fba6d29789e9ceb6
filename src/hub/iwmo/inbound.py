"""Answering a 305/307 past level 1: replay, level 2, levels 3-4, the retour and the events.

The first level with an error decides, and one error rejects the whole message: no event
for any item. On approval the events come in document order, for one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.envelope import AMSTERDAM
from hub.iwmo.checks import check_state
from hub.iwmo.codes import RETOUR_ACCEPTED, RETOUR_REJECTED, Finding, IwmoCode
from hub.iwmo.events import care_events
from hub.iwmo.model import CareMessage
from hub.iwmo.retour import DEFAULT_XSD_VERSIE_RETOUR, Retourcodes, render_retour
from hub.iwmo.rules import document_findings
from hub.iwmo.state import CareDeliveries, IwmoState

__all__ = ["AMSTERDAM", "CareAnswer", "Receipt", "ReceiptContext", "answer_care_message"]


@dataclass(frozen=True, slots=True)
class ReceiptContext:
    """What the caller knows about a receipt: when, from whom, and the hub's configuration."""

    received_at: datetime
    """The moment of receipt, with a time zone (the events' ``time``)."""
    source: str
    """The sending provider's registered URN (the events' ``source``)."""
    gemeentecode: str
    """``iwmo.gemeentecode``: the only Ontvanger accepted (S300)."""
    pseudonymise: Callable[[str], str] = field(repr=False)
    """BSN -> keyed pseudonym, as in the routing state."""
    xsd_versie_retour: tuple[str, str] = DEFAULT_XSD_VERSIE_RETOUR

    @property
    def processed_on(self) -> date:
        """The processing date in Europe/Amsterdam: DagtekeningRetour and "today"."""
        return self.received_at.astimezone(AMSTERDAM).date()


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the caller stores for TR056 and replay: the message's identity and its retour."""

    afzender: str
    bericht_code: int
    identificatie: str
    digest: str
    retour: bytes = field(repr=False)
    accepted: bool


@dataclass(frozen=True, slots=True)
class CareAnswer:
    """The answer to a 305/307: the retour, its codes, the failures, and what to store."""

    accepted: bool
    retour: bytes = field(repr=False)
    """The 306/308 (it echoes the sender's Client: for the sender only, never logged)."""
    retourcodes: Retourcodes
    findings: tuple[Finding, ...]
    events: tuple[dict[str, Any], ...] = field(repr=False)
    """Publish these, in order, all or none, only when ``accepted``."""
    deliveries: dict[str, CareDeliveries] = field(repr=False)
    """Care records to store (per assignment number) with the events; empty unless accepted."""
    receipt: Receipt | None = field(repr=False)
    """Store for TR056 and replay (``receipt_to_keep``); None for a replay (already stored) and
    for other bytes under a used Identificatie (the first message's stays)."""
    replayed: bool = False
    """True when the same bytes came again: the stored retour, nothing published."""

    @property
    def receipt_to_keep(self) -> Receipt | None:
        """The receipt to store: None for a replay and for other bytes under a used Identificatie.

        Those must not replace the first message's receipt (whether they are answered 9056
        or fail before that check), or the first message's own resend would no longer be
        a replay.
        """
        if any(f.code is IwmoCode.IDENTIFICATIE_USED for f in self.findings):
            return None
        return self.receipt


def answer_care_message(
    message: CareMessage, state: IwmoState, context: ReceiptContext
) -> CareAnswer:
    """Answer a 305/307 that passed level 1 (``read_inbound``)."""
    header = message.header
    used = state.used_identificatie(header.afzender, header.kind.bericht_code, header.identificatie)
    if used is not None and used.digest == message.digest and used.retour is not None:
        return CareAnswer(used.accepted, used.retour, {}, (), (), {}, None, replayed=True)
    # Other bytes under a used Identificatie: whatever they are answered, their receipt
    # must not replace the first message's, or that message's resend is no replay.
    keep = used is None
    findings = document_findings(message)
    if findings:
        return _answer(message, context, {"Header": (RETOUR_REJECTED,)}, findings, keep=keep)
    verdict = check_state(
        message,
        state,
        today=context.processed_on,
        gemeentecode=context.gemeentecode,
        pseudonymise=context.pseudonymise,
    )
    if verdict.header is not None:
        return _answer(
            message, context, {"Header": (verdict.header.retourcode,)}, verdict.findings, keep=keep
        )
    if verdict.items:
        item = "StartProduct" if message.is_start else "StopProduct"
        codes: dict[str, tuple[str, ...]] = {
            "Header": (RETOUR_ACCEPTED,),
            "Client": (RETOUR_ACCEPTED,),
        }
        for each in message.items:
            failed = verdict.items.get(each.position)
            codes[f"{item}[{each.position}]"] = (
                (failed.retourcode,) if failed is not None else (RETOUR_ACCEPTED,)
            )
        return _answer(message, context, codes, verdict.findings, keep=keep)
    events = care_events(
        message, verdict.matched, source=context.source, received_at=context.received_at
    )
    answer = _answer(message, context, {}, [])
    return CareAnswer(
        True,
        answer.retour,
        {},
        (),
        tuple(events),
        verdict.deliveries,
        answer.receipt,
    )


def _answer(
    message: CareMessage,
    context: ReceiptContext,
    codes: Retourcodes,
    findings: list[Finding],
    *,
    keep: bool = True,
) -> CareAnswer:
    """The answer with its retour; ``keep``: a receipt to store (False: one is stored already)."""
    retour = render_retour(
        message,
        codes,
        processed_on=context.processed_on,
        xsd_versie_retour=context.xsd_versie_retour,
    )
    header = message.header
    receipt = (
        Receipt(
            header.afzender,
            header.kind.bericht_code,
            header.identificatie,
            message.digest,
            retour,
            not findings,
        )
        if keep
        else None
    )
    return CareAnswer(not findings, retour, codes, tuple(findings), (), {}, receipt)
