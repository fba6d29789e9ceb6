"""Level 1: unprocessable documents get a problem {code, path} and nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.iwmo import (
    AssignmentRetour,
    CareMessage,
    IwmoCode,
    IwmoSettings,
    MessageRefused,
    read_inbound,
)

from .iwmo_helpers import PROVIDER_AGB, document

MAX = 1024 * 1024


def refused(data: bytes, *, sender: str = PROVIDER_AGB, max_bytes: int = MAX) -> dict[str, str]:
    with pytest.raises(MessageRefused) as caught:
        read_inbound(data, sender_agb=sender, max_bytes=max_bytes)
    return caught.value.problem.as_dict()


def replace(name: str, old: str, new: str, count: int = 1) -> bytes:
    text = document(name).decode()
    assert old in text
    return text.replace(old, new, count).encode()


def test_examples_pass_level_1() -> None:
    """Every example document passes level 1 as the type it is."""
    for name in ("wmo305.xml", "wmo305-correction.xml", "wmo307.xml"):
        assert isinstance(
            read_inbound(document(name), sender_agb=PROVIDER_AGB, max_bytes=MAX), CareMessage
        )
    for name in ("wmo302-approved.xml", "wmo302-rejected.xml"):
        assert isinstance(
            read_inbound(document(name), sender_agb=PROVIDER_AGB, max_bytes=MAX), AssignmentRetour
        )


def test_bom_and_crlf_are_tolerated() -> None:
    """A UTF-8 BOM and CR LF line ends read the same as the plain document."""
    plain = read_inbound(document("wmo305.xml"), sender_agb=PROVIDER_AGB, max_bytes=MAX)
    crlf = b"\xef\xbb\xbf" + document("wmo305.xml").replace(b"\n", b"\r\n")
    other = read_inbound(crlf, sender_agb=PROVIDER_AGB, max_bytes=MAX)
    assert isinstance(plain, CareMessage)
    assert isinstance(other, CareMessage)
    assert other.items == plain.items
    assert other.header == plain.header


def test_size_is_checked_before_parsing() -> None:
    """A document over max_bytes is XML_TOO_LARGE even when it is not XML at all."""
    assert refused(b"<" * 11, max_bytes=10) == {"code": "XML_TOO_LARGE", "path": "/"}
    assert refused(document("wmo305.xml"), max_bytes=100)["code"] == "XML_TOO_LARGE"


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE Bericht [<!ENTITY x "y">]><Bericht>&x;</Bericht>',
        b'<!DOCTYPE Bericht SYSTEM "http://example.org/x.dtd"><Bericht/>',
        b"<Bericht>&undeclared;</Bericht>",
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY l2 "&lol;&lol;">]><a>&l2;</a>',
        b'<?xml-stylesheet href="http://example.org/x.xsl"?><Bericht/>',
        b'<?xml-model href="http://example.org/x.sch"?><Bericht/>',
        b'<Bericht><?anything href="http://example.org/x"?></Bericht>',
        # A DTD is refused first, also in an encoding the document is then refused for.
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Bericht [<!ENTITY x "y">]><Bericht/>'.encode(
            "utf-16"
        ),
        '<!DOCTYPE Bericht SYSTEM "http://example.org/x.dtd"><Bericht/>'.encode("utf-32-le"),
    ],
)
def test_dtds_entities_and_external_references_are_forbidden(data: bytes) -> None:
    """A DOCTYPE, an entity or an external reference is XML_FORBIDDEN."""
    assert refused(data) == {"code": "XML_FORBIDDEN", "path": "/"}


@pytest.mark.parametrize("year", ["2001", "2003"])
def test_an_xinclude_is_an_external_reference(year: str) -> None:
    """An XInclude element in a 305 is XML_FORBIDDEN, before the structure is checked."""
    include = (
        f'<xi:include xmlns:xi="http://www.w3.org/{year}/XInclude" href="file:///etc/passwd"/>'
    )
    data = replace("wmo305.xml", "<Geslacht>", include + "<Geslacht>")
    assert refused(data) == {"code": "XML_FORBIDDEN", "path": "/"}


@pytest.mark.parametrize(
    "data",
    [
        b"<Bericht><Header></Bericht>",
        b"not xml",
        b"",
        "<Bericht>\u00e9</Bericht>".encode("latin-1"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?><Bericht/>',
        "<Bericht/>".encode("utf-16"),
        b"\xef\xbb\xbf\xef\xbb\xbf" + document("wmo305.xml"),
        b"<Bericht>A & B</Bericht>",
        b"<Bericht>AT&T</Bericht>",  # an ampersand without ';' is no entity reference
        # UTF-16 and UTF-32 without a BOM: ASCII with NUL bytes between is valid UTF-8.
        document("wmo305.xml").decode().encode("utf-16-le"),
        document("wmo305.xml").decode().replace("UTF-8", "UTF-16").encode("utf-16-be"),
        document("wmo305.xml").decode().encode("utf-32-le"),
        document("wmo305.xml").decode().split("?>", 1)[1].encode("utf-32-be"),
    ],
)
def test_malformed_or_not_utf8(data: bytes) -> None:
    """A document that is not well-formed, or not UTF-8, is XML_MALFORMED."""
    assert refused(data) == {"code": "XML_MALFORMED", "path": "/"}


@pytest.mark.parametrize(
    ("namespace", "path"),
    [
        ("http://www.istandaarden.nl/iwmo/3_2/wmo301/schema", "/Bericht"),
        ("http://www.istandaarden.nl/iwmo/3_2/wmo315/schema", "/Bericht"),
        ("http://www.istandaarden.nl/iwmo/3_2/wmo323/schema", "/Bericht"),
        ("http://www.istandaarden.nl/ijw/3_2/jw305/schema", "/Bericht"),
        ("http://www.istandaarden.nl/iwmo/3_1/wmo305/schema", "/Bericht"),
    ],
)
def test_unsupported_messages(namespace: str, path: str) -> None:
    """Only a Bericht of the iWmo 3.2 302, 305 or 307 namespace is read."""
    data = replace("wmo305.xml", "http://www.istandaarden.nl/iwmo/3_2/wmo305/schema", namespace)
    assert refused(data) == {"code": "MESSAGE_UNSUPPORTED", "path": path}


def test_unsupported_root_name_is_not_echoed() -> None:
    """Another root element is named ``*`` in the path: its name is the sender's text."""
    assert refused(b"<Jansen999900031/>") == {"code": "MESSAGE_UNSUPPORTED", "path": "/*"}


def test_any_prefix_is_accepted() -> None:
    """Prefixes are the sender's choice: the 307 uses w: and b:."""
    message = read_inbound(document("wmo307.xml"), sender_agb=PROVIDER_AGB, max_bytes=MAX)
    assert isinstance(message, CareMessage)
    assert message.items[0].reason == "02"


def test_afzender_must_be_the_sender() -> None:
    """A 305/307 whose Afzender is not the sender's AGB is AGB_NOT_SENDER at the Afzender."""
    assert refused(document("wmo305.xml"), sender="73730002") == {
        "code": "AGB_NOT_SENDER",
        "path": "/Bericht/Header/Afzender",
    }


def test_302_ontvanger_must_be_the_sender() -> None:
    """A 302's Ontvanger (the 301's provider) must be the sender's AGB."""
    assert refused(document("wmo302-approved.xml"), sender="73730002") == {
        "code": "AGB_NOT_SENDER",
        "path": "/Bericht/Header/Ontvanger",
    }


def test_structure_comes_before_the_sender() -> None:
    """XSD_INVALID is reported before AGB_NOT_SENDER (the table's order)."""
    data = replace("wmo305.xml", "<Geslacht>2</Geslacht>", "<Geslacht>7</Geslacht>")
    assert refused(data, sender="73730002")["code"] == "XSD_INVALID"


def test_message_refused_says_code_and_path_only() -> None:
    """The exception's text names the code and the path."""
    with pytest.raises(MessageRefused) as caught:
        read_inbound(document("wmo305.xml"), sender_agb="73730002", max_bytes=MAX)
    assert str(caught.value) == "iWmo document refused: AGB_NOT_SENDER at /Bericht/Header/Afzender"
    assert caught.value.problem.status == 403
    assert caught.value.problem.code is IwmoCode.AGB_NOT_SENDER


def test_dtd_is_refused_before_encoding() -> None:
    """A DOCTYPE is XML_FORBIDDEN even in a document that is not UTF-8."""
    assert refused(b"<!DOCTYPE a><a>\xe9</a>") == {"code": "XML_FORBIDDEN", "path": "/"}


def test_level_1_error_form() -> None:
    """As an ``errors`` entry a level-1 problem has no retourcode."""
    with pytest.raises(MessageRefused) as caught:
        read_inbound(b"<a>", sender_agb=PROVIDER_AGB, max_bytes=MAX)
    assert caught.value.problem.as_error() == {
        "code": "XML_MALFORMED",
        "path": "/",
        "retourcode": None,
    }


def test_settings_bounds() -> None:
    """iwmo.max_bytes defaults to 1 MiB and may not exceed 25 MB; gemeentecode is 4 digits."""
    assert IwmoSettings().max_bytes == 1024 * 1024
    assert IwmoSettings().gemeentecode == "0193"
    with pytest.raises(ValidationError):
        IwmoSettings(max_bytes=25_000_001)
    with pytest.raises(ValidationError):
        IwmoSettings(gemeentecode="193")


def test_a_number_may_carry_any_number_of_leading_zeros() -> None:
    """Nummer is an xs:integer: leading zeros do not count against its range."""
    zeros = "0" * 5000
    data = document("wmo305.xml").replace(
        b"<ToewijzingNummer>", f"<ToewijzingNummer>{zeros}".encode(), 1
    )
    message = read_inbound(data, sender_agb=PROVIDER_AGB, max_bytes=MAX)
    assert isinstance(message, CareMessage)
    assert (
        message.items[0].assignment_number
        == read_inbound(document("wmo305.xml"), sender_agb=PROVIDER_AGB, max_bytes=MAX)
        .items[0]
        .assignment_number
    )


def test_a_number_of_more_than_18_digits_after_its_zeros_is_xsd_invalid() -> None:
    """Leading zeros do not count; a 19th significant digit does (Nummer is 0-999999999)."""
    data = document("wmo305.xml").replace(
        b"<ToewijzingNummer>", b"<ToewijzingNummer>" + b"0" * 100_000 + b"1" * 19, 1
    )
    assert refused(data, max_bytes=1 << 20)["code"] == "XSD_INVALID"
