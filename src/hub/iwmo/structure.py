"""The iWmo 3.2 message structure (spec iwmo.md section 2) as data, and its validator.

Why typed models and not XSD files: the official XSDs belong to Zorginstituut Nederland and
are not copied here, and an XSD validator's errors are messages that quote values, with
node paths in libxml2's own notation. This model is written from the spec's section 2; the
validator walks the tree once and stops at the first fault with a path in the contract's
notation (``/Bericht/Client/StartProducten/StartProduct[2]/Begindatum``). The same model
checks inbound 302/305/307 and every document the hub renders (301, 306, 308).

Strictness, decided here: values are matched exactly (no surrounding whitespace), no
element has attributes (also no ``xsi:*``), complex elements hold whitespace only between
their children; comments and processing instructions are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, time
from enum import IntEnum

from lxml import etree

__all__ = [
    "BASIS_NS",
    "Group",
    "Leaf",
    "MessageKind",
    "Opaque",
    "Particle",
    "first_fault",
    "message_ns",
    "schema_of",
]

BASIS_NS = "http://www.istandaarden.nl/iwmo/3_2/basisschema/schema"
"""The shared (basisschema) namespace."""


class MessageKind(IntEnum):
    """The iWmo 3.2 messages the hub reads or writes; the value is the message number."""

    WMO301 = 301
    WMO302 = 302
    WMO305 = 305
    WMO306 = 306
    WMO307 = 307
    WMO308 = 308

    @property
    def bericht_code(self) -> int:
        """The message's fixed BerichtCode."""
        return _BERICHT_CODES[self]

    @property
    def namespace(self) -> str:
        """The message's own namespace."""
        return message_ns(self.value)


_BERICHT_CODES = {
    MessageKind.WMO301: 414,
    MessageKind.WMO302: 415,
    MessageKind.WMO305: 418,
    MessageKind.WMO306: 419,
    MessageKind.WMO307: 420,
    MessageKind.WMO308: 421,
}


def message_ns(number: int) -> str:
    """The namespace of message ``number`` (301, 302, 305 ...)."""
    return f"http://www.istandaarden.nl/iwmo/3_2/wmo{number}/schema"


# --- simple types --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimpleType:
    """A named test of an element's text."""

    name: str
    accepts: Callable[[str], bool]


def _pattern(name: str, regex: str) -> SimpleType:
    compiled = re.compile(regex)
    return SimpleType(name, lambda text: compiled.fullmatch(text) is not None)


def _length(name: str, low: int, high: int) -> SimpleType:
    return SimpleType(name, lambda text: low <= len(text) <= high)


def _codes(name: str, codes: str) -> SimpleType:
    allowed = frozenset(codes.split())
    return SimpleType(name, lambda text: text in allowed)


def _code_range(name: str, low: int, high: int, width: int) -> SimpleType:
    return _codes(name, " ".join(f"{n:0{width}d}" for n in range(low, high + 1)))


_DIGITS = re.compile(r"[0-9]+")
_MAX_DIGITS = 18


def integer_value(text: str) -> int | None:
    """The value of an xs:integer of at most 18 significant digits (sign, leading zeros); else None.

    Read without the zeros (int() refuses a text of more than 4,300 digits), and without
    a pattern that backtracks over them: a million zeros before a 19th digit take one pass.
    """
    digits = text[1:] if text[:1] in ("+", "-") else text
    if _DIGITS.fullmatch(digits) is None:
        return None
    significant = digits.lstrip("0") or "0"
    if len(significant) > _MAX_DIGITS:
        return None
    value = int(significant)
    return -value if text[:1] == "-" else value


def _integer(name: str, high: int) -> SimpleType:
    def accepts(text: str) -> bool:
        value = integer_value(text)
        return value is not None and 0 <= value <= high

    return SimpleType(name, accepts)


def _is_date(text: str) -> bool:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) is None:
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_time(text: str) -> bool:
    if re.fullmatch(r"[0-9]{2}:[0-9]{2}:[0-9]{2}", text) is None:
        return False
    try:
        time.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_identificatie(text: str) -> bool:
    return 1 <= len(text) <= 12 and not text.isspace()


def _is_initials(text: str) -> bool:
    return 1 <= len(text) <= 6 and text.isalpha()


# ISO 3166-1 alpha-2, the officially assigned codes. Written out: no dependency of the
# project holds the list, and one constant is cheaper than a package for it.
_ISO_3166 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
ISO_COUNTRIES = frozenset(_ISO_3166.split())

DATUM = SimpleType("Datum", _is_date)
TIJD = SimpleType("Tijd", _is_time)
VERSIE = _pattern("Versie", r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
AGB = _pattern("AGB", r"[0-9]{8}")
GEMEENTE = _pattern("Gemeente", r"[0-9]{4}")
BSN = _pattern("Bsn", r"[0-9]{9}")
NUMMER = _integer("Nummer", 999_999_999)
IDENTIFICATIE = SimpleType("Identificatie", _is_identificatie)
NAAM = _length("Naam", 1, 200)
VOORVOEGSEL = _length("Voorvoegsel", 1, 10)
VOORLETTERS = SimpleType("Voorletters", _is_initials)
STRAATNAAM = _length("Straatnaam", 1, 24)
PLAATSNAAM = _length("Plaatsnaam", 1, 80)
HUISLETTER = _pattern("Huisletter", r"[A-Za-z]")
TOEVOEGING = _length("HuisnummerToevoeging", 1, 4)
LANDNUMMER = _length("Landnummer", 1, 4)
TELEFOONNUMMER = _pattern("Telefoonnummer", r"[0-9]{1,15}")
HUISNUMMER = _integer("Huisnummer", 99_999)
BEDRAG = _integer("Volume", 99_999_999)  # Volume and Budget (euro cents) share the range
PRODUCTCODE = _length("Code", 1, 5)
POSTCODE = _pattern("Postcode", r"[0-9A-Z]{1,12}")  # [D] not typed by the spec
WOONADRES = _codes("AanduidingWoonadres", "BY TO")  # [U] not typed by the spec
RETOURCODE = _pattern("RetourCode", r"[0-9A-Z]{4}")  # [D] the list is long and grows
CATEGORIE = _code_range("Categorie", 1, 18, 2)  # WMO020
EENHEID = _codes("Eenheid", "01 04 14 16 82 83 84")  # WJ756
FREQUENTIE = _codes("Frequentie", "1 2 4 6")  # WMO757
REDEN_BEEINDIGING = _codes("RedenBeeindiging", "02 19 20 21 22 23 31 36 37 38 39")  # WMO588
REDEN_WIJZIGING = _code_range("RedenWijziging", 1, 14, 2)  # WMO002
STATUS_AANLEVERING = _codes("StatusAanlevering", "1 2 3 9")  # COD467
GESLACHT = _codes("Geslacht", "0 1 2")  # COD046
DATUM_GEBRUIK = _codes("DatumGebruik", "1 2 3")
NAAM_GEBRUIK = _codes("NaamGebruik", "1 2 3 4 5 6")
SOORT = _codes("Soort", "01 02 03 04")  # COD757
LANDCODE = SimpleType("LandCode", lambda text: text in ISO_COUNTRIES)


def _fixed(name: str, value: str) -> SimpleType:
    return SimpleType(name, lambda text: text == value)


# --- particles -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    """An element holding text of a simple type."""

    name: str
    type: SimpleType
    shared: bool = False
    min: int = 1
    max: int = 1


@dataclass(frozen=True, slots=True)
class Group:
    """An element holding a fixed sequence of child elements."""

    name: str
    children: tuple[Particle, ...]
    shared: bool = False
    min: int = 1
    max: int = 1


@dataclass(frozen=True, slots=True)
class Opaque:
    """An element the spec names but does not type [U]: any content, never rendered by the hub."""

    name: str
    shared: bool = False
    min: int = 0
    max: int = 1


Particle = Leaf | Group | Opaque

UNBOUNDED = 1_000_000


def _opt(particle: Particle) -> Particle:
    if isinstance(particle, Leaf):
        return Leaf(particle.name, particle.type, particle.shared, 0, particle.max)
    if isinstance(particle, Group):
        return Group(particle.name, particle.children, particle.shared, 0, particle.max)
    return particle


def _s(name: str, kind: SimpleType, *, optional: bool = False) -> Leaf:
    return Leaf(name, kind, shared=True, min=0 if optional else 1)


def _m(name: str, kind: SimpleType, *, optional: bool = False) -> Leaf:
    return Leaf(name, kind, shared=False, min=0 if optional else 1)


def _bericht_identificatie() -> Group:
    return Group(
        "BerichtIdentificatie", (_s("Identificatie", IDENTIFICATIE), _s("Dagtekening", DATUM))
    )


def _xsd_versie(name: str, *, shared: bool = False) -> Group:
    return Group(
        name,
        (_s("BasisschemaXsdVersie", VERSIE), _s("BerichtXsdVersie", VERSIE)),
        shared=shared,
    )


def _geboortedatum() -> Group:
    return Group(
        "Geboortedatum", (_s("Datum", DATUM), _s("DatumGebruik", DATUM_GEBRUIK, optional=True))
    )


def _product(*, optional: bool) -> Group:
    return Group(
        "Product",
        (_s("Categorie", CATEGORIE), _s("Code", PRODUCTCODE, optional=True)),
        min=0 if optional else 1,
    )


def _geslachtsnaam(name: str, *, optional: bool = False) -> Group:
    return Group(
        name,
        (_s("Achternaam", NAAM), _s("Voorvoegsel", VOORVOEGSEL, optional=True)),
        shared=True,
        min=0 if optional else 1,
    )


def _naam(*, full: bool) -> Group:
    children: list[Particle] = [_geslachtsnaam("Geslachtsnaam")]
    if full:
        children.append(_geslachtsnaam("Partnernaam", optional=True))
    children += [
        _s("Voornamen", NAAM, optional=True),
        _s("Voorletters", VOORLETTERS, optional=True),
    ]
    if full:
        children.append(_s("NaamGebruik", NAAM_GEBRUIK))
    return Group("Naam", tuple(children))


def _adres() -> Group:
    huis = Group(
        "Huis",
        (
            _s("Huisnummer", HUISNUMMER),
            _s("Huisletter", HUISLETTER, optional=True),
            _s("HuisnummerToevoeging", TOEVOEGING, optional=True),
            _s("AanduidingWoonadres", WOONADRES, optional=True),
        ),
        shared=True,
        min=0,
    )
    return Group(
        "Adres",
        (
            huis,
            _s("Postcode", POSTCODE, optional=True),
            _s("Straatnaam", STRAATNAAM, optional=True),
            _s("Plaatsnaam", PLAATSNAAM, optional=True),
            _s("LandCode", LANDCODE, optional=True),
        ),
        min=0,
    )


def _telefoon() -> Group:
    def number(name: str, minimum: int) -> Group:
        return Group(
            name,
            (_s("Telefoonnummer", TELEFOONNUMMER), _s("Landnummer", LANDNUMMER)),
            shared=True,
            min=minimum,
        )

    return Group("Telefoon", (number("Telefoon01", 1), number("Telefoon02", 0)), min=0)


def _retourcodes(*, optional: bool = False) -> Group:
    return Group(
        "RetourCodes", (Leaf("RetourCode", RETOURCODE, max=UNBOUNDED),), min=0 if optional else 1
    )


def _header(kind: MessageKind, heen: MessageKind) -> Group:
    """The Header of ``kind``; a retour's Header repeats its heen message's elements."""
    to_provider = heen is MessageKind.WMO301
    children: list[Particle] = [
        _m("BerichtCode", _fixed("BerichtCode", str(kind.bericht_code))),
        _m("BerichtVersie", _fixed("BerichtVersie", "3")),
        _m("BerichtSubversie", _fixed("BerichtSubversie", "2")),
        _m("Afzender", GEMEENTE if to_provider else AGB),
        _m("Ontvanger", AGB if to_provider else GEMEENTE),
        _bericht_identificatie(),
        _xsd_versie("XsdVersie"),
    ]
    if kind is not heen:
        children += [
            _m("IdentificatieRetour", IDENTIFICATIE),
            _m("DagtekeningRetour", DATUM),
            _m("XsltVersie", VERSIE, optional=True),
            _xsd_versie("XsdVersieRetour"),
            _retourcodes(optional=True),
        ]
    return Group("Header", tuple(children))


def _with_retour(children: list[Particle], retour: bool) -> tuple[Particle, ...]:
    return (*children, _retourcodes()) if retour else tuple(children)


def _care_client(kind: MessageKind, *, retour: bool) -> Group:
    start = kind is MessageKind.WMO305
    item: list[Particle] = [
        _m("ToewijzingNummer", NUMMER, optional=True),
        _product(optional=True),
        _m("ToewijzingIngangsdatum", DATUM, optional=True),
        _m("Begindatum", DATUM),
    ]
    if not start:
        item += [_m("RedenBeeindiging", REDEN_BEEINDIGING), _m("Einddatum", DATUM)]
    item.append(_m("StatusAanlevering", STATUS_AANLEVERING))
    name = "StartProduct" if start else "StopProduct"
    products = Group(f"{name}en", (Group(name, _with_retour(item, retour), max=UNBOUNDED),))
    client: list[Particle] = [
        _m("Bsn", BSN),
        _geboortedatum(),
        _m("Geslacht", GESLACHT),
        _naam(full=False),
        products,
    ]
    return Group("Client", _with_retour(client, retour), min=0 if retour else 1)


def _assignment_client(*, retour: bool) -> Group:
    contact: list[Particle] = [
        _m("Soort", SOORT),
        _adres(),
        Opaque("Organisatie"),
        _telefoon(),
        Opaque("Emailadres"),
        Opaque("Periode"),
    ]
    product: list[Particle] = [
        _m("ToewijzingNummer", NUMMER),
        Opaque("ReferentieAanbieder"),
        _product(optional=True),
        _m("Toewijzingsdatum", DATUM),
        _m("Toewijzingstijd", TIJD),
        _m("Ingangsdatum", DATUM),
        _m("Einddatum", DATUM, optional=True),
        _m("RedenWijziging", REDEN_WIJZIGING, optional=True),
        _opt(
            Group(
                "Omvang",
                (_s("Volume", BEDRAG), _s("Eenheid", EENHEID), _s("Frequentie", FREQUENTIE)),
            )
        ),
        _m("Budget", BEDRAG, optional=True),
        Opaque("Commentaar"),
    ]
    client: list[Particle] = [
        _m("Bsn", BSN),
        _geboortedatum(),
        _m("Geslacht", GESLACHT),
        _naam(full=True),
        Opaque("Communicatie"),
        Opaque("JuridischeStatus"),
        Opaque("WettelijkeVertegenwoordiging"),
        Opaque("Commentaar"),
        Opaque("Relaties"),
        Group("Contactgegevens", (Group("Contact", _with_retour(contact, retour), max=UNBOUNDED),)),
        Group(
            "ToegewezenProducten",
            (Group("ToegewezenProduct", _with_retour(product, retour), max=UNBOUNDED),),
        ),
    ]
    return Group("Client", _with_retour(client, retour), min=0 if retour else 1)


_HEEN = {
    MessageKind.WMO301: MessageKind.WMO301,
    MessageKind.WMO302: MessageKind.WMO301,
    MessageKind.WMO305: MessageKind.WMO305,
    MessageKind.WMO306: MessageKind.WMO305,
    MessageKind.WMO307: MessageKind.WMO307,
    MessageKind.WMO308: MessageKind.WMO307,
}


def _bericht(kind: MessageKind) -> Group:
    heen = _HEEN[kind]
    retour = kind is not heen
    if heen is MessageKind.WMO301:
        client = _assignment_client(retour=retour)
    else:
        client = _care_client(heen, retour=retour)
    return Group("Bericht", (_header(kind, heen), client))


_SCHEMAS = {kind: _bericht(kind) for kind in MessageKind}


def schema_of(kind: MessageKind) -> Group:
    """The structure of message ``kind``: its root ``Bericht`` with every particle below."""
    return _SCHEMAS[kind]


def _names(particle: Particle) -> Iterator[str]:
    yield particle.name
    if isinstance(particle, Group):
        for child in particle.children:
            yield from _names(child)


_KNOWN_NAMES = frozenset(name for kind in MessageKind for name in _names(_SCHEMAS[kind]))
"""Every element name of the model: an unexpected element is named in a path only if known."""


# --- validation ----------------------------------------------------------------------------


def _is_element(node: etree._Element) -> bool:
    return isinstance(node.tag, str)


def _is_markup(node: etree._Element) -> bool:
    """A comment or processing instruction: ignored between elements, as XSD does."""
    return isinstance(node, etree._Comment | etree._ProcessingInstruction)


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def _segment(node: etree._Element, siblings: list[etree._Element]) -> str:
    """How an unexpected element appears in a path: its name only if the model knows it."""
    name = _local(node)
    if name in _KNOWN_NAMES:
        same = [s for s in siblings if _local(s) == name]
        return f"{name}[{same.index(node) + 1}]" if len(same) > 1 else name
    return f"*[{siblings.index(node) + 1}]"


def _tag(particle: Particle, ns: str) -> str:
    return f"{{{BASIS_NS if particle.shared else ns}}}{particle.name}"


_XML_WHITESPACE = " \t\r\n"
"""XML's white space (S): str.strip() alone would also take NBSP and other Unicode spaces."""


def _has_text(text: str | None) -> bool:
    return text is not None and text.strip(_XML_WHITESPACE) != ""


def first_fault(root: etree._Element, kind: MessageKind) -> str | None:
    """The path of the first element that breaks ``kind``'s structure, or None if none does.

    The root's own name and namespace are the caller's check (MESSAGE_UNSUPPORTED).
    """
    return _check_group(root, _SCHEMAS[kind], "/Bericht", kind.namespace)


def _check_group(element: etree._Element, group: Group, path: str, ns: str) -> str | None:
    if element.attrib or _has_text(element.text):
        return path
    children = [child for child in element if _is_element(child)]
    for child in element:
        if _has_text(child.tail) or not (_is_element(child) or _is_markup(child)):
            return path
    position = 0
    tags = [_tag(particle, ns) for particle in group.children]
    for index, particle in enumerate(group.children):
        expected = tags[index]
        count = 0
        while (
            position < len(children) and children[position].tag == expected and count < particle.max
        ):
            child = children[position]
            count += 1
            segment = f"{particle.name}[{count}]" if particle.max > 1 else particle.name
            fault = _check_particle(child, particle, f"{path}/{segment}", ns)
            if fault is not None:
                return fault
            position += 1
        if count < particle.min:
            # An element that belongs nowhere here is the fault; one that belongs further on
            # means this particle is missing (XSD would name the element found instead).
            if position < len(children) and children[position].tag not in tags[index + 1 :]:
                return f"{path}/{_segment(children[position], children)}"
            segment = f"{particle.name}[{count + 1}]" if particle.max > 1 else particle.name
            return f"{path}/{segment}"
    if position < len(children):
        return f"{path}/{_segment(children[position], children)}"
    return None


def _check_particle(element: etree._Element, particle: Particle, path: str, ns: str) -> str | None:
    if isinstance(particle, Group):
        return _check_group(element, particle, path, ns)
    if isinstance(particle, Opaque):
        return _check_opaque(element, path)
    # Nothing inside a value: no element, and (stricter than XSD) no comment either.
    if element.attrib or any(True for _ in element):
        return path
    if not particle.type.accepts(element.text or ""):
        return path
    return None


def _check_opaque(element: etree._Element, path: str) -> str | None:
    for node in element.iter():
        if _is_element(node) and node.attrib:
            return path
    return None
