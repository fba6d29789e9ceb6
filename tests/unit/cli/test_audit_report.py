"""``hub audit report``: a resident's report, read as a person would read it.

The PDF is rendered to an image with poppler's pdftoppm and its text taken with
pdftotext (Debian's poppler-utils, installed by the test set-up when absent): it names
every organisation that received data about the resident, in words, and no value of any
event, the resident's own or anyone else's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.audit import DisclosureOutcome, open_store
from hub.cli import main
from hub.connectors.registry import load_registry
from hub.privacy import Pseudonymiser
from hub.testing import scenario
from tests.debian import require

from .test_audit_subject import MOTHER, SECRET, seeded_store

__all__ = ["seeded_store"]  # the fixture, shared with hub audit subject's tests

_PERSONAL_KEYS = {
    "bsn",
    "given_name",
    "family_name",
    "initials",
    "birth_date",
    "street",
    "postcode",
    "phone",
    "email",
}  # fmt: skip (house numbers left out: "8" is also in a date)


def _personal_values(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            yield from _personal_values(inner, inner_key)
    elif isinstance(value, list):
        for item in value:
            yield from _personal_values(item, key)
    elif key in _PERSONAL_KEYS and isinstance(value, str | int):
        yield str(value)


def _expected_organisations(store_url: str) -> set[str]:
    names = {p.id: p.name for p in load_registry()}
    with open_store(store_url, read_only=True) as store:
        records = store.concerning(Pseudonymiser(SECRET.encode())(MOTHER))
    return {str(names[r.recipient]) for r in records if r.outcome is DisclosureOutcome.DELIVERED}


def test_the_pdf_report_names_every_recipient_and_no_ones_data(
    seeded_store: str, tmp_path: Path
) -> None:
    tools = require("poppler-utils", "pdftoppm", "pdftotext")
    pdf = tmp_path / "overzicht.pdf"

    assert (
        main(["audit", "report", "--bsn", MOTHER, "--store", seeded_store, "--output", str(pdf)])
        == 0
    )

    assert pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(
        [tools["pdftoppm"], "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages
    assert pages[0].read_bytes().startswith(b"\x89PNG")
    text = subprocess.run(
        [tools["pdftotext"], "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = " ".join(text.split())
    organisations = _expected_organisations(seeded_store)
    assert len(organisations) >= 2
    for organisation in organisations:
        assert organisation in flat
    assert "Overzicht: wie kreeg welke gegevens over u" in flat
    assert "Doel:" in flat
    assert "Grondslag:" in flat
    assert "gegevens van de cliënt (" in flat  # kinds of data, whose, not paths
    assert "explicit consent" not in flat  # the default legal bases in Dutch
    assert "client." not in flat
    leaked = {v for raw in scenario() for v in _personal_values(raw["data"]) if v in flat}
    assert leaked == set()
    assert MOTHER not in flat


def test_the_html_report_says_what_was_withheld_and_why(
    seeded_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "overzicht.html"

    assert main(
        ["audit", "report", "--bsn", MOTHER, "--store", seeded_store, "--format", "html",
         "--output", str(page)]
    ) == 0  # fmt: skip

    body = page.read_text(encoding="utf-8")
    assert body.startswith("<!DOCTYPE html>")
    assert '<html lang="nl">' in body
    assert "http" not in body.lower().replace("<!doctype html>", "")  # no external assets
    for organisation in _expected_organisations(seeded_store):
        assert organisation in body
    assert MOTHER not in body + capsys.readouterr().err


@pytest.mark.parametrize("command", ["report", "export"])
def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(
    seeded_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """Not a traceback: the officer learns the file could not be written, and why."""
    target = tmp_path / "no such folder" / "overzicht.html"
    person = ["--bsn", MOTHER, "--format", "html"] if command == "report" else []
    args = ["audit", command, *person, "--store", seeded_store, "--output", str(target)]

    assert main(args) == 2

    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "hub audit: cannot write the --output file (No such file or directory)"
    )
    assert "Traceback" not in err


def test_an_invalid_bsn_is_refused_without_repeating_it(
    seeded_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "report", "--bsn", "123456789", "--store", seeded_store]) == 2
    captured = capsys.readouterr()
    assert "123456789" not in captured.out + captured.err


def test_a_safety_reports_persons_are_not_told_of_it_the_officer_is(
    seeded_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A child a meldcode report names: no report until the officer decides; then without those records, and no "nothing shared"."""
    child = "999900080"  # a person of the example safety report
    page = tmp_path / "overzicht.html"
    command = ["audit", "report", "--bsn", child, "--store", seeded_store, "--format", "html",
               "--output", str(page)]  # fmt: skip

    assert main(command) == 3
    assert not page.exists()
    err = capsys.readouterr().err
    assert "decide on them first" in err
    assert main([*command, "--leave-out-protected"]) == 0

    body = page.read_text(encoding="utf-8")
    assert "Veilig Thuis IJsselland kreeg gegevens" not in body
    assert "melder" not in body
    assert "Er zijn geen gegevens over u gedeeld" not in body
    assert "in dit overzicht" in body
    err += capsys.readouterr().err
    assert "of a Veilig Thuis matter are not in the report, as decided" in err
    assert child not in body + err
