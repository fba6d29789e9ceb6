"""``hub audit subject --bsn``: a resident's disclosures, looked up by pseudonym, BSN never shown."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.audit import DisclosureRecord, open_store
from hub.cli import main
from hub.pipeline import process
from hub.privacy import Pseudonymiser, load_policy
from hub.routing import RoutingContext
from hub.state import StateStore
from hub.testing import demo_registry, scenario

SECRET = "audit-cmd-test-secret-0123456789"
MOTHER = "999900018"  # the client of the example referral


@pytest.fixture
def seeded_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite store holding every disclosure record of the example chain; the hub's secret set."""
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_SECRET", SECRET)
    ticks = itertools.count()
    registry = demo_registry()
    ctx = RoutingContext(
        registry=registry,
        policy=load_policy(registry=registry),
        pseudonymise=Pseudonymiser(SECRET.encode()),
        now=lambda: datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=next(ticks)),
    )
    state, held = StateStore(), StateStore()
    records = []
    for raw in scenario():
        overlay, held_overlay = state.overlay(), held.overlay()
        outcome = process(raw, registry.by_source(raw["source"]), overlay, ctx, held=held_overlay)
        overlay.commit()
        held_overlay.commit()
        assert outcome.decision is not None
        records += [
            DisclosureRecord.model_validate_json(r.to_json()) for r in outcome.decision.disclosures
        ]
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    with open_store(url) as store:
        assert store.add(reversed(records)) == len(records)
    return url


def test_lists_every_disclosure_about_the_resident_oldest_first(
    seeded_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints one line per disclosure concerning the BSN, by decided_at; never the BSN."""
    assert main(["audit", "subject", "--bsn", MOTHER, "--store", seeded_store, "--json"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert MOTHER not in captured.out + captured.err
    assert [line["decided_at"] for line in lines] == sorted(line["decided_at"] for line in lines)
    assert [(line["event_type"].split(".")[2], line["recipient"]) for line in lines][:6] == [
        ("referrals", "swt-zwolle"),
        ("referrals", "gp-de-linde"),
        ("referrals", "gp-de-linde"),
        ("referrals", "gp-de-linde"),
        ("provisions", "backoffice-zwolle"),
        ("provisions", "backoffice-zwolle"),
    ]
    assert lines[0] == {
        "decided_at": lines[0]["decided_at"],
        "recipient": "swt-zwolle",
        "outcome": "delivered",
        "reason": None,
        "event_type": "nl.sociaaldomein.referrals.submitted.v1",
        "event_id": scenario()[0]["id"],
        "source": "gp-de-linde",
        "fields_disclosed": lines[0]["fields_disclosed"],
        "fields_withheld": [],
        "legal_basis": "explicit consent of the client (AVG art. 6(1)(a), 9(2)(a))",
        "processing_activity": "referral-intake",
        "arrived": None,  # not a webhook delivery that failed to arrive
    }
    assert "client.bsn" in lines[0]["fields_disclosed"]
    assert len(lines) == 40


def test_the_human_listing_names_when_whom_what_and_why(
    seeded_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json, a header and per disclosure its time, outcome, recipient, fields and basis."""
    assert main(["audit", "subject", "--bsn", MOTHER, "--store", seeded_store]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "40 disclosure(s) concerning this resident"
    assert "delivered  to swt-zwolle" in out
    assert "withheld (NO_GOALS_FOR_ASSIGNMENT)  to provider-thuiszorg-zwolle" in out
    assert "  basis:      Jeugdwet ch. 7.4" in out
    assert MOTHER not in out


def test_a_resident_without_disclosures_gets_an_empty_list(
    seeded_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid BSN nobody disclosed anything about yields zero lines and exit 0."""
    assert main(["audit", "subject", "--bsn", "999999990", "--store", seeded_store]) == 0
    assert capsys.readouterr().out == "0 disclosure(s) concerning this resident\n"


def test_another_secret_finds_nothing(
    seeded_store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pseudonyms are keyed: with the demo secret the resident's records are not found, with a warning."""
    monkeypatch.delenv("HUB_PRIVACY__PSEUDONYM_SECRET")
    assert main(["audit", "subject", "--bsn", MOTHER, "--store", seeded_store]) == 0
    captured = capsys.readouterr()
    assert captured.out == "0 disclosure(s) concerning this resident\n"
    assert "DEMO-ONLY pseudonym secret" in captured.err


@pytest.mark.parametrize("bsn", ["123456789", "99990001", "abcdefghi"])
def test_an_invalid_bsn_is_refused_without_echoing_it(
    seeded_store: str, capsys: pytest.CaptureFixture[str], bsn: str
) -> None:
    """A value that is not a BSN exits 2 and is not repeated in the message."""
    assert main(["audit", "subject", "--bsn", bsn, "--store", seeded_store]) == 2
    captured = capsys.readouterr()
    assert captured.err == "hub audit: --bsn is not a valid BSN (9 digits, 11-proof)\n"
    assert bsn not in captured.out + captured.err


def test_a_missing_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store that does not exist is not created by a query: exit 2."""
    url = f"sqlite:///{tmp_path / 'nothing.sqlite3'}"
    assert main(["audit", "subject", "--bsn", MOTHER, "--store", url]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "nothing.sqlite3").exists()
