"""Level 1: read an inbound document safely, check its structure and sender, type it.

The order is the spec's table: size before parsing, then DTDs (refused before anything
else reads the document), entities and external references, well-formed UTF-8, a supported root, the
section 2 structure, and last the sender's AGB. Every refusal is a ``MessageRefused`` with
a code and an element location; no parser message is kept (they quote the input).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

from lxml import etree

from hub.iwmo.codes import IwmoCode, MessageRefused, Problem
from hub.iwmo.model import (
    AssignmentRetour,
    CareClient,
    CareItem,
    CareMessage,
    Header,
    InboundMessage,
    ProductRef,
)
from hub.iwmo.structure import BASIS_NS, MessageKind, first_fault, integer_value

__all__ = [
    "DEFAULT_MAX_BYTES",
    "INBOUND_KINDS",
    "MAX_BYTES_LIMIT",
    "claimed_sender",
    "parse_document",
    "read_inbound",
]

DEFAULT_MAX_BYTES = 1024 * 1024
"""``iwmo.max_bytes`` by default: 1 MiB."""

MAX_BYTES_LIMIT = 25_000_000
"""The highest ``iwmo.max_bytes`` allowed (OP179: 25 MB)."""

INBOUND_KINDS = (MessageKind.WMO302, MessageKind.WMO305, MessageKind.WMO307)
"""The messages a provider may post; iWmo 315-325 and iJw are refused (MESSAGE_UNSUPPORTED)."""

_BOM = b"\xef\xbb\xbf"
# Markup declarations only a DTD holds; refused before the parser sees them. (A comment that
# spells one is refused too: no iWmo document needs to.)
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)")
# XInclude (its 2001 namespace and the 2003 draft's): an element that loads another resource.
_XINCLUDE_NAMESPACES = frozenset(
    {"http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"}
)
_XML_DECL_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ENTITY_ERRORS = frozenset(
    {
        "ERR_UNDECLARED_ENTITY",
        "WAR_UNDECLARED_ENTITY",
        "ERR_ENTITY_PROCESSING",
        "ERR_EXT_ENTITY_STANDALONE",
        "ERR_UNPARSED_ENTITY",
        "ERR_ENTITY_IS_EXTERNAL",
        "ERR_ENTITY_IS_PARAMETER",
        "ERR_ENTITY_LOOP",
        "ERR_ENTITY_BOUNDARY",
        "ERR_ENTITY_PE_INTERNAL",
    }
)


def _refuse(code: IwmoCode, path: str = "/") -> MessageRefused:
    return MessageRefused(Problem(code, path))


def _declares_dtd(body: bytes) -> bool:
    """Whether the bytes hold a markup declaration, also in UTF-16 or UTF-32.

    Those encodings write ASCII with NUL bytes between, so only bytes with a NUL are read
    in them (such a document is refused as not UTF-8 anyway; a DTD is named first).
    """
    if _DECLARATION.search(body) is not None:
        return True
    if b"\x00" not in body:
        return False
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _DECLARATION.search(text.encode("utf-8", "replace")) is not None:
            return True
    return False


def _external_reference(node: etree._ProcessingInstruction) -> bool:
    """A processing instruction naming a resource: a style sheet, a schema (xml-model), any href."""
    return node.target in ("xml-stylesheet", "xml-model") or node.get("href") is not None


def parse_document(data: bytes, *, max_bytes: int) -> etree._Element:
    """Parse ``data`` into its root element, refusing what level 1 refuses before structure.

    Raises ``MessageRefused`` with XML_TOO_LARGE, XML_FORBIDDEN or XML_MALFORMED. A UTF-8 BOM
    and LF line ends are tolerated; another encoding, declared or actual, is XML_MALFORMED.
    """
    if len(data) > max_bytes:
        raise _refuse(IwmoCode.XML_TOO_LARGE)
    body = data.removeprefix(_BOM)
    # A DTD is refused first, before any other reading of the document, in whatever
    # encoding it is written (the document is refused as not UTF-8 right after).
    if _declares_dtd(body):
        raise _refuse(IwmoCode.XML_FORBIDDEN)
    try:
        body.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise _refuse(IwmoCode.XML_MALFORMED) from None
    if b"\x00" in body:
        # U+0000 is never an XML character. UTF-16 or UTF-32 of ASCII text without a BOM is
        # also valid UTF-8 (NUL bytes between), which the parser would decode as such.
        raise _refuse(IwmoCode.XML_MALFORMED)
    if body.startswith(_BOM):
        # One BOM is tolerated; a second is a character before the prolog, which the
        # parser would skip as if it were the first.
        raise _refuse(IwmoCode.XML_MALFORMED)
    declared = _XML_DECL_ENCODING.match(body)
    if declared is not None and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise _refuse(IwmoCode.XML_MALFORMED)
    # A parser per document: lxml keeps a parser's error log across uses.
    parser = etree.XMLParser(
        encoding="utf-8",  # never the parser's own guess from the first bytes
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        # The parser's own log: the exception's log may hold earlier documents' errors.
        kinds = {entry.type_name for entry in parser.error_log}
        code = IwmoCode.XML_FORBIDDEN if kinds & _ENTITY_ERRORS else IwmoCode.XML_MALFORMED
        raise _refuse(code) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _refuse(IwmoCode.XML_FORBIDDEN)
    for node in root.getroottree().iter():
        if isinstance(node, etree._Entity):
            raise _refuse(IwmoCode.XML_FORBIDDEN)
        if isinstance(node.tag, str) and etree.QName(node).namespace in _XINCLUDE_NAMESPACES:
            raise _refuse(IwmoCode.XML_FORBIDDEN)  # an external reference, never resolved
        if isinstance(node, etree._ProcessingInstruction) and _external_reference(node):
            raise _refuse(IwmoCode.XML_FORBIDDEN)
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction) and _external_reference(sibling):
            raise _refuse(IwmoCode.XML_FORBIDDEN)
    return root


def kind_of(root: etree._Element, kinds: tuple[MessageKind, ...]) -> MessageKind:
    """Which of ``kinds`` the root is a Bericht of; else MESSAGE_UNSUPPORTED."""
    qname = etree.QName(root)
    for kind in kinds:
        if qname.localname == "Bericht" and qname.namespace == kind.namespace:
            return kind
    raise _refuse(
        IwmoCode.MESSAGE_UNSUPPORTED, "/Bericht" if qname.localname == "Bericht" else "/*"
    )


def read_inbound(data: bytes, *, sender_agb: str, max_bytes: int) -> InboundMessage:
    """Level 1 for a document posted by the provider with ``sender_agb``: a typed message.

    Raises ``MessageRefused`` for every level-1 code but RETOUR_UNMATCHED (the caller
    matches a 302 to the 301s it sent).
    """
    root = parse_document(data, max_bytes=max_bytes)
    kind = kind_of(root, INBOUND_KINDS)
    ensure_structure(root, kind)
    if kind is MessageKind.WMO302:
        retour = _assignment_retour(root)
        if retour.ontvanger != sender_agb:
            raise _refuse(IwmoCode.AGB_NOT_SENDER, "/Bericht/Header/Ontvanger")
        return retour
    message = _care_message(root, kind, hashlib.sha256(data).hexdigest())
    if message.header.afzender != sender_agb:
        raise _refuse(IwmoCode.AGB_NOT_SENDER, "/Bericht/Header/Afzender")
    return message


def claimed_sender(data: bytes, *, max_bytes: int) -> tuple[str, str]:
    """The AGB a document names as its sender, and its path: a 305/307's Afzender, a 302's Ontvanger.

    For a caller that learns the sender from the document (``hub iwmo inbound`` without
    ``--sender``). Raises ``MessageRefused`` for every level-1 code before the sender check.
    """
    root = parse_document(data, max_bytes=max_bytes)
    kind = kind_of(root, INBOUND_KINDS)
    ensure_structure(root, kind)
    name = "Ontvanger" if kind is MessageKind.WMO302 else "Afzender"
    return _text(_get(root, "Header", kind.namespace), name, kind.namespace), (
        f"/Bericht/Header/{name}"
    )


def ensure_structure(root: etree._Element, kind: MessageKind) -> None:
    """Raise XSD_INVALID at the first element that breaks ``kind``'s section 2 structure."""
    fault = first_fault(root, kind)
    if fault is not None:
        raise _refuse(IwmoCode.XSD_INVALID, fault)


# --- reading a valid tree ------------------------------------------------------------------


def _number(text: str) -> int:
    # A Nummer the structure check accepted.
    value = integer_value(text)
    assert value is not None
    return value


def _find(element: etree._Element, name: str, ns: str) -> etree._Element | None:
    return element.find(f"{{{ns}}}{name}")


def _get(element: etree._Element, name: str, ns: str) -> etree._Element:
    found = _find(element, name, ns)
    if found is None:  # the structure check ran first; a missing element is a bug here
        raise LookupError(f"element {name} missing after the structure check")
    return found


def _text(element: etree._Element, name: str, ns: str) -> str:
    return _get(element, name, ns).text or ""


def _optional_text(element: etree._Element, name: str, ns: str) -> str | None:
    found = _find(element, name, ns)
    return None if found is None else (found.text or "")


def _header(root: etree._Element, kind: MessageKind, ns: str) -> Header:
    header = _get(root, "Header", ns)
    ident = _get(header, "BerichtIdentificatie", ns)
    versie = _get(header, "XsdVersie", ns)
    return Header(
        kind=kind,
        versie=_text(header, "BerichtVersie", ns),
        subversie=_text(header, "BerichtSubversie", ns),
        afzender=_text(header, "Afzender", ns),
        ontvanger=_text(header, "Ontvanger", ns),
        identificatie=_text(ident, "Identificatie", BASIS_NS),
        dagtekening=date.fromisoformat(_text(ident, "Dagtekening", BASIS_NS)),
        basisschema_xsd_versie=_text(versie, "BasisschemaXsdVersie", BASIS_NS),
        bericht_xsd_versie=_text(versie, "BerichtXsdVersie", BASIS_NS),
    )


def _optional_date(element: etree._Element, name: str, ns: str) -> date | None:
    text = _optional_text(element, name, ns)
    return None if text is None else date.fromisoformat(text)


def _care_message(root: etree._Element, kind: MessageKind, digest: str) -> CareMessage:
    ns = kind.namespace
    client = _get(root, "Client", ns)
    birth = _get(client, "Geboortedatum", ns)
    start = kind is MessageKind.WMO305
    name = "StartProduct" if start else "StopProduct"
    items: list[CareItem] = []
    for position, item in enumerate(_get(client, f"{name}en", ns).iterfind(f"{{{ns}}}{name}"), 1):
        number = _optional_text(item, "ToewijzingNummer", ns)
        product = _find(item, "Product", ns)
        items.append(
            CareItem(
                position=position,
                path=f"/Bericht/Client/{name}en/{name}[{position}]",
                assignment_number=None if number is None else _number(number),
                product=None
                if product is None
                else ProductRef(
                    _text(product, "Categorie", BASIS_NS),
                    _optional_text(product, "Code", BASIS_NS),
                ),
                assignment_start=_optional_date(item, "ToewijzingIngangsdatum", ns),
                begin=date.fromisoformat(_text(item, "Begindatum", ns)),
                status=_text(item, "StatusAanlevering", ns),
                end=None if start else date.fromisoformat(_text(item, "Einddatum", ns)),
                reason=None if start else _text(item, "RedenBeeindiging", ns),
            )
        )
    return CareMessage(
        header=_header(root, kind, ns),
        client=CareClient(
            bsn=_text(client, "Bsn", ns),
            birth_date=date.fromisoformat(_text(birth, "Datum", BASIS_NS)),
            date_use=_optional_text(birth, "DatumGebruik", BASIS_NS),
        ),
        items=tuple(items),
        digest=digest,
        client_element=client,
    )


def _codes(element: etree._Element | None, ns: str) -> tuple[str, ...]:
    if element is None:
        return ()
    codes = _find(element, "RetourCodes", ns)
    if codes is None:
        return ()
    return tuple(code.text or "" for code in codes.iterfind(f"{{{ns}}}RetourCode"))


def _assignment_retour(root: etree._Element) -> AssignmentRetour:
    ns = MessageKind.WMO302.namespace
    header = _header(root, MessageKind.WMO302, ns)
    client = _find(root, "Client", ns)
    product_codes: dict[str, tuple[str, ...]] = {}
    other: list[str] = []
    if client is not None:
        for product in client.iterfind(f"{{{ns}}}ToegewezenProducten/{{{ns}}}ToegewezenProduct"):
            number = str(_number(_text(product, "ToewijzingNummer", ns)))
            product_codes[number] = product_codes.get(number, ()) + _codes(product, ns)
        for contact in client.iterfind(f"{{{ns}}}Contactgegevens/{{{ns}}}Contact"):
            other += _codes(contact, ns)
        relaties = _find(client, "Relaties", ns)
        if relaties is not None:  # typed [U]: any RetourCode below it counts
            other += [code.text or "" for code in relaties.iter(f"{{{ns}}}RetourCode")]
    return AssignmentRetour(
        afzender=header.afzender,
        ontvanger=header.ontvanger,
        identificatie=header.identificatie,
        header_codes=_codes(_get(root, "Header", ns), ns),
        client_codes=_codes(client, ns),
        product_codes=product_codes,
        other_codes=tuple(other),
    )
