"""A pseudonym key rotation half-way through the example chain: routing and lookups go on."""

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

OLD_SECRET = "audit-rotation-old-secret-0123456789"
NEW_SECRET = "audit-rotation-new-secret-9876543210"
MOTHER = "999900018"  # the client of the example referral
ROTATED_AFTER = 4  # the referral, its answers and the household's case: under the old key

BEFORE = Pseudonymiser(OLD_SECRET.encode(), key_id="k1")
AFTER = Pseudonymiser(NEW_SECRET.encode(), key_id="k2", previous={"k1": OLD_SECRET.encode()})


def _records(*keys: Pseudonymiser) -> tuple[list[DisclosureRecord], int]:
    """The example chain's records, routed with the first key, then (from event
    ROTATED_AFTER on) with the second, over one routing state kept across the change;
    and how many were written before the change."""
    ticks = itertools.count()
    registry = demo_registry()
    policy = load_policy(registry=registry)
    state, held = StateStore(), StateStore()
    records: list[DisclosureRecord] = []
    split = 0
    for n, raw in enumerate(scenario()):
        if n == ROTATED_AFTER:
            split = len(records)
        ctx = RoutingContext(
            registry=registry,
            policy=policy,
            pseudonymise=keys[0] if n < ROTATED_AFTER or len(keys) == 1 else keys[1],
            now=lambda: datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=next(ticks)),
        )
        overlay, held_overlay = state.overlay(), held.overlay()
        outcome = process(raw, registry.by_source(raw["source"]), overlay, ctx, held=held_overlay)
        overlay.commit()
        held_overlay.commit()
        assert outcome.decision is not None
        records += [
            DisclosureRecord.model_validate_json(r.to_json()) for r in outcome.decision.disclosures
        ]
    return records, split


@pytest.fixture
def rotated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite store of the chain rotated half-way; the hub configured with k2, k1 kept."""
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_SECRET", NEW_SECRET)
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_KEY_ID", "k2")
    monkeypatch.setenv("HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS", json.dumps({"k1": OLD_SECRET}))
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    with open_store(url) as store:
        store.add(_records(BEFORE, AFTER)[0])
    return url


def _decisions(records: list[DisclosureRecord]) -> list[tuple[str, str, str, str | None]]:
    return [(r.event_id, r.recipient, r.outcome.value, r.reason) for r in records]


def test_state_made_before_a_rotation_routes_the_events_after_it_as_before() -> None:
    """The household's case, referral and assignments, pseudonymised under the old key, link
    the later events under the new key: every release and withholding is the one an
    unrotated hub makes, and each record names the key it was made with."""
    rotated, split = _records(BEFORE, AFTER)
    assert _decisions(rotated) == _decisions(_records(BEFORE)[0])
    assert 0 < split < len(rotated)
    assert {r.pseudonym_key for r in rotated[:split]} == {"k1"}
    assert {r.pseudonym_key for r in rotated[split:]} == {"k2"}
    # A later record about the household names the mother under the current key, and
    # under the old one where it takes her pseudonym over from the case made before.
    assert any({AFTER(MOTHER), BEFORE(MOTHER)} <= set(r.data_subjects) for r in rotated[split:])
    assert all(AFTER(MOTHER) not in r.data_subjects for r in rotated[:split])


def test_subject_finds_the_residents_disclosures_before_and_after_the_rotation(
    rotated_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """hub audit subject with k2 current and k1 kept lists all 40 disclosures (as many as
    without a rotation), each once though later ones name her under both keys."""
    assert main(["audit", "subject", "--bsn", MOTHER, "--store", rotated_store, "--json"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert len(lines) == 40
    assert lines[0]["event_type"] == "nl.sociaaldomein.referrals.submitted.v1"
    assert MOTHER not in captured.out + captured.err
    assert OLD_SECRET not in captured.out + captured.err


def test_without_the_old_key_the_earlier_disclosures_are_not_found(
    rotated_store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropping k1 too early loses the disclosures made before the rotation: why it is kept."""
    monkeypatch.delenv("HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS")
    assert main(["audit", "subject", "--bsn", MOTHER, "--store", rotated_store, "--json"]) == 0
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    earlier = {raw["id"] for raw in scenario()[:ROTATED_AFTER]}
    assert found
    assert not any(line["event_id"] in earlier for line in found)
    assert len(found) < 40


def test_the_report_tells_of_the_disclosures_before_the_rotation(
    rotated_store: str, tmp_path: Path
) -> None:
    """hub audit report finds the referral's disclosure (made under k1) after the rotation."""
    page = tmp_path / "overzicht.html"
    assert main(
        ["audit", "report", "--bsn", MOTHER, "--store", rotated_store, "--format", "html",
         "--output", str(page)]
    ) == 0  # fmt: skip
    body = page.read_text(encoding="utf-8")
    with open_store(rotated_store, read_only=True) as store:
        earlier = store.concerning(BEFORE(MOTHER))
        both = store.concerning(*AFTER.every(MOTHER))
    assert "k1" in {r.pseudonym_key for r in earlier}
    assert set(earlier) < set(both)
    assert len(both) == 40
    names = {p.id: p.name for p in demo_registry()}
    assert str(names["swt-zwolle"]) in body
    assert MOTHER not in body


def test_keys_counts_the_records_per_key_and_names_the_configured_ones(
    rotated_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """hub audit keys: k1's records (before) and k2's (after), both configured; no secret shown."""
    assert main(["audit", "keys", "--store", rotated_store, "--json"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    records, split = _records(BEFORE, AFTER)
    assert [(line["key"], line["configured"], line["records"]) for line in lines] == [
        ("k1", "earlier", split),
        ("k2", "current", len(records) - split),
    ]
    assert OLD_SECRET not in captured.out + captured.err
    assert NEW_SECRET not in captured.out + captured.err
    assert main(["audit", "keys", "--store", rotated_store]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"k1: {split} record(s), ")
