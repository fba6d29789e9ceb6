"""Typed views of the inbound messages, read from a document that passed level 1.

Personal values (BSN, birth date) are kept out of ``repr``: a message object that reaches a
log line or a traceback shows identifiers and dates of care, never the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from lxml import etree

from hub.iwmo.structure import MessageKind

__all__ = [
    "AssignmentRetour",
    "CareClient",
    "CareItem",
    "CareMessage",
    "Header",
    "InboundMessage",
    "ProductRef",
]


@dataclass(frozen=True, slots=True)
class ProductRef:
    """A Product{Categorie, Code?} as sent (Code None when absent)."""

    category: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Header:
    """The heen Header's elements, as text where a retour repeats them unchanged."""

    kind: MessageKind
    versie: str
    subversie: str
    afzender: str
    ontvanger: str
    identificatie: str
    dagtekening: date
    basisschema_xsd_versie: str
    bericht_xsd_versie: str


@dataclass(frozen=True, slots=True)
class CareClient:
    """The fields of a 305/307 Client the rules read; a retour echoes the element itself."""

    bsn: str = field(repr=False)
    birth_date: date = field(repr=False)
    date_use: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class CareItem:
    """One StartProduct or StopProduct: position n (1-based) and its element path."""

    position: int
    path: str
    assignment_number: int | None
    product: ProductRef | None
    assignment_start: date | None
    begin: date
    status: str
    end: date | None = None
    reason: str | None = None

    def key(self, client_pseudonym: str) -> tuple[object, ...]:
        """The logical key: Bsn (as pseudonym), ToewijzingNummer, Product, Begindatum (+ stop)."""
        return (
            client_pseudonym,
            self.assignment_number,
            self.product,
            self.begin,
            self.end,
            self.reason,
        )


@dataclass(frozen=True, slots=True)
class CareMessage:
    """A 305 (care started) or 307 (care stopped) past level 1."""

    header: Header
    client: CareClient
    items: tuple[CareItem, ...]
    digest: str
    """SHA-256 (hex) of the document's bytes as received: a replay is the same bytes."""
    client_element: etree._Element = field(repr=False, compare=False)

    @property
    def kind(self) -> MessageKind:
        """WMO305 or WMO307."""
        return self.header.kind

    @property
    def is_start(self) -> bool:
        """True for a 305."""
        return self.header.kind is MessageKind.WMO305


@dataclass(frozen=True, slots=True)
class AssignmentRetour:
    """A 302 (retour on a 301) past level 1: which 301 it answers, and its retourcodes."""

    afzender: str
    """The 301's Afzender: the gemeentecode."""
    ontvanger: str
    """The 301's Ontvanger: the provider's AGB."""
    identificatie: str
    """The 301's Identificatie."""
    header_codes: tuple[str, ...]
    client_codes: tuple[str, ...]
    product_codes: dict[str, tuple[str, ...]]
    """RetourCodes per ToewijzingNummer (canonical decimal)."""
    other_codes: tuple[str, ...]
    """RetourCodes of Contact and Relatie classes."""

    @property
    def outcome(self) -> str:
        """``acknowledged`` if no RetourCode but 0200, else ``rejected`` (a Header-only 302 approves)."""
        codes = (
            *self.header_codes,
            *self.client_codes,
            *self.other_codes,
            *(code for codes in self.product_codes.values() for code in codes),
        )
        return "acknowledged" if all(code == "0200" for code in codes) else "rejected"

    def as_dict(self) -> dict[str, str]:
        """``retour_of`` of ``hub iwmo inbound``: the 301's Identificatie and the outcome."""
        return {"identificatie": self.identificatie, "outcome": self.outcome}

    @property
    def rejected_numbers(self) -> dict[str, tuple[str, ...]]:
        """The ToewijzingNummers with a RetourCode other than 0200, and their codes."""
        return {
            number: codes
            for number, codes in self.product_codes.items()
            if any(code != "0200" for code in codes)
        }


InboundMessage = CareMessage | AssignmentRetour
