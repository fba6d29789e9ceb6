"""The 306/308 bytes, the retour header rules, the event ids and the 302 outcome."""

from __future__ import annotations

import hashlib
import uuid

from lxml import etree

from hub.iwmo import (
    IWMO_NAMESPACE,
    AssignmentRetour,
    CareMessage,
    MessageKind,
    answer_care_message,
    ensure_structure,
    event_id,
    identificatie_retour,
    parse_document,
    read_inbound,
)

from .iwmo_helpers import PROVIDER_AGB, MemoryState, context, document

MAX = 1 << 20


def care(name: str) -> CareMessage:
    read = read_inbound(document(name), sender_agb=PROVIDER_AGB, max_bytes=MAX)
    assert isinstance(read, CareMessage)
    return read


def test_namespace_is_the_published_one() -> None:
    """NS = UUIDv5(URL, urn:nl-sociaaldomein-hub:iwmo) = d2cca33a-0dc6-5e36-8686-bf1c59c94473."""
    assert uuid.UUID("d2cca33a-0dc6-5e36-8686-bf1c59c94473") == IWMO_NAMESPACE


def test_event_ids_are_uuid5_of_the_item(state: MemoryState) -> None:
    """An event id is UUIDv5(NS, Afzender/BerichtCode/Identificatie/number/n), number canonical."""
    result = answer_care_message(care("wmo305.xml"), state, context())
    expected = [
        str(uuid.uuid5(IWMO_NAMESPACE, "73730001/418/TZ-305-0017/26000311/1")),
        str(uuid.uuid5(IWMO_NAMESPACE, "73730001/418/TZ-305-0017/26000312/2")),
    ]
    assert [event["id"] for event in result.events] == expected
    assert event_id("73730001", 418, "TZ-305-0017", 26000311, 1) == expected[0]


def test_event_number_is_canonical(state: MemoryState) -> None:
    """ToewijzingNummer 026000311 makes the same id part as 26000311; subject is as issued."""
    first = answer_care_message(care("wmo305.xml"), state, context())
    state.store(first.receipt, first.deliveries)
    second = answer_care_message(care("wmo305-correction.xml"), state, context())
    assert second.events[1]["id"] == str(
        uuid.uuid5(IWMO_NAMESPACE, "73730001/418/TZ-305-0018/26000311/2")
    )
    assert second.events[1]["subject"] == "26000311"
    assert second.events[1]["source"] == "urn:nld:agb:73730001"
    assert second.events[1]["type"] == "nl.sociaaldomein.care.started.v1"


def test_retour_bytes(state: MemoryState) -> None:
    """UTF-8 without BOM, CR LF only, the retour namespace, and it passes the 306 structure."""
    retour = answer_care_message(care("wmo305.xml"), state, context()).retour
    assert retour.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n<Bericht xmlns=')
    assert b"\n" not in retour.replace(b"\r\n", b"")
    assert b"\r" not in retour.replace(b"\r\n", b"")
    root = parse_document(retour, max_bytes=MAX)
    assert etree.QName(root).namespace == MessageKind.WMO306.namespace
    ensure_structure(root, MessageKind.WMO306)


def test_rejected_retours_pass_their_structure(state: MemoryState) -> None:
    """Header-only and full retours, 306 and 308, pass the section 2 structure."""
    header_only = answer_care_message(care("wmo307.xml"), MemoryState(), context()).retour
    ensure_structure(parse_document(header_only, max_bytes=MAX), MessageKind.WMO308)
    del state.assignments[26000312]
    full = answer_care_message(care("wmo305.xml"), state, context()).retour
    ensure_structure(parse_document(full, max_bytes=MAX), MessageKind.WMO306)


def test_retour_header(state: MemoryState) -> None:
    """The heen header unchanged (not swapped), IdentificatieRetour by the rule, XsdVersieRetour."""
    retour = answer_care_message(care("wmo307.xml"), state, context()).retour.decode()
    digest = hashlib.sha256(b"retour|73730001|420|TZ-307-0004").hexdigest()[:12]
    assert identificatie_retour("73730001", 420, "TZ-307-0004") == digest
    header = (
        "  <Header>\r\n"
        "    <BerichtCode>421</BerichtCode>\r\n"
        "    <BerichtVersie>3</BerichtVersie>\r\n"
        "    <BerichtSubversie>2</BerichtSubversie>\r\n"
        "    <Afzender>73730001</Afzender>\r\n"
        "    <Ontvanger>0193</Ontvanger>\r\n"
        "    <BerichtIdentificatie>\r\n"
        "      <bs:Identificatie>TZ-307-0004</bs:Identificatie>\r\n"
        "      <bs:Dagtekening>2026-11-23</bs:Dagtekening>\r\n"
        "    </BerichtIdentificatie>\r\n"
        "    <XsdVersie>\r\n"
        "      <bs:BasisschemaXsdVersie>1.0.0</bs:BasisschemaXsdVersie>\r\n"
        "      <bs:BerichtXsdVersie>1.0.0</bs:BerichtXsdVersie>\r\n"
        "    </XsdVersie>\r\n"
        f"    <IdentificatieRetour>{digest}</IdentificatieRetour>\r\n"
        "    <DagtekeningRetour>2026-11-29</DagtekeningRetour>\r\n"
        "    <XsdVersieRetour>\r\n"
        "      <bs:BasisschemaXsdVersie>1.0.0</bs:BasisschemaXsdVersie>\r\n"
        "      <bs:BerichtXsdVersie>1.0.0</bs:BerichtXsdVersie>\r\n"
        "    </XsdVersieRetour>\r\n"
    )
    assert header in retour


def test_302_outcomes() -> None:
    """A Header-only 302 is acknowledged; one with another code than 0200 is rejected per number."""
    approved = read_inbound(document("wmo302-approved.xml"), sender_agb=PROVIDER_AGB, max_bytes=MAX)
    assert isinstance(approved, AssignmentRetour)
    assert approved.as_dict() == {"identificatie": "5f1e2d3c4b5a", "outcome": "acknowledged"}
    assert (approved.afzender, approved.ontvanger) == ("0193", "73730001")
    rejected = read_inbound(document("wmo302-rejected.xml"), sender_agb=PROVIDER_AGB, max_bytes=MAX)
    assert isinstance(rejected, AssignmentRetour)
    assert rejected.as_dict() == {"identificatie": "a0b1c2d3e4f5", "outcome": "rejected"}
    assert rejected.product_codes == {"26000400": ("0200",), "26000401": ("8004",)}
    assert rejected.rejected_numbers == {"26000401": ("8004",)}


def test_302_all_0200_is_acknowledged() -> None:
    """A 302 whose every RetourCode is 0200 is acknowledged."""
    text = document("wmo302-rejected.xml").decode().replace("8004", "0200")
    read = read_inbound(text.encode(), sender_agb=PROVIDER_AGB, max_bytes=MAX)
    assert isinstance(read, AssignmentRetour)
    assert read.outcome == "acknowledged"
