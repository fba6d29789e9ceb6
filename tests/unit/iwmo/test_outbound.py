"""Outbound 301: which events translate, the document, the product list and its records."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import date
from typing import Any

import pytest

from hub.iwmo import (
    RENDERED_FIELDS,
    AssignedProduct,
    AssignmentRecord,
    MessageKind,
    Rendering,
    disclosed_fields,
    ensure_structure,
    parse_document,
    render_301,
)

from .iwmo_helpers import DATA, pseudonymise

CLIENT = pseudonymise("999900031")


def event(**data: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / "assignments-issued-wmo.json").read_text())
    loaded["data"].update(data)
    return loaded


def render(value: dict[str, Any], others: list[AssignmentRecord] | None = None) -> Rendering:
    return render_301(value, others=others or [], gemeentecode="0193", pseudonymise=pseudonymise)


def text(rendering: Rendering) -> str:
    assert rendering.wmo301 is not None, rendering.reason
    return rendering.wmo301.decode()


def record(number: int, **changes: Any) -> AssignmentRecord:
    product = AssignedProduct(
        number=number,
        category="06",
        code="06A01",
        issued_on=date(2026, 8, 2),
        issued_at="10:00:00",
        start=date(2026, 8, 3),
        end=date(2026, 12, 31),
        volume=2,
        unit="16",
        frequency="2",
    )
    values: dict[str, Any] = {
        "number": str(number),
        "provider_agb": "73730001",
        "client": CLIENT,
        "withdrawn": False,
        "product": product,
        "period_end": date(2026, 12, 31),
    }
    values.update(changes)
    return AssignmentRecord(**values)


def test_renders_a_valid_301() -> None:
    """The example renders; the output passes the 301 structure, UTF-8 without BOM, CR LF."""
    rendering = render(event())
    assert rendering.reason is None
    assert rendering.wmo301 is not None
    assert rendering.wmo301.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n')
    assert b"\n" not in rendering.wmo301.replace(b"\r\n", b"")
    ensure_structure(parse_document(rendering.wmo301, max_bytes=1 << 20), MessageKind.WMO301)


def test_header_and_client() -> None:
    """Header by the rules; Client fields mapped per section 6; local date and time."""
    out = text(render(event()))
    ident = hashlib.sha256(
        b"urn:nld:oin:00000001234567890000:systeem:backoffice|3f0c9a52-6d1e-5b7a-9e42-0b8d51c7e6a3"
    ).hexdigest()[:12]
    for line in (
        "<BerichtCode>414</BerichtCode>",
        "<Afzender>0193</Afzender>",
        "<Ontvanger>73730001</Ontvanger>",
        f"<bs:Identificatie>{ident}</bs:Identificatie>",
        "<bs:Dagtekening>2026-09-14</bs:Dagtekening>",
        "<Bsn>999900031</Bsn>",
        "<Geslacht>0</Geslacht>",
        "<bs:Voorletters>JH</bs:Voorletters>",
        "<bs:NaamGebruik>1</bs:NaamGebruik>",
        "<Soort>01</Soort>",
        "<bs:HuisnummerToevoeging>III</bs:HuisnummerToevoeging>",
        "<bs:Postcode>8011CT</bs:Postcode>",
        "<bs:Straatnaam>Burgemeester van Roijens</bs:Straatnaam>",
        "<bs:LandCode>NL</bs:LandCode>",
        "<bs:Telefoonnummer>0384217700</bs:Telefoonnummer>",
        "<bs:Landnummer>0031</bs:Landnummer>",
        "<Toewijzingsdatum>2026-09-13</Toewijzingsdatum>",
        "<Toewijzingstijd>01:30:05</Toewijzingstijd>",
        "<Ingangsdatum>2026-09-01</Ingangsdatum>",
        "<Einddatum>2027-08-31</Einddatum>",
        "<bs:Eenheid>04</bs:Eenheid>",
    ):
        assert line in out
    assert "RedenWijziging" not in out
    assert "Relaties" not in out


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"law": "jeugdwet", "product": {"category": "45", "code": "45A04"}}, "not-wmo"),
        ({"variant": "taakgericht", "scope": {"budget_cents": 100}}, "taakgericht"),
        ({"scope": {"volume": 1, "unit": "14", "frequency": "1"}}, "not-renderable"),
        (
            {"client": {**event()["data"]["client"], "family_name_prefix": "van den ter"}},
            "not-renderable",
        ),
    ],
)
def test_reasons(data: dict[str, Any], reason: str) -> None:
    """not-wmo, taakgericht, and not-renderable (CS338 or a section 2 break): no 301."""
    rendering = render(event(**data))
    assert rendering.wmo301 is None
    assert rendering.reason == reason
    assert rendering.record is None


def test_budget_scope_has_no_code() -> None:
    """A budget scope: Budget in cents, Product without Code (CD041, CD077)."""
    out = text(render(event(scope={"budget_cents": 125000})))
    assert "<Budget>125000</Budget>" in out
    assert "<bs:Code>" not in out
    assert "<Omvang>" not in out


@pytest.mark.parametrize(
    ("change_reason", "issued_on", "end"),
    [
        ("13", "2026-10-10", "2026-09-01"),
        ("05", "2026-08-20", "2026-09-01"),
        ("05", "2026-10-10", "2026-10-10"),
        ("05", "2027-09-30", "2027-08-31"),
    ],
)
def test_withdrawn_einddatum(change_reason: str, issued_on: str, end: str) -> None:
    """Withdrawn: period.start for reason 13 or before the start (CS335), else the earlier date."""
    out = text(render(event(status="withdrawn", change_reason=change_reason, issued_on=issued_on)))
    assert f"<Einddatum>{end}</Einddatum>" in out
    assert f"<RedenWijziging>{change_reason}</RedenWijziging>" in out


def test_other_current_assignments_are_listed_by_number() -> None:
    """OP087: the client's other current assignments at the provider, by number; IV099."""
    others = [
        record(26000400),
        record(26000100),
        record(26000101, withdrawn=True),
        record(26000102, client=pseudonymise("999900043")),
        record(26000103, provider_agb="73730002"),
        record(26000104, period_end=date(2026, 9, 13)),
        record(26000311),
    ]
    out = text(render(event(status="changed", change_reason="02"), others))
    numbers = [
        line.strip()[len("<ToewijzingNummer>") : -len("</ToewijzingNummer>")]
        for line in out.splitlines()
        if "<ToewijzingNummer>" in line
    ]
    assert numbers == ["26000100", "26000311", "26000400"]
    assert out.count("<RedenWijziging>") == 1
    assert out.count("<Toewijzingstijd>10:00:00</Toewijzingstijd>") == 2


def test_record_kept_and_round_trips() -> None:
    """The record to keep names the assignment, provider and client pseudonym; JSON round trip."""
    rendering = render(event())
    assert rendering.record is not None
    assert rendering.record.client == CLIENT
    assert rendering.record.number == "26000311"
    loaded = AssignmentRecord.from_json(json.loads(json.dumps(rendering.record.as_json())))
    assert loaded == rendering.record


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("06-12 34 56 78", "0612345678"),
        ("(038) 421 77 00", "0384217700"),
        ("+32 2 123 45 67", None),
        ("0031 6 1234 5678", "0612345678"),
        ("+31 (0)6 12345678", "0612345678"),  # the trunk 0 in brackets is not dialled
        ("0031 (0)38 421 77 00", "0384217700"),
        ("+31(0)6-12345678", "0612345678"),
        ("0032 2 123 4567", None),
        ("+31 6 1234 5678 9012 34", None),
    ],
)
def test_phone(phone: str, expected: str | None) -> None:
    """Telefoon01: spaces, - ( ) removed, +31 or 0031 as 0; other country codes (+ or 00) and >15 digits omitted."""
    client = copy.deepcopy(event()["data"]["client"])
    client["phone"] = phone
    out = text(render(event(client=client)))
    if expected is None:
        assert "<Telefoon>" not in out
    else:
        assert f"<bs:Telefoonnummer>{expected}</bs:Telefoonnummer>" in out


def test_disclosed_fields() -> None:
    """A 301's disclosed fields are the provider-view fields it draws on, as present."""
    fields = disclosed_fields(event()["data"])
    assert "client.bsn" in fields
    assert "client.address.house_letter" not in fields
    assert "scope.budget_cents" not in fields
    assert not {"case_id", "decision_id", "team_contact.name", "result_areas"} & set(fields)
    assert set(RENDERED_FIELDS) >= set(fields)


@pytest.mark.parametrize(
    ("changes", "left_out"),
    [
        ({"client": {"phone": "+32 2 123 45 67"}}, "client.phone"),
        ({"client": {"phone": "0032 2 123 4567"}}, "client.phone"),
        ({"client": {"initials": "A.B.C.D.E.F.G."}}, "client.initials"),
        ({"scope": {"budget_cents": 125000}}, "product.code"),
    ],
)
def test_a_field_the_301_leaves_out_is_not_disclosed(
    changes: dict[str, Any], left_out: str
) -> None:
    """A view field the 301 does not carry is not in its fields_disclosed (section 8)."""
    value = event()
    for name, fields in changes.items():
        if name == "scope":
            value["data"]["scope"] = fields
        else:
            value["data"][name].update(fields)
    out = text(render(value))
    assert {"client.phone": "<Telefoon>", "client.initials": "<bs:Voorletters>"}.get(
        left_out, "<bs:Code>"
    ) not in out
    assert left_out not in disclosed_fields(value["data"])
    assert left_out in disclosed_fields(event()["data"])


@pytest.mark.parametrize(
    "path",
    ["client.birth_date", "client.family_name", "client.address", "period", "issued_on", "status"],
)
def test_a_view_without_a_field_the_301_holds_is_not_renderable(path: str) -> None:
    """A privacy table narrowed below what a 301 holds: not sent (section 6), never a crash."""
    value = event()
    *parents, leaf_name = path.split(".")
    target = value["data"]
    for name in parents:
        target = target[name]
    del target[leaf_name]
    rendering = render(value)
    assert (rendering.wmo301, rendering.reason) == (None, "not-renderable")
