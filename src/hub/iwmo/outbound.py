"""Outbound 301: an ``assignments.issued`` for a provider with ``iwmo: true`` (section 6).

Only ``law: wmo`` with variant inspanningsgericht or outputgericht is translated; else the
reason is ``not-wmo`` or ``taakgericht``. The 301 lists the event's assignment plus each
other current assignment of the same client at the same provider (OP087), from the
``AssignmentRecord`` the caller keeps per assignment. A 301 that fails the section 2
structure or CS338 is not sent: reason ``not-renderable`` (the caller alerts).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from hub.envelope import AMSTERDAM
from hub.iwmo.codes import MessageRefused
from hub.iwmo.parsing import ensure_structure, parse_document
from hub.iwmo.structure import MessageKind
from hub.iwmo.xmlwrite import Node, leaf, node, serialise
from hub.privacy.pseudonym import pseudonyms_of

__all__ = [
    "DEFAULT_XSD_VERSIE",
    "OPTIONAL_IN_301",
    "RENDERED_FIELDS",
    "AssignedProduct",
    "AssignmentRecord",
    "RenderReason",
    "Rendering",
    "identificatie_301",
    "render_301",
]


DEFAULT_XSD_VERSIE = ("1.0.0", "1.0.0")
"""XsdVersie of a 301 (BasisschemaXsdVersie, BerichtXsdVersie) [U]: configurable."""

RenderReason = Literal["not-wmo", "taakgericht", "not-renderable"]

_TRANSLATED_VARIANTS = frozenset({"inspanningsgericht", "outputgericht"})
_CS338_UNITS = frozenset({"14", "16", "83", "84"})
_CS338_FREQUENCIES = frozenset({"2", "4", "6"})
_PHONE_NOISE = re.compile(r"[\s()\-]")
_DUTCH_TRUNK = re.compile(r"^(?:\+|00)31[\s\-]*\(0\)")
_WITHDRAWN_AT_START = "13"  # RedenWijziging after which a withdrawal ends on period.start


@dataclass(frozen=True, slots=True)
class AssignedProduct:
    """One ToegewezenProduct as last rendered (RedenWijziging is never kept: IV099)."""

    number: int
    category: str
    code: str | None
    issued_on: date
    issued_at: str
    """Toewijzingstijd, ``HH:MM:SS`` local time of the event."""
    start: date
    end: date | None
    volume: int | None = None
    unit: str | None = None
    frequency: str | None = None
    budget_cents: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The record's JSON form (for the caller's state store)."""
        return {
            "number": self.number,
            "category": self.category,
            "code": self.code,
            "issued_on": self.issued_on.isoformat(),
            "issued_at": self.issued_at,
            "start": self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "volume": self.volume,
            "unit": self.unit,
            "frequency": self.frequency,
            "budget_cents": self.budget_cents,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssignedProduct:
        """Read ``as_json``'s form."""
        return cls(
            number=int(data["number"]),
            category=str(data["category"]),
            code=data["code"],
            issued_on=date.fromisoformat(data["issued_on"]),
            issued_at=str(data["issued_at"]),
            start=date.fromisoformat(data["start"]),
            end=None if data["end"] is None else date.fromisoformat(data["end"]),
            volume=data["volume"],
            unit=data["unit"],
            frequency=data["frequency"],
            budget_cents=data["budget_cents"],
        )


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    """What the hub keeps per translated assignment: last ToegewezenProduct, provider, client."""

    number: str
    provider_agb: str
    client: str = field(repr=False)
    """The client's keyed pseudonym."""
    withdrawn: bool
    product: AssignedProduct
    period_end: date

    def as_json(self) -> dict[str, Any]:
        """The record's JSON form (for the caller's state store)."""
        return {
            "number": self.number,
            "provider_agb": self.provider_agb,
            "client": self.client,
            "withdrawn": self.withdrawn,
            "product": self.product.as_json(),
            "period_end": self.period_end.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssignmentRecord:
        """Read ``as_json``'s form."""
        return cls(
            number=str(data["number"]),
            provider_agb=str(data["provider_agb"]),
            client=str(data["client"]),
            withdrawn=bool(data["withdrawn"]),
            product=AssignedProduct.from_json(data["product"]),
            period_end=date.fromisoformat(data["period_end"]),
        )


@dataclass(frozen=True, slots=True)
class Rendering:
    """The 301 for one event (bytes) or the reason there is none; the record to keep."""

    wmo301: bytes | None = field(repr=False)
    reason: RenderReason | None
    record: AssignmentRecord | None = field(repr=False, default=None)
    """Keep this (replacing the assignment's earlier record) when ``wmo301`` is sent."""


RENDERED_FIELDS = (
    "assignment_number",
    "status",
    "change_reason",
    "law",
    "provider_agb",
    "client.bsn",
    "client.initials",
    "client.given_name",
    "client.family_name_prefix",
    "client.family_name",
    "client.birth_date",
    "client.address.street",
    "client.address.house_number",
    "client.address.house_letter",
    "client.address.house_number_addition",
    "client.address.postcode",
    "client.address.city",
    "client.phone",
    "product.category",
    "product.code",
    "period.start",
    "period.end",
    "scope.volume",
    "scope.unit",
    "scope.frequency",
    "scope.budget_cents",
    "variant",
    "issued_on",
)
"""Paths into ``assignments.issued`` data that a 301 carries or is derived from (section 8)."""

OPTIONAL_IN_301 = frozenset(
    {
        "client.initials",
        "client.given_name",
        "client.family_name_prefix",
        "client.address.house_letter",
        "client.address.house_number_addition",
        "client.phone",
    }
)
"""Rendered fields a 301 may go without: a view that leaves them out gets a 301 without
them. Without any other rendered field a 301 would say something else (a withdrawal's
Einddatum without its ``change_reason``, a product without its code): not renderable."""


def disclosed_fields(data: Mapping[str, Any]) -> list[str]:
    """The ``RENDERED_FIELDS`` present in ``data`` that its 301 carries: ``fields_disclosed``.

    A field the 301 leaves out is not listed: a phone with another country code or more
    than 15 digits, initials with no letters or more than 6, and a budget's product code.
    """
    client: Mapping[str, Any] = data.get("client") or {}
    scope: Mapping[str, Any] = data.get("scope") or {}
    left_out: set[str] = set()
    if _phone(client.get("phone")) is None:
        left_out.add("client.phone")
    if _initials(client.get("initials")) is None:
        left_out.add("client.initials")
    if scope.get("budget_cents") is not None:
        left_out.add("product.code")  # CD041: a budget's ToegewezenProduct has no Code
    present: list[str] = []
    for path in RENDERED_FIELDS:
        value: Any = data
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None and path not in left_out:
            present.append(path)
    return present


def identificatie_301(source: str, event_id: str) -> str:
    """The 301's Identificatie [D]: 12 lowercase hex of SHA-256 of ``<source>|<id>``."""
    return hashlib.sha256(f"{source}|{event_id}".encode()).hexdigest()[:12]


def _withdrawn_end(data: Mapping[str, Any], start: date, end: date, issued_on: date) -> date:
    # CS335: a withdrawal before the start (or with reason 13) ends the assignment at its start.
    if data.get("change_reason") == _WITHDRAWN_AT_START or issued_on < start:
        return start
    return min(end, issued_on)


def _assigned_product(data: Mapping[str, Any], local: datetime) -> AssignedProduct:
    period = data["period"]
    start = date.fromisoformat(period["start"])
    end = date.fromisoformat(period["end"])
    issued_on = date.fromisoformat(data["issued_on"])
    if data["status"] == "withdrawn":
        end = _withdrawn_end(data, start, end, issued_on)
    scope: Mapping[str, Any] = data.get("scope") or {}
    budget = scope.get("budget_cents")
    product = data["product"]
    return AssignedProduct(
        number=int(data["assignment_number"]),
        category=product["category"],
        code=None if budget is not None else product.get("code"),
        issued_on=issued_on,
        issued_at=local.strftime("%H:%M:%S"),
        start=start,
        end=end,
        volume=scope.get("volume"),
        unit=scope.get("unit"),
        frequency=scope.get("frequency"),
        budget_cents=budget,
    )


def _product_node(product: AssignedProduct, change_reason: str | None) -> Node:
    omvang = None
    if product.volume is not None and product.unit is not None and product.frequency is not None:
        omvang = node(
            "Omvang",
            leaf("Volume", str(product.volume), shared=True),
            leaf("Eenheid", product.unit, shared=True),
            leaf("Frequentie", product.frequency, shared=True),
        )
    return node(
        "ToegewezenProduct",
        leaf("ToewijzingNummer", str(product.number)),
        node(
            "Product",
            leaf("Categorie", product.category, shared=True),
            None if product.code is None else leaf("Code", product.code, shared=True),
        ),
        leaf("Toewijzingsdatum", product.issued_on.isoformat()),
        leaf("Toewijzingstijd", product.issued_at),
        leaf("Ingangsdatum", product.start.isoformat()),
        None if product.end is None else leaf("Einddatum", product.end.isoformat()),
        None if change_reason is None else leaf("RedenWijziging", change_reason),
        omvang,
        None if product.budget_cents is None else leaf("Budget", str(product.budget_cents)),
    )


def _initials(value: str | None) -> str | None:
    letters = "".join(char for char in value or "" if char.isalpha())
    return letters if 1 <= len(letters) <= 6 else None


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    # "+31 (0)6 ...": the Dutch trunk 0 in brackets after the country code is not dialled.
    digits = _PHONE_NOISE.sub("", _DUTCH_TRUNK.sub("0031", value.strip(), count=1))
    # The country code written with "+" or as dialled from the Netherlands ("00"):
    # "+31" and "0031" are Dutch, any other is another country's.
    for dutch in ("+31", "0031"):
        if digits.startswith(dutch):
            digits = "0" + digits[len(dutch) :]
    if digits.startswith("00"):
        return None
    if not digits.isascii() or not digits.isdigit() or not 1 <= len(digits) <= 15:
        return None  # another country code, or not 1-15 digits: no Telefoon
    return digits


def _optional(name: str, value: Any, *, shared: bool = True) -> Node | None:
    return None if value is None else leaf(name, str(value), shared=shared)


def _client_node(client: Mapping[str, Any], products: list[Node]) -> Node:
    address: Mapping[str, Any] = client["address"]
    phone = _phone(client.get("phone"))
    telefoon = None
    if phone is not None:
        telefoon = node(
            "Telefoon",
            node(
                "Telefoon01",
                leaf("Telefoonnummer", phone, shared=True),
                leaf("Landnummer", "0031", shared=True),
                shared=True,
            ),
        )
    postcode = str(address["postcode"]).replace(" ", "").upper()
    return node(
        "Client",
        leaf("Bsn", client["bsn"]),
        node("Geboortedatum", leaf("Datum", client["birth_date"], shared=True)),
        leaf("Geslacht", "0"),  # the contract has no gender: 0 unknown
        node(
            "Naam",
            node(
                "Geslachtsnaam",
                leaf("Achternaam", client["family_name"], shared=True),
                _optional("Voorvoegsel", client.get("family_name_prefix")),
                shared=True,
            ),
            _optional("Voornamen", client.get("given_name")),
            _optional("Voorletters", _initials(client.get("initials"))),
            leaf("NaamGebruik", "1", shared=True),  # CS050: own name
        ),
        node(
            "Contactgegevens",
            node(
                "Contact",
                leaf("Soort", "01"),  # BRP address
                node(
                    "Adres",
                    node(
                        "Huis",
                        leaf("Huisnummer", str(address["house_number"]), shared=True),
                        _optional("Huisletter", address.get("house_letter")),
                        _optional("HuisnummerToevoeging", address.get("house_number_addition")),
                        shared=True,
                    ),
                    leaf("Postcode", postcode, shared=True),
                    leaf("Straatnaam", str(address["street"])[:24], shared=True),
                    leaf("Plaatsnaam", str(address["city"])[:80], shared=True),
                    leaf("LandCode", "NL", shared=True),
                ),
                telefoon,
            ),
        ),
        node("ToegewezenProducten", *products),
    )


def _breaks_cs338(product: AssignedProduct) -> bool:
    return product.unit in _CS338_UNITS and product.frequency not in _CS338_FREQUENCIES


def render_301(
    event: Mapping[str, Any],
    *,
    others: Sequence[AssignmentRecord],
    gemeentecode: str,
    pseudonymise: Callable[[str], str],
    xsd_versie: tuple[str, str] = DEFAULT_XSD_VERSIE,
) -> Rendering:
    """The 301 for a validated ``assignments.issued`` CloudEvent (structured, ``data`` a dict).

    ``others`` are the kept records of the client's other assignments at that provider (the
    caller may pass more: withdrawn ones, other clients', ended ones are left out here).
    """
    try:
        return _render_301(event, others, gemeentecode, pseudonymise, xsd_versie)
    except KeyError:
        # The provider's view lacks a field a 301 holds: the privacy table, which a
        # privacy officer may narrow, left it out. Not sent, with the alert of section 6;
        # the event's other deliveries go as usual.
        return Rendering(None, "not-renderable")


def _render_301(
    event: Mapping[str, Any],
    others: Sequence[AssignmentRecord],
    gemeentecode: str,
    pseudonymise: Callable[[str], str],
    xsd_versie: tuple[str, str],
) -> Rendering:
    data: Mapping[str, Any] = event["data"]
    if data["law"] != "wmo":
        return Rendering(None, "not-wmo")
    if data["variant"] not in _TRANSLATED_VARIANTS:
        return Rendering(None, "taakgericht")
    local = datetime.fromisoformat(event["time"]).astimezone(AMSTERDAM)
    dagtekening = local.date()
    own = _assigned_product(data, local)
    # The kept records of earlier assignments may hold an earlier pseudonym key's pseudonym.
    clients = pseudonyms_of(pseudonymise, data["client"]["bsn"])
    client = clients[0]
    record = AssignmentRecord(
        number=data["assignment_number"],
        provider_agb=data["provider_agb"],
        client=client,
        withdrawn=data["status"] == "withdrawn",
        product=own,
        period_end=date.fromisoformat(data["period"]["end"]),
    )
    listed = [
        other.product
        for other in others
        if other.client in clients
        and other.provider_agb == record.provider_agb
        and not other.withdrawn
        and other.product.number != own.number
        and other.period_end >= dagtekening
    ]
    products = sorted([own, *listed], key=lambda product: product.number)
    if any(_breaks_cs338(product) for product in products):
        return Rendering(None, "not-renderable")
    change_reason = data.get("change_reason")
    header = node(
        "Header",
        leaf("BerichtCode", str(MessageKind.WMO301.bericht_code)),
        leaf("BerichtVersie", "3"),
        leaf("BerichtSubversie", "2"),
        leaf("Afzender", gemeentecode),
        leaf("Ontvanger", record.provider_agb),
        node(
            "BerichtIdentificatie",
            leaf("Identificatie", identificatie_301(event["source"], event["id"]), shared=True),
            leaf("Dagtekening", dagtekening.isoformat(), shared=True),
        ),
        node(
            "XsdVersie",
            leaf("BasisschemaXsdVersie", xsd_versie[0], shared=True),
            leaf("BerichtXsdVersie", xsd_versie[1], shared=True),
        ),
    )
    product_nodes = [
        _product_node(product, change_reason if product is own else None) for product in products
    ]
    document = serialise(
        node("Bericht", header, _client_node(data["client"], product_nodes)),
        MessageKind.WMO301.namespace,
    )
    # The output passes the same section 2 check as an inbound document, else it is not sent.
    try:
        ensure_structure(parse_document(document, max_bytes=len(document)), MessageKind.WMO301)
    except MessageRefused:
        return Rendering(None, "not-renderable")
    return Rendering(document, None, record)
