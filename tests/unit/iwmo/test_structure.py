"""Section 2 structure: XSD_INVALID at the first element that breaks it, by element location."""

from __future__ import annotations

import pytest

from hub.iwmo import MessageRefused, read_inbound
from hub.iwmo.structure import ISO_COUNTRIES

from .iwmo_helpers import PROVIDER_AGB, document

START2 = "/Bericht/Client/StartProducten/StartProduct[2]"


def xsd_path(name: str, old: str, new: str, count: int = 1) -> str:
    text = document(name).decode()
    assert old in text
    data = text.replace(old, new, count).encode()
    with pytest.raises(MessageRefused) as caught:
        read_inbound(data, sender_agb=PROVIDER_AGB, max_bytes=1 << 20)
    assert caught.value.problem.code == "XSD_INVALID"
    return caught.value.problem.path


SECOND_START = "<Begindatum>2026-10-02</Begindatum>"


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        # a code value, a pattern, a date, a length
        ("<Geslacht>2</Geslacht>", "<Geslacht>3</Geslacht>", "/Bericht/Client/Geslacht"),
        ("<Bsn>999900031</Bsn>", "<Bsn>99990003</Bsn>", "/Bericht/Client/Bsn"),
        (SECOND_START, "<Begindatum>2026-02-30</Begindatum>", f"{START2}/Begindatum"),
        (SECOND_START, "<Begindatum>2026-10-02Z</Begindatum>", f"{START2}/Begindatum"),
        (SECOND_START, "<Begindatum> 2026-10-02</Begindatum>", f"{START2}/Begindatum"),
        (
            "<ns2:Voorletters>JH</ns2:Voorletters>",
            "<ns2:Voorletters>J.H.</ns2:Voorletters>",
            "/Bericht/Client/Naam/Voorletters",
        ),
        (
            "<ns2:Voorvoegsel>ter</ns2:Voorvoegsel>",
            "<ns2:Voorvoegsel>ter van den</ns2:Voorvoegsel>",
            "/Bericht/Client/Naam/Geslachtsnaam/Voorvoegsel",
        ),
        (
            "<ns2:Identificatie>TZ-305-0017</ns2:Identificatie>",
            "<ns2:Identificatie>TZ-305-0017-X</ns2:Identificatie>",
            "/Bericht/Header/BerichtIdentificatie/Identificatie",
        ),
        (
            "<ns2:Identificatie>TZ-305-0017</ns2:Identificatie>",
            "<ns2:Identificatie>   </ns2:Identificatie>",
            "/Bericht/Header/BerichtIdentificatie/Identificatie",
        ),
        (
            "<ToewijzingNummer>26000312</ToewijzingNummer>",
            "<ToewijzingNummer>1000000000</ToewijzingNummer>",
            f"{START2}/ToewijzingNummer",
        ),
        (
            "<ns2:Categorie>06</ns2:Categorie>",
            "<ns2:Categorie>45</ns2:Categorie>",
            f"{START2}/Product/Categorie",
        ),
        (
            "<ns2:Code>06A01</ns2:Code>",
            "<ns2:Code>06A012</ns2:Code>",
            f"{START2}/Product/Code",
        ),
        # BerichtCode and version
        (
            "<BerichtCode>418</BerichtCode>",
            "<BerichtCode>420</BerichtCode>",
            "/Bericht/Header/BerichtCode",
        ),
        (
            "<BerichtVersie>3</BerichtVersie>",
            "<BerichtVersie>2</BerichtVersie>",
            "/Bericht/Header/BerichtVersie",
        ),
        (
            "<BerichtSubversie>2</BerichtSubversie>",
            "<BerichtSubversie>1</BerichtSubversie>",
            "/Bericht/Header/BerichtSubversie",
        ),
        (
            "<ns2:BerichtXsdVersie>1.0.0</ns2:BerichtXsdVersie>",
            "<ns2:BerichtXsdVersie>1.0</ns2:BerichtXsdVersie>",
            "/Bericht/Header/XsdVersie/BerichtXsdVersie",
        ),
        # missing, extra and out of order
        ("<Geslacht>2</Geslacht>", "", "/Bericht/Client/Geslacht"),
        (
            "<StatusAanlevering>1</StatusAanlevering>\n      </StartProduct>\n    </StartProducten>",
            "</StartProduct>\n    </StartProducten>",
            f"{START2}/StatusAanlevering",
        ),
        (
            "<Geslacht>2</Geslacht>",
            "<Geslacht>2</Geslacht><Geslacht>2</Geslacht>",
            "/Bericht/Client/Geslacht[2]",
        ),
        (
            "<Geslacht>2</Geslacht>",
            "<Geslacht>2</Geslacht><Jansen>x</Jansen>",
            "/Bericht/Client/*[4]",
        ),
        (
            "<Bsn>999900031</Bsn>\n    <Geboortedatum>\n      <ns2:Datum>1948-07-01</ns2:Datum>\n    </Geboortedatum>",
            "<Geboortedatum>\n      <ns2:Datum>1948-07-01</ns2:Datum>\n    </Geboortedatum><Bsn>999900031</Bsn>",
            "/Bericht/Client/Bsn",
        ),
        ("<StartProducten>", "<StartProducten>text", "/Bericht/Client/StartProducten"),
        # namespaces: a shared element in the message namespace, and the reverse
        (
            "<ns2:Datum>1948-07-01</ns2:Datum>",
            "<Datum>1948-07-01</Datum>",
            "/Bericht/Client/Geboortedatum/Datum",
        ),
        ("<Geslacht>2</Geslacht>", "<ns2:Geslacht>2</ns2:Geslacht>", "/Bericht/Client/Geslacht"),
        # attributes, also xsi ones
        ("<Geslacht>2</Geslacht>", '<Geslacht a="b">2</Geslacht>', "/Bericht/Client/Geslacht"),
        (
            "<Client>",
            '<Client xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="false">',
            "/Bericht/Client",
        ),
        # element-only content: XML white space between children, no other space character
        ("<Bsn>", "\u00a0<Bsn>", "/Bericht/Client"),
        ("</Bsn>", "</Bsn>\u2003", "/Bericht/Client"),
        # nothing inside a value
        ("<Geslacht>2</Geslacht>", "<Geslacht>2<!-- x --></Geslacht>", "/Bericht/Client/Geslacht"),
    ],
)
def test_xsd_invalid_path(old: str, new: str, path: str) -> None:
    """Each break of section 2 is XSD_INVALID at the element's location."""
    assert xsd_path("wmo305.xml", old, new) == path


def test_stop_product_needs_reason_and_end_in_order() -> None:
    """A 307 StopProduct has RedenBeeindiging before Einddatum."""
    old = (
        "<w:RedenBeeindiging>02</w:RedenBeeindiging>\n        <w:Einddatum>2026-11-20</w:Einddatum>"
    )
    new = (
        "<w:Einddatum>2026-11-20</w:Einddatum>\n        <w:RedenBeeindiging>02</w:RedenBeeindiging>"
    )
    assert xsd_path("wmo307.xml", old, new) == (
        "/Bericht/Client/StopProducten/StopProduct[1]/RedenBeeindiging"
    )


def test_stop_reason_code_list() -> None:
    """RedenBeeindiging is WMO588: 01 is not in it."""
    old = "<w:RedenBeeindiging>02</w:RedenBeeindiging>"
    new = "<w:RedenBeeindiging>01</w:RedenBeeindiging>"
    assert xsd_path("wmo307.xml", old, new) == (
        "/Bericht/Client/StopProducten/StopProduct[1]/RedenBeeindiging"
    )


def test_302_country_code_and_retourcode() -> None:
    """A 302's LandCode is ISO 3166 alpha-2 and a RetourCode four characters."""
    assert xsd_path(
        "wmo302-rejected.xml", "<bs:LandCode>NL</bs:LandCode>", "<bs:LandCode>XX</bs:LandCode>"
    ) == ("/Bericht/Client/Contactgegevens/Contact[1]/Adres/LandCode")
    assert xsd_path(
        "wmo302-rejected.xml", "<RetourCode>8004</RetourCode>", "<RetourCode>84</RetourCode>"
    ) == ("/Bericht/Client/ToegewezenProducten/ToegewezenProduct[2]/RetourCodes/RetourCode[1]")


def test_country_list_size() -> None:
    """The ISO 3166-1 alpha-2 list holds the 249 assigned codes."""
    assert len(ISO_COUNTRIES) == 249
    assert {"NL", "BE", "DE", "SX", "CW", "BQ"} <= ISO_COUNTRIES
