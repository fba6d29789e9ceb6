"""``hub iwmo inbound|outbound`` against the tables of the iWmo spec, one case per row.

Each test walks one table of the binding contract (spec iwmo.md sections 3 to 7) through
the command's JSON output. The cases use the example assignment ``25000107`` of
tests/unit/cli/iwmo_documents.py (provider 73730001, product 02/02A05, 2025-04-01 to
2025-12-31) and JSON variants of it written to the test's directory.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from hub.cli import main
from hub.iwmo import identificatie_301
from tests.unit.routing.routing_helpers import EXAMPLES, example

from .iwmo_documents import (
    CLIENT_BIRTH_DATE,
    CLIENT_BSN,
    CLIENT_NAME,
    NUMBER,
    PROVIDER_AGB,
    start,
    stop,
    wmo302,
    wmo305,
    wmo307,
)

ISSUED = "assignments.issued/valid/new-outputgericht.json"
PROVIDER_SOURCE = "urn:nld:agb:73730001"
OTHER_PROVIDER = "provider-jeugdhulp-ijssel"  # AGB 73730002
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
IWMO_NS = uuid.UUID("d2cca33a-0dc6-5e36-8686-bf1c59c94473")

# A file given to the command: XML bytes, a JSON event (a dict) or an example's path.
Input = bytes | dict[str, Any] | str


def iwmo(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    """Run ``hub iwmo ...`` in-process: its exit code and its one-line JSON output."""
    code = main(["iwmo", *map(str, args)])
    captured = capsys.readouterr()
    assert "--after" not in captured.err  # every --after file was accepted: the case is as built
    out = captured.out
    assert len(out.splitlines()) == 1
    return code, json.loads(out)


def materialise(tmp_path: Path, index: int, item: Input) -> Path:
    """The path of one input: an example as it is, the others written to the test's directory."""
    if isinstance(item, str):
        return EXAMPLES / item
    if isinstance(item, bytes):
        path = tmp_path / f"{index}.xml"
        path.write_bytes(item)
        return path
    path = tmp_path / f"{index}.json"
    path.write_text(json.dumps(item))
    return path


def inbound(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    document: bytes,
    after: tuple[Input, ...] = (ISSUED,),
    sender: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """``hub iwmo inbound [--sender S] --after A ... DOCUMENT``."""
    args: list[str | Path] = ["inbound"]
    if sender is not None:
        args += ["--sender", sender]
    for index, item in enumerate(after):
        args += ["--after", materialise(tmp_path, index, item)]
    args.append(materialise(tmp_path, len(after), document))
    return iwmo(capsys, *args)


def assignment(number: str, time: str = "2025-03-24T09:05:00+01:00", **data: Any) -> dict[str, Any]:
    """The example assignment 25000107 as another number, with these data fields replaced."""
    event = example(ISSUED)
    event["id"] = str(uuid.uuid5(IWMO_NS, f"test/{number}/{time}/{sorted(data.items())!r}"))
    event["subject"] = number
    event["time"] = time
    event["data"]["assignment_number"] = number
    event["data"].update(copy.deepcopy(data))
    return event


def withdrawal(number: str = NUMBER) -> dict[str, Any]:
    """The withdrawal of the example assignment (or of a variant with this number)."""
    return assignment(
        number,
        "2025-04-20T10:00:00+02:00",
        status="withdrawn",
        change_reason="04",
        issued_on="2025-04-20",
    )


def replace(document: bytes, old: str, new: str) -> bytes:
    """The document with its one ``old`` replaced (so a typo fails loudly, not silently)."""
    assert document.count(old.encode()) == 1, old
    return document.replace(old.encode(), new.encode())


def start_item(
    *,
    number: str | None = NUMBER,
    product: str | None = "02A05",
    ingang: str | None = None,
    status: str = "1",
) -> str:
    """A StartProduct on 2025-04-07; ``product`` a code, a category alone, or None for none."""
    parts = ["      <StartProduct>\n"]
    if number is not None:
        parts.append(f"        <ToewijzingNummer>{number}</ToewijzingNummer>\n")
    if product is not None:
        code = "" if len(product) == 2 else f"<bs:Code>{product}</bs:Code>"
        parts.append(
            f"        <Product><bs:Categorie>{product[:2]}</bs:Categorie>{code}</Product>\n"
        )
    if ingang is not None:
        parts.append(f"        <ToewijzingIngangsdatum>{ingang}</ToewijzingIngangsdatum>\n")
    parts.append("        <Begindatum>2025-04-07</Begindatum>\n")
    parts.append(f"        <StatusAanlevering>{status}</StatusAanlevering>\n")
    parts.append("      </StartProduct>\n")
    return "".join(parts)


def birth(document: bytes, datum: str, gebruik: str | None = None) -> bytes:
    """The document with the client's Geboortedatum replaced (and a DatumGebruik)."""
    extra = "" if gebruik is None else f"<bs:DatumGebruik>{gebruik}</bs:DatumGebruik>"
    return replace(
        document,
        f"<bs:Datum>{CLIENT_BIRTH_DATE}</bs:Datum>",
        f"<bs:Datum>{datum}</bs:Datum>{extra}",
    )


# ---------------------------------------------------------------------- section 3, level 1

BASE = wmo305("TZ-L1-0001")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
BODY = BASE.removeprefix(XML_DECLARATION)
IJW = "http://www.istandaarden.nl/ijw/3_2/jw305/schema"


def in_namespace(namespace: str) -> bytes:
    """The base 305 with its message namespace replaced (another message, another standard)."""
    return replace(BASE, "http://www.istandaarden.nl/iwmo/3_2/wmo305/schema", namespace)


LEVEL_1: list[tuple[str, Callable[[], bytes], str, str | None]] = [
    # (case, document, code, sender)
    ("too-large", lambda: BASE + b" " * (1 << 20), "XML_TOO_LARGE", None),
    ("doctype", lambda: XML_DECLARATION + b"<!DOCTYPE Bericht>\n" + BODY, "XML_FORBIDDEN", None),
    (
        "internal-entity",
        lambda: replace(
            XML_DECLARATION + b'<!DOCTYPE Bericht [<!ENTITY g "2">]>\n' + BODY,
            "<Geslacht>2</Geslacht>",
            "<Geslacht>&g;</Geslacht>",
        ),
        "XML_FORBIDDEN",
        None,
    ),
    (
        "external-dtd",
        lambda: (
            XML_DECLARATION
            + b'<!DOCTYPE Bericht SYSTEM "http://example.invalid/wmo305.dtd">\n'
            + BODY
        ),
        "XML_FORBIDDEN",
        None,
    ),
    (
        "external-entity",
        lambda: replace(
            XML_DECLARATION
            + b'<!DOCTYPE Bericht [<!ENTITY g SYSTEM "file:///etc/hostname">]>\n'
            + BODY,
            "<Geslacht>2</Geslacht>",
            "<Geslacht>&g;</Geslacht>",
        ),
        "XML_FORBIDDEN",
        None,
    ),
    ("not-well-formed", lambda: BASE[: len(BASE) // 2], "XML_MALFORMED", None),
    ("unclosed-tag", lambda: replace(BASE, "</Geslacht>", "</Geslachtt>"), "XML_MALFORMED", None),
    (
        "latin-1-bytes",
        lambda: BASE.replace(b">van<", b">v\xe1n<"),
        "XML_MALFORMED",
        None,
    ),
    (
        "declared-latin-1",
        lambda: (
            b'<?xml version="1.0" encoding="ISO-8859-1"?>\n' + BODY.replace(b">van<", b">v\xe1n<")
        ),
        "XML_MALFORMED",
        None,
    ),
    (
        "utf-16",
        lambda: BASE.decode().replace("UTF-8", "UTF-16").encode("utf-16"),
        "XML_MALFORMED",
        None,
    ),
    (
        "wmo315",
        lambda: in_namespace("http://www.istandaarden.nl/iwmo/3_2/wmo315/schema"),
        "MESSAGE_UNSUPPORTED",
        None,
    ),
    ("ijw-jw305", lambda: in_namespace(IJW), "MESSAGE_UNSUPPORTED", None),
    (
        "wmo306",
        lambda: in_namespace("http://www.istandaarden.nl/iwmo/3_2/wmo306/schema"),
        "MESSAGE_UNSUPPORTED",
        None,
    ),
    ("no-namespace", lambda: in_namespace(""), "MESSAGE_UNSUPPORTED", None),
    (
        "wmo301",
        lambda: in_namespace("http://www.istandaarden.nl/iwmo/3_2/wmo301/schema"),
        "MESSAGE_UNSUPPORTED",
        None,
    ),
    (
        "root-not-bericht",
        lambda: replace(replace(BASE, "<Bericht ", "<Berichten "), "</Bericht>", "</Berichten>"),
        "MESSAGE_UNSUPPORTED",
        None,
    ),
    (
        "order",
        lambda: replace(BASE, "<Geslacht>2</Geslacht>", "").replace(
            b"<Bsn>", b"<Geslacht>2</Geslacht>\n    <Bsn>"
        ),
        "XSD_INVALID",
        None,
    ),
    (
        "missing-element",
        lambda: replace(BASE, "<Begindatum>2025-04-07</Begindatum>", ""),
        "XSD_INVALID",
        None,
    ),
    (
        "extra-element",
        lambda: replace(BASE, "<Geslacht>2</Geslacht>", "<Geslacht>2</Geslacht><Extra>1</Extra>"),
        "XSD_INVALID",
        None,
    ),
    ("attribute", lambda: replace(BASE, "<Geslacht>", '<Geslacht soort="x">'), "XSD_INVALID", None),
    (
        "second-client",
        lambda: replace(BASE, "</Client>", "</Client><Client/>"),
        "XSD_INVALID",
        None,
    ),
    ("length-identificatie", lambda: wmo305("TZ-L1-00001234"), "XSD_INVALID", None),
    ("blank-identificatie", lambda: wmo305("   "), "XSD_INVALID", None),
    (
        "length-achternaam",
        lambda: replace(BASE, ">Dalfsen<", f">{'D' * 201}<"),
        "XSD_INVALID",
        None,
    ),
    ("length-voorletters", lambda: replace(BASE, ">EM<", ">E.M.<"), "XSD_INVALID", None),
    ("pattern-datum", lambda: replace(BASE, "2025-04-07", "2025-4-07"), "XSD_INVALID", None),
    ("pattern-bsn", lambda: replace(BASE, "<Bsn>999900018", "<Bsn>99990001"), "XSD_INVALID", None),
    ("pattern-nummer", lambda: wmo305("TZ-L1-0001", start(number="2500010A")), "XSD_INVALID", None),
    ("code-geslacht", lambda: replace(BASE, "<Geslacht>2", "<Geslacht>3"), "XSD_INVALID", None),
    ("code-status", lambda: wmo305("TZ-L1-0001", start(status="5")), "XSD_INVALID", None),
    ("code-categorie", lambda: wmo305("TZ-L1-0001", start(code="45A04")), "XSD_INVALID", None),
    ("code-reden", lambda: wmo307("TZ-L1-0001", stop(reason="99")), "XSD_INVALID", None),
    (
        "berichtcode",
        lambda: replace(BASE, "<BerichtCode>418", "<BerichtCode>420"),
        "XSD_INVALID",
        None,
    ),
    (
        "berichtversie",
        lambda: replace(BASE, "<BerichtVersie>3", "<BerichtVersie>2"),
        "XSD_INVALID",
        None,
    ),
    (
        "berichtsubversie",
        lambda: replace(BASE, "<BerichtSubversie>2", "<BerichtSubversie>1"),
        "XSD_INVALID",
        None,
    ),
    ("afzender", lambda: wmo305("TZ-L1-0001", afzender="7373000"), "XSD_INVALID", None),
    (
        "302-berichtcode",
        lambda: replace(wmo302_on("0123456789ab"), "<BerichtCode>415", "<BerichtCode>414"),
        "XSD_INVALID",
        None,
    ),
    (
        "302-missing-retour-header",
        lambda: replace(
            wmo302_on("0123456789ab"), "<DagtekeningRetour>2025-03-25</DagtekeningRetour>", ""
        ),
        "XSD_INVALID",
        None,
    ),
    ("agb-not-sender-305", lambda: BASE, "AGB_NOT_SENDER", OTHER_PROVIDER),
    ("agb-not-sender-307", lambda: wmo307("TZ-L1-0001"), "AGB_NOT_SENDER", OTHER_PROVIDER),
    ("agb-unregistered", lambda: wmo305("TZ-L1-0001", afzender="12345678"), "AGB_NOT_SENDER", None),
]


@pytest.mark.parametrize(
    ("build", "code", "sender"),
    [pytest.param(build, code, sender, id=case) for case, build, code, sender in LEVEL_1],
)
def test_section_3_level_1(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    build: Callable[[], bytes],
    code: str,
    sender: str | None,
) -> None:
    """Unprocessable: no retour, no event, the code with retourcode null, exit 1."""
    exit_code, result = inbound(capsys, tmp_path, build(), sender=sender)
    assert exit_code == 1
    assert {k: result[k] for k in ("accepted", "events", "retour", "retourcodes")} == {
        "accepted": False,
        "events": [],
        "retour": None,
        "retourcodes": {},
    }
    [error] = result["errors"]
    assert (error["code"], error["retourcode"]) == (code, None)
    assert error["path"].startswith("/")
    assert not re.search(r"\d{4}|Dalfsen", error["path"])  # a location, never a value


def test_section_3_level_1_agb_not_sender_on_a_302(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A 302 whose Ontvanger is not the posting provider's AGB is AGB_NOT_SENDER."""
    issued = example(ISSUED)
    document = wmo302_on(identificatie_301(issued["source"], issued["id"]))
    exit_code, result = inbound(capsys, tmp_path, document, sender=OTHER_PROVIDER)
    assert exit_code == 1
    assert result["retour"] is None
    assert [(e["code"], e["retourcode"]) for e in result["errors"]] == [("AGB_NOT_SENDER", None)]


# ---------------------------------------------------------------------- section 3, level 2

TOO_OLD = "1905-06-30"  # more than 120 years before the Dagtekening 2025-07-01

# The hub's code for each rule (docs/iwmo.md), so each row shows its own rule fired.
LEVEL_2_CODES = {
    "CS002": "BSN_INVALID",
    "CS058": "STATUS_NOT_ALLOWED",
    "TR018": "STOP_BEFORE_START",
    "TR134": "DATE_AFTER_DAGTEKENING",
    "TR002": "BIRTH_DATE_TOO_EARLY",
    "CS139": "DATE_USE_MISMATCH",
    "TR101": "KEY_REPEATED",
}

LEVEL_2: list[tuple[str, Callable[[], bytes], tuple[Input, ...]]] = [
    ("CS002", lambda: wmo305("TZ-L2-0001", bsn="999900019"), (ISSUED,)),
    ("CS058-2", lambda: wmo305("TZ-L2-0001", start(status="2")), (ISSUED,)),
    ("CS058-9", lambda: wmo305("TZ-L2-0001", start(status="9")), (ISSUED,)),
    (
        "TR018",
        lambda: wmo307("TZ-L2-0001", stop(begin="2025-04-07", end="2025-04-06")),
        (ISSUED, wmo305("TZ-L2-0000")),
    ),
    ("TR134-geboortedatum", lambda: birth(wmo305("TZ-L2-0001"), "2025-07-02"), (ISSUED,)),
    ("TR134-begindatum", lambda: wmo305("TZ-L2-0001", start("2025-07-02")), (ISSUED,)),
    (
        "TR134-einddatum",
        lambda: wmo307("TZ-L2-0001", stop(end="2025-07-02")),
        (ISSUED, wmo305("TZ-L2-0000")),
    ),
    ("TR002", lambda: birth(wmo305("TZ-L2-0001"), TOO_OLD), (ISSUED,)),
    ("CS139-gebruik-1", lambda: birth(wmo305("TZ-L2-0001"), "1986-02-11", "1"), (ISSUED,)),
    ("CS139-gebruik-2", lambda: birth(wmo305("TZ-L2-0001"), "1986-02-01", "2"), (ISSUED,)),
    ("CS139-gebruik-3", lambda: birth(wmo305("TZ-L2-0001"), "1986-02-11", "3"), (ISSUED,)),
    ("TR101", lambda: wmo305("TZ-L2-0001", start(), start()), (ISSUED,)),
    ("TR101-stop", lambda: wmo307("TZ-L2-0001", stop(), stop()), (ISSUED, wmo305("TZ-L2-0000"))),
]


@pytest.mark.parametrize(
    ("build", "after"),
    [pytest.param(build, after, id=case) for case, build, after in LEVEL_2],
)
def test_section_3_level_2(
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    build: Callable[[], bytes],
    after: tuple[Input, ...],
) -> None:
    """A rule inside the document: Header-only retour with 0001, no XsltVersie, no event."""
    exit_code, result = inbound(capsys, tmp_path, build(), after)
    assert exit_code == 1
    assert (result["accepted"], result["events"]) == (False, [])
    assert result["retourcodes"] == {"Header": ["0001"]}
    [error] = result["errors"]
    assert error["retourcode"] == "0001"
    assert error["code"] == LEVEL_2_CODES[request.node.callspec.id[:5]]
    retour = result["retour"]
    assert "<RetourCode>0001</RetourCode>" in retour
    assert "<Client>" not in retour
    assert "XsltVersie" not in retour


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: birth(wmo305("TZ-L2-0002"), "1900-01-01", "3"), id="TR002-unknown"),
        pytest.param(lambda: birth(wmo305("TZ-L2-0002"), "1905-07-01"), id="TR002-120-years"),
        pytest.param(lambda: birth(wmo305("TZ-L2-0002"), "1986-02-01", "1"), id="CS139-day"),
        pytest.param(lambda: birth(wmo305("TZ-L2-0002"), "1986-01-01", "2"), id="CS139-month"),
    ],
)
def test_section_3_level_2_exceptions_are_approved(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, build: Callable[[], bytes]
) -> None:
    """At most 120 years, an unknown birth date (1900-01-01, DatumGebruik 3), an agreeing
    DatumGebruik: none fails level 2."""
    exit_code, result = inbound(capsys, tmp_path, build())
    assert (exit_code, result["retourcodes"], result["errors"]) == (0, {}, [])


# ---------------------------------------------------------------------- section 5

START_0407 = wmo305("TZ-S5-A")
STOP_0630 = wmo307("TZ-S5-B")
OTHER_PROVIDERS = assignment("25000120", provider_agb="73730002")
JEUGDWET = assignment(
    "25000121",
    law="jeugdwet",
    product={"category": "45", "code": "45A04"},
    variant="inspanningsgericht",
    scope={"volume": 2, "unit": "04", "frequency": "2"},
)
OTHER_CLIENT = assignment(
    "25000122", client={**example(ISSUED)["data"]["client"], "bsn": "999900031"}
)
BUDGET = assignment("25000140", variant="inspanningsgericht", scope={"budget_cents": 50000})
BUDGET_STARTED_WITH_JSON = {
    **example("care.started/valid/begeleiding-started.json"),
    "id": "c0ffee00-0000-4000-8000-000000000140",
    "subject": "25000140",
}
BUDGET_STARTED_WITH_JSON["data"] = {
    **BUDGET_STARTED_WITH_JSON["data"],
    "assignment_number": "25000140",
    "started_on": "2025-04-07",
}


@dataclass(frozen=True)
class Row:
    """One case of the table: the files before, the document, the class and code expected."""

    document: Callable[[], bytes]
    after: tuple[Input, ...] = (ISSUED,)
    retourcodes: dict[str, list[str]] = field(default_factory=dict)
    hub_codes: frozenset[str] = frozenset()


def item_codes(kind: str, code: str, second: bool = False) -> dict[str, list[str]]:
    """The retourcodes of a retour that rejects one item (the second, after a good first)."""
    items = {f"{kind}[1]": ["0200"], f"{kind}[2]": [code]} if second else {f"{kind}[1]": [code]}
    return {"Header": ["0200"], "Client": ["0200"], **items}


NINE_019 = frozenset(
    {
        "ASSIGNMENT_UNKNOWN",
        "ASSIGNMENT_WITHDRAWN",
        "PRODUCT_MISMATCH",
        "CATEGORY_LAW_MISMATCH",
        "DATE_OUTSIDE_PERIOD",
    }
)

SECTION_5: dict[str, Row] = {
    "9056": Row(
        lambda: wmo305("TZ-S5-A", start("2025-04-08")),
        (ISSUED, START_0407),
        {"Header": ["9056"]},
    ),
    "8848": Row(
        lambda: wmo305("TZ-S5-C", dagtekening="2099-01-01"), retourcodes={"Header": ["8848"]}
    ),
    "S300": Row(lambda: wmo305("TZ-S5-C", ontvanger="0363"), retourcodes={"Header": ["S300"]}),
    "9019-no-assignment": Row(
        lambda: wmo305("TZ-S5-C", start(), start(number="25000199")),
        retourcodes=item_codes("StartProduct", "9019", second=True),
        hub_codes=frozenset({"ASSIGNMENT_UNKNOWN"}),
    ),
    "9019-another-providers": Row(
        lambda: wmo305("TZ-S5-C", start(number="25000120")),
        (ISSUED, OTHER_PROVIDERS),
        item_codes("StartProduct", "9019"),
        frozenset({"ASSIGNMENT_UNKNOWN"}),
    ),
    "9019-withdrawn": Row(
        lambda: wmo305("TZ-S5-C"),
        (ISSUED, withdrawal()),
        item_codes("StartProduct", "9019"),
        frozenset({"ASSIGNMENT_WITHDRAWN"}),
    ),
    "9019-number-absent": Row(
        lambda: wmo305("TZ-S5-C", start_item(number=None)),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=NINE_019,
    ),
    "9019-product-absent": Row(
        lambda: wmo305("TZ-S5-C", start_item(product=None)),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=NINE_019,
    ),
    "9019-law-not-wmo": Row(
        lambda: wmo305("TZ-S5-C", start(number="25000121")),
        (ISSUED, JEUGDWET),
        item_codes("StartProduct", "9019"),
        NINE_019,
    ),
    "9019-bsn-not-its-clients": Row(
        lambda: wmo305("TZ-S5-C", bsn="999900031"),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=NINE_019,
    ),
    "9019-bsn-of-its-other-assignment": Row(
        lambda: wmo305("TZ-S5-C", start(number="25000122")),
        (ISSUED, OTHER_CLIENT),
        item_codes("StartProduct", "9019"),
        NINE_019,
    ),
    "9019-product-not-its-product": Row(
        lambda: wmo305("TZ-S5-C", start(code="02A06")),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=frozenset({"PRODUCT_MISMATCH"}),
    ),
    "9019-category-not-its-category": Row(
        lambda: wmo305("TZ-S5-C", start(code="03A05")),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=frozenset({"PRODUCT_MISMATCH"}),
    ),
    "9019-budget-category-not-its-category": Row(
        lambda: wmo305("TZ-S5-C", start_item(number="25000140", product="03")),
        (ISSUED, BUDGET),
        item_codes("StartProduct", "9019"),
        frozenset({"PRODUCT_MISMATCH"}),
    ),
    "9019-category-alone-without-budget": Row(
        lambda: wmo305("TZ-S5-C", start_item(product="02")),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=frozenset({"PRODUCT_MISMATCH"}),
    ),
    "9019-ingangsdatum-not-period-start": Row(
        lambda: wmo305("TZ-S5-C", start_item(ingang="2025-04-02")),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=NINE_019,
    ),
    "9019-begindatum-before-period": Row(
        lambda: wmo305("TZ-S5-C", start("2025-03-31")),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=frozenset({"DATE_OUTSIDE_PERIOD"}),
    ),
    "9019-begindatum-after-period": Row(
        lambda: wmo305("TZ-S5-C", start("2026-01-01"), dagtekening="2026-01-05"),
        retourcodes=item_codes("StartProduct", "9019"),
        hub_codes=frozenset({"DATE_OUTSIDE_PERIOD"}),
    ),
    "9019-einddatum-after-period": Row(
        lambda: wmo307("TZ-S5-C", stop(end="2026-01-02"), dagtekening="2026-01-05"),
        (ISSUED, START_0407),
        item_codes("StopProduct", "9019"),
        frozenset({"DATE_OUTSIDE_PERIOD"}),
    ),
    "9019-stop-of-unknown-assignment": Row(
        lambda: wmo307("TZ-S5-C", stop(number="25000199")),
        (ISSUED, START_0407),
        item_codes("StopProduct", "9019"),
        frozenset({"ASSIGNMENT_UNKNOWN"}),
    ),
    "9074-start": Row(
        lambda: wmo305("TZ-S5-C"),
        (ISSUED, START_0407),
        item_codes("StartProduct", "9074"),
    ),
    "9326": Row(
        lambda: wmo305("TZ-S5-C", start("2025-04-08")),
        (ISSUED, START_0407),
        item_codes("StartProduct", "9326"),
    ),
    "9326-in-one-message": Row(
        lambda: wmo305("TZ-S5-C", start(), start("2025-04-08")),
        retourcodes=item_codes("StartProduct", "9326", second=True),
    ),
    "9069": Row(
        lambda: wmo307("TZ-S5-C"),
        retourcodes=item_codes("StopProduct", "9069"),
        hub_codes=frozenset({"CARE_NOT_STARTED"}),
    ),
    "9069-other-begindatum": Row(
        lambda: wmo307("TZ-S5-C", stop(begin="2025-04-08")),
        (ISSUED, START_0407),
        item_codes("StopProduct", "9069"),
        frozenset({"CARE_NOT_STARTED"}),
    ),
    "9074-stop": Row(
        lambda: wmo307("TZ-S5-C"),
        (ISSUED, START_0407, STOP_0630),
        item_codes("StopProduct", "9074"),
    ),
    "9415": Row(
        lambda: wmo307("TZ-S5-C", stop(end="2025-06-29")),
        (ISSUED, START_0407, STOP_0630),
        item_codes("StopProduct", "9415"),
    ),
    "9415-other-reason": Row(
        lambda: wmo307("TZ-S5-C", stop(reason="19")),
        (ISSUED, START_0407, STOP_0630),
        item_codes("StopProduct", "9415"),
    ),
    "9063-start": Row(
        lambda: wmo305("TZ-S5-C", start(status="3")),
        retourcodes=item_codes("StartProduct", "9063"),
        hub_codes=frozenset({"DELETE_WITHOUT_NEW"}),
    ),
    "9063-start-other-key": Row(
        lambda: wmo305("TZ-S5-C", start("2025-04-08", status="3")),
        (ISSUED, START_0407),
        item_codes("StartProduct", "9063"),
        frozenset({"DELETE_WITHOUT_NEW"}),
    ),
    "9063-stop": Row(
        lambda: wmo307("TZ-S5-C", stop(status="3")),
        (ISSUED, START_0407),
        item_codes("StopProduct", "9063"),
        frozenset({"DELETE_WITHOUT_NEW"}),
    ),
    "9071": Row(
        lambda: wmo305("TZ-S5-C", start(status="3")),
        (ISSUED, START_0407, STOP_0630),
        item_codes("StartProduct", "9071"),
    ),
}


@pytest.mark.parametrize("row", [pytest.param(row, id=case) for case, row in SECTION_5.items()])
def test_section_5(capsys: pytest.CaptureFixture[str], tmp_path: Path, row: Row) -> None:
    """Levels 3-4: the row's code on its class, 0200 on the others; no event, exit 1."""
    exit_code, result = inbound(capsys, tmp_path, row.document(), row.after)
    assert exit_code == 1
    assert (result["accepted"], result["events"]) == (False, [])
    assert result["retourcodes"] == row.retourcodes
    failing = {code for codes in row.retourcodes.values() for code in codes} - {"0200"}
    assert {e["retourcode"] for e in result["errors"]} == failing
    if row.hub_codes:
        assert {e["code"] for e in result["errors"]} <= row.hub_codes
    retour = result["retour"]
    for code in failing:
        assert f"<RetourCode>{code}</RetourCode>" in retour
    if set(row.retourcodes) == {"Header"}:
        assert "<Client>" not in retour
    else:
        assert "<Client>" in retour
        assert retour.count("<RetourCode>0200</RetourCode>") == sum(
            codes == ["0200"] for codes in row.retourcodes.values()
        )


APPROVED: dict[str, tuple[Callable[[], bytes], tuple[Input, ...], list[str]]] = {
    "305": (lambda: wmo305("TZ-OK-1"), (ISSUED,), ["care.started"]),
    "307": (lambda: wmo307("TZ-OK-1"), (ISSUED, START_0407), ["care.stopped"]),
    "9415-reason-20-spared": (
        lambda: wmo307("TZ-OK-1", stop(end="2025-06-30")),
        (ISSUED, START_0407, wmo307("TZ-S5-B", stop(end="2025-04-30", reason="20"))),
        ["care.stopped"],
    ),
    "delete-and-replacement-together": (
        lambda: wmo305("TZ-OK-1", start(status="3"), start("2025-04-08")),
        (ISSUED, START_0407),
        ["care.started", "care.started"],
    ),
    "delete-of-a-stop": (
        lambda: wmo307("TZ-OK-1", stop(status="3")),
        (ISSUED, START_0407, STOP_0630),
        ["care.stopped"],
    ),
    "ingangsdatum-is-period-start": (
        lambda: wmo305("TZ-OK-1", start_item(ingang="2025-04-01")),
        (ISSUED,),
        ["care.started"],
    ),
    "budget-category-alone": (
        lambda: wmo305("TZ-OK-1", start_item(number="25000140", product="02")),
        (ISSUED, BUDGET),
        ["care.started"],
    ),
    # The start a JSON care.started reported holds the assignment's code; the provider's
    # 301 of a budget assignment had none, so its 307 names the product by category alone.
    "budget-json-start-stopped-by-category": (
        lambda: wmo307("TZ-OK-1", stop(number="25000140", product="02")),
        (ISSUED, BUDGET, BUDGET_STARTED_WITH_JSON),
        ["care.stopped"],
    ),
    "budget-json-start-deleted-by-category": (
        lambda: wmo305("TZ-OK-1", start_item(number="25000140", product="02", status="3")),
        (ISSUED, BUDGET, BUDGET_STARTED_WITH_JSON),
        ["care.started"],
    ),
    "status-3-checked-only-for-9063-9071": (
        lambda: wmo305("TZ-OK-1", start(status="3")),
        (ISSUED, START_0407, withdrawal()),
        ["care.started"],
    ),
    "9415-reason-20-spared-after-a-new-start": (
        lambda: wmo307("TZ-OK-1", stop(end="2025-05-01")),
        (
            ISSUED,
            START_0407,
            wmo307("TZ-S5-B", stop(end="2025-04-30", reason="20")),
            wmo305("TZ-S5-D", start("2025-05-10")),
        ),
        ["care.stopped"],
    ),
    "8848-dagtekening-today": (
        lambda: wmo305("TZ-OK-1", dagtekening=datetime.now(AMSTERDAM).date().isoformat()),
        (ISSUED,),
        ["care.started"],
    ),
    "number-with-leading-zero": (
        lambda: wmo305("TZ-OK-1", start(number="025000107")),
        (ISSUED,),
        ["care.started"],
    ),
}


# Approvals by the iWmo tables that the hub's own care rules (messages.md) then refuse: as
# in the live hub, the approval and its events stand and the router dead-letters the event
# (operators are alerted; spec section 5's last paragraph). The codes the router gives.
DEAD_LETTERED_AFTER_APPROVAL = {
    # TR063: a delete is checked only for 9063 and 9071, so a delete of a start of a
    # withdrawn assignment is approved; messages.md refuses care on a withdrawn assignment.
    "status-3-checked-only-for-9063-9071": ["ASSIGNMENT_WITHDRAWN"],
    # (9415 sparing a second stop after a reason-20 stop is no longer among them: the care
    # rules keep every start with its stops, and a stop stops the latest start before it.)
}


@pytest.mark.parametrize(
    ("build", "after", "types", "dead"),
    [
        pytest.param(*case, DEAD_LETTERED_AFTER_APPROVAL.get(name, []), id=name)
        for name, case in APPROVED.items()
    ],
)
def test_section_3_approval(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    build: Callable[[], bytes],
    after: tuple[Input, ...],
    types: list[str],
    dead: list[str],
) -> None:
    """Approval: the Header alone without RetourCodes, the events in document order, exit 0."""
    exit_code, result = inbound(capsys, tmp_path, build(), after)
    assert (exit_code, result["accepted"], result["errors"]) == (0, True, [])
    assert [e["code"] for e in result.get("dead_lettered", [])] == dead
    assert result["retourcodes"] == {}
    assert [e["type"].split(".")[-3:-1] for e in result["events"]] == [t.split(".") for t in types]
    retour = result["retour"]
    assert "<RetourCodes>" not in retour
    assert "<Client>" not in retour
    header = header_of(retour)
    heen = header_of(build())
    assert header["BerichtCode"] == str(int(heen["BerichtCode"]) + 1)  # 419 on 418, 421 on 420
    assert (header["Afzender"], header["Ontvanger"]) == (heen["Afzender"], heen["Ontvanger"])
    assert header["Identificatie"] == heen["Identificatie"]
    key = f"retour|{heen['Afzender']}|{heen['BerichtCode']}|{heen['Identificatie']}"
    assert header["IdentificatieRetour"] == hashlib.sha256(key.encode()).hexdigest()[:12]
    received = datetime.fromisoformat(result["events"][0]["time"]).astimezone(AMSTERDAM)
    assert header["DagtekeningRetour"] == received.date().isoformat()
    assert header["XsdVersieRetour"] == ("1.0.0", "1.0.0")
    assert "XsltVersie" not in header
    assert "\r\n" in retour
    assert not retour.startswith("\ufeff")


def header_of(document: str | bytes) -> dict[str, Any]:
    """The Header's elements by local name; a composite as the tuple of its children's texts."""
    root = etree.fromstring(document.encode() if isinstance(document, str) else document)
    [header] = [child for child in root if etree.QName(child).localname == "Header"]
    found: dict[str, Any] = {}
    for element in header:
        name = etree.QName(element).localname
        children = list(element)
        found[name] = tuple(c.text for c in children) if children else element.text
        if name == "BerichtIdentificatie":
            found["Identificatie"], found["Dagtekening"] = found[name]
    return found


# ---------------------------------------------------------------------- section 4


def spec_id(afzender: str, code: int, identificatie: str, number: str, n: int) -> str:
    """The event id as spec section 4 writes it, computed here without the hub's helper."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "urn:nl-sociaaldomein-hub:iwmo")
    assert namespace == IWMO_NS
    return str(uuid.uuid5(namespace, f"{afzender}/{code}/{identificatie}/{int(number)}/{n}"))


def test_section_4_the_events_of_an_approved_305(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """care.started per StartProduct: id by the formula, the assignment's number and product."""
    document = wmo305("TZ-S4-1", start(status="3"), start("2025-04-08", number="025000107"))
    exit_code, result = inbound(capsys, tmp_path, document, (ISSUED, START_0407))
    assert exit_code == 0
    first, second = result["events"]
    assert first["id"] == spec_id(PROVIDER_AGB, 418, "TZ-S4-1", NUMBER, 1)
    assert second["id"] == spec_id(PROVIDER_AGB, 418, "TZ-S4-1", "025000107", 2)
    for event in (first, second):
        assert event["source"] == PROVIDER_SOURCE
        assert event["type"].endswith("care.started.v1")
        assert event["subject"] == NUMBER
        assert datetime.fromisoformat(event["time"]).utcoffset() is not None
    product = {"category": "02", "code": "02A05"}
    assert first["data"] == {
        "assignment_number": NUMBER,
        "provider_agb": PROVIDER_AGB,
        "product": product,
        "started_on": "2025-04-07",
        "delivery_status": "deleted",
    }
    assert second["data"] == {
        "assignment_number": NUMBER,
        "provider_agb": PROVIDER_AGB,
        "product": product,
        "started_on": "2025-04-08",
        "delivery_status": "new",
    }


def test_section_4_the_event_of_an_approved_307(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """care.stopped: stopped_on = Einddatum, reason = RedenBeeindiging; no Begindatum carried."""
    document = wmo307("TZ-S4-2", stop(end="2025-05-15", reason="31", number="0025000107"))
    exit_code, result = inbound(capsys, tmp_path, document, (ISSUED, START_0407))
    assert exit_code == 0
    [event] = result["events"]
    assert event["id"] == spec_id(PROVIDER_AGB, 420, "TZ-S4-2", NUMBER, 1)
    assert event["source"] == PROVIDER_SOURCE
    assert event["type"].endswith("care.stopped.v1")
    assert event["subject"] == NUMBER
    assert datetime.fromisoformat(event["time"]).utcoffset() is not None
    assert event["data"] == {
        "assignment_number": NUMBER,
        "provider_agb": PROVIDER_AGB,
        "product": {"category": "02", "code": "02A05"},
        "stopped_on": "2025-05-15",
        "reason": "31",
        "delivery_status": "new",
    }
    text = json.dumps(result["events"])
    for personal in (CLIENT_BSN, CLIENT_NAME, CLIENT_BIRTH_DATE):  # only keys are carried
        assert personal not in text


# ---------------------------------------------------------------------- section 6


def outbound(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, event: Input, after: tuple[Input, ...] = ()
) -> tuple[int, dict[str, Any]]:
    """``hub iwmo outbound --after A ... EVENT``."""
    args: list[str | Path] = ["outbound"]
    for index, item in enumerate(after):
        args += ["--after", materialise(tmp_path, index, item)]
    args.append(materialise(tmp_path, len(after), event))
    return iwmo(capsys, *args)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param(ISSUED, None, id="null-outputgericht"),
        pytest.param(
            assignment(
                "25000130",
                variant="inspanningsgericht",
                scope={"volume": 4, "unit": "04", "frequency": "2"},
            ),
            None,
            id="null-inspanningsgericht",
        ),
        pytest.param(BUDGET, None, id="null-budget"),
        pytest.param(
            "assignments.issued/valid/new-inspanningsgericht-jeugdwet.json", "not-wmo", id="not-wmo"
        ),
        pytest.param(
            "assignments.issued/valid/new-taakgericht-budget.json", "taakgericht", id="taakgericht"
        ),
        pytest.param(
            assignment("25000131", scope={"volume": 1, "unit": "83", "frequency": "1"}),
            "not-renderable",
            id="not-renderable-CS338",
        ),
    ],
)
def test_section_6_reasons(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, event: Input, reason: str | None
) -> None:
    """A 301 for a Wmo inspannings- or outputgericht assignment; else the reason and no 301."""
    exit_code, result = outbound(capsys, tmp_path, event)
    assert exit_code == 0
    assert result["reason"] == reason
    if reason is None:
        text = result["wmo301"]
        assert "wmo301/schema" in text
        assert "\r\n" in text
        assert not text.startswith("\ufeff")
        issued = event if isinstance(event, dict) else example(event)
        header = header_of(text)
        when = datetime.fromisoformat(issued["time"]).astimezone(AMSTERDAM)
        key = f"{issued['source']}|{issued['id']}"
        assert {
            name: header[name]
            for name in ("BerichtCode", "BerichtVersie", "BerichtSubversie", "Afzender")
        } == {
            "BerichtCode": "414",
            "BerichtVersie": "3",
            "BerichtSubversie": "2",
            "Afzender": "0193",
        }
        assert header["Ontvanger"] == issued["data"]["provider_agb"]
        assert header["Identificatie"] == hashlib.sha256(key.encode()).hexdigest()[:12]
        assert header["Dagtekening"] == when.date().isoformat()
        assert header["XsdVersie"] == ("1.0.0", "1.0.0")
        if "budget_cents" in issued["data"]["scope"]:  # CD041, CD077: Budget, no Product Code
            assert "<Budget>50000</Budget>" in text
            assert "<bs:Code>" not in text
            assert "<Omvang>" not in text
    else:
        assert result["wmo301"] is None


def test_section_6_the_clients_other_assignment_at_the_provider_is_listed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """OP087: the client's assignments at the provider, by number; not withdrawn, not ended."""
    lower = assignment("25000100", product={"category": "02", "code": "02A06"})
    elsewhere = assignment("25000101", provider_agb="73730002")
    withdrawn = assignment("25000102")
    ended = assignment("25000103", period={"start": "2025-01-01", "end": "2025-03-23"})
    exit_code, result = outbound(
        capsys, tmp_path, ISSUED, (lower, elsewhere, withdrawn, withdrawal("25000102"), ended)
    )
    assert exit_code == 0
    assert re.findall(r"<ToewijzingNummer>(\d+)<", result["wmo301"]) == ["25000100", NUMBER]


# ---------------------------------------------------------------------- section 7


def wmo302_on(identificatie: str, codes: dict[str, str] | None = None) -> bytes:
    """A 302 on the 301 with this Identificatie: Header-only, or a Client with these codes.

    With ``codes`` (ToewijzingNummer -> RetourCode) the 302 echoes the 301 the hub renders
    for the example assignment, with a RetourCodes on each ToegewezenProduct.
    """
    if codes is None:
        return wmo302(identificatie)
    rendered = _rendered_301()
    ns301 = "http://www.istandaarden.nl/iwmo/3_2/wmo301/schema"
    ns302 = "http://www.istandaarden.nl/iwmo/3_2/wmo302/schema"
    root = etree.fromstring(rendered.replace(ns301.encode(), ns302.encode()))

    def child(parent: etree._Element, name: str) -> etree._Element:
        found = parent.find(f"{{{ns302}}}{name}")
        assert found is not None, name
        return found

    def retourcodes(parent: etree._Element, code: str) -> None:
        element = etree.SubElement(parent, f"{{{ns302}}}RetourCodes")
        etree.SubElement(element, f"{{{ns302}}}RetourCode").text = code

    header = child(root, "Header")
    child(header, "BerichtCode").text = "415"
    xsd = child(header, "XsdVersie")
    position = list(header).index(xsd) + 1
    for offset, (name, text) in enumerate(
        [("IdentificatieRetour", "TZ-302-0002"), ("DagtekeningRetour", "2025-03-25")]
    ):
        element = etree.Element(f"{{{ns302}}}{name}")
        element.text = text
        header.insert(position + offset, element)
    retour_xsd = copy.deepcopy(xsd)
    retour_xsd.tag = f"{{{ns302}}}XsdVersieRetour"
    header.insert(position + 2, retour_xsd)
    retourcodes(header, "0200")
    client = child(root, "Client")
    for contact in child(client, "Contactgegevens"):
        retourcodes(contact, "0200")
    for product in child(client, "ToegewezenProducten"):
        retourcodes(product, codes[child(product, "ToewijzingNummer").text or ""])
    retourcodes(client, "0200")
    assert child(header, "BerichtIdentificatie")[0].text == identificatie
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


_RENDERED: list[bytes] = []


def _rendered_301() -> bytes:
    """The 301 of the example assignment, as ``hub iwmo outbound`` renders it."""
    if not _RENDERED:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert main(["iwmo", "outbound", str(EXAMPLES / ISSUED)]) == 0
        _RENDERED.append(json.loads(buffer.getvalue())["wmo301"].encode())
    return _RENDERED[0]


def test_section_7_a_matched_302(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A matched 302 is accepted and never answered: acknowledged, or rejected with codes."""
    issued = example(ISSUED)
    identificatie = identificatie_301(issued["source"], issued["id"])
    for document, outcome in [
        (wmo302_on(identificatie), "acknowledged"),
        (wmo302_on(identificatie, {NUMBER: "0200"}), "acknowledged"),
        (wmo302_on(identificatie, {NUMBER: "8004"}), "rejected"),
    ]:
        exit_code, result = inbound(capsys, tmp_path, document)
        assert exit_code == 0
        assert result == {
            "accepted": True,
            "events": [],
            "retour": None,
            "retourcodes": {},
            "errors": [],
            "retour_of": {"identificatie": identificatie, "outcome": outcome},
        }


@pytest.mark.parametrize(
    ("identificatie", "after"),
    [
        pytest.param("0123456789ab", (ISSUED,), id="no-such-301"),
        pytest.param(None, (), id="301-never-sent"),
    ],
)
def test_section_7_an_unmatched_302(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    identificatie: str | None,
    after: tuple[Input, ...],
) -> None:
    """A 302 naming no 301 sent to the sender: RETOUR_UNMATCHED, retourcode null, exit 1."""
    if identificatie is None:
        issued = example(ISSUED)
        identificatie = identificatie_301(issued["source"], issued["id"])
    exit_code, result = inbound(capsys, tmp_path, wmo302_on(identificatie), after)
    assert exit_code == 1
    assert (result["accepted"], result["events"], result["retour"]) == (False, [], None)
    assert [(e["code"], e["retourcode"]) for e in result["errors"]] == [("RETOUR_UNMATCHED", None)]


def test_section_6_an_assignment_no_longer_translatable_is_not_listed_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """OP087 lists translatable assignments: one changed to taakgericht leaves later 301s."""
    other = assignment("25000100", product={"category": "02", "code": "02A06"})
    now_task = assignment(
        "25000100",
        "2025-03-25T09:05:00+01:00",
        product={"category": "02", "code": "02A06"},
        status="changed",
        change_reason="02",
        variant="taakgericht",
        scope={"budget_cents": 120000},
    )
    exit_code, result = outbound(capsys, tmp_path, ISSUED, (other, now_task))
    assert exit_code == 0
    assert re.findall(r"<ToewijzingNummer>(\d+)<", result["wmo301"]) == [NUMBER]
