"""The retour on a 305 or 307 (a 306 or 308), exactly as spec iwmo.md sections 2 and 3 say.

Three shapes: approval (Header alone, no RetourCodes), a Header-only rejection (level 2:
``0001``; a level 3-4 Header rule: its code), and a full rejection (Header and Client
``0200``, the Client echoed unchanged with each StartProduct/StopProduct's code last).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date

from hub.iwmo.model import CareMessage
from hub.iwmo.structure import MessageKind
from hub.iwmo.xmlwrite import Node, from_element, leaf, node, serialise

__all__ = [
    "DEFAULT_XSD_VERSIE_RETOUR",
    "RETOUR_OF",
    "Retourcodes",
    "identificatie_retour",
    "render_retour",
]

Retourcodes = Mapping[str, tuple[str, ...]]
"""Class -> codes: ``Header``, ``Client``, ``StartProduct[n]``/``StopProduct[n]`` (n 1-based)."""

DEFAULT_XSD_VERSIE_RETOUR = ("1.0.0", "1.0.0")
"""XsdVersieRetour (BasisschemaXsdVersie, BerichtXsdVersie) [U]: configurable."""

RETOUR_OF = {MessageKind.WMO305: MessageKind.WMO306, MessageKind.WMO307: MessageKind.WMO308}
"""The retour message of each heen message the hub answers."""


def identificatie_retour(afzender: str, bericht_code: int, identificatie: str) -> str:
    """IdentificatieRetour [D]: 12 lowercase hex of SHA-256 of ``retour|Afzender|code|Identificatie``."""
    text = f"retour|{afzender}|{bericht_code}|{identificatie}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _codes(codes: tuple[str, ...]) -> Node:
    return node("RetourCodes", *(leaf("RetourCode", code) for code in codes))


def render_retour(
    message: CareMessage,
    retourcodes: Retourcodes,
    *,
    processed_on: date,
    xsd_versie_retour: tuple[str, str] = DEFAULT_XSD_VERSIE_RETOUR,
) -> bytes:
    """The 306/308 answering ``message``; ``retourcodes`` empty means approval.

    Without a ``Client`` class the retour is the Header alone (with the Header's codes,
    if any); with one, the Client is echoed and every class gets its codes as last child.
    ``processed_on`` is DagtekeningRetour: the processing date in Europe/Amsterdam.
    """
    heen = message.header
    kind = RETOUR_OF[heen.kind]
    header = node(
        "Header",
        leaf("BerichtCode", str(kind.bericht_code)),
        leaf("BerichtVersie", heen.versie),
        leaf("BerichtSubversie", heen.subversie),
        leaf("Afzender", heen.afzender),
        leaf("Ontvanger", heen.ontvanger),
        node(
            "BerichtIdentificatie",
            leaf("Identificatie", heen.identificatie, shared=True),
            leaf("Dagtekening", heen.dagtekening.isoformat(), shared=True),
        ),
        node(
            "XsdVersie",
            leaf("BasisschemaXsdVersie", heen.basisschema_xsd_versie, shared=True),
            leaf("BerichtXsdVersie", heen.bericht_xsd_versie, shared=True),
        ),
        leaf(
            "IdentificatieRetour",
            identificatie_retour(heen.afzender, heen.kind.bericht_code, heen.identificatie),
        ),
        leaf("DagtekeningRetour", processed_on.isoformat()),
        node(
            "XsdVersieRetour",
            leaf("BasisschemaXsdVersie", xsd_versie_retour[0], shared=True),
            leaf("BerichtXsdVersie", xsd_versie_retour[1], shared=True),
        ),
        _codes(retourcodes["Header"]) if retourcodes.get("Header") else None,
    )
    client: Node | None = None
    if "Client" in retourcodes:
        item = "StartProduct" if message.is_start else "StopProduct"
        extra: dict[str, tuple[Node, ...]] = {".": (_codes(retourcodes["Client"]),)}
        for position in range(1, len(message.items) + 1):
            codes = retourcodes[f"{item}[{position}]"]
            extra[f"{item}en[1]/{item}[{position}]"] = (_codes(codes),)
        client = from_element(message.client_element, extra=extra)
    return serialise(node("Bericht", header, client), kind.namespace)
