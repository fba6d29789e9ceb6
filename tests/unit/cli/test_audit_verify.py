"""``hub audit verify`` and ``hub audit purge`` on a store the live pipeline's records fill."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.audit import open_store
from hub.audit.chain import Checkpoint
from hub.audit.record import DisclosureRecord
from hub.cli import main
from hub.settings import AuditSettings, HubSettings
from hub.testing import InMemoryPipeline, scenario

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite store holding the example chain's chained records and checkpoints."""
    monkeypatch.setenv("HUB_AUDIT__CHECKPOINT_EVERY", "5")
    ticks = iter(range(10_000))
    hub = InMemoryPipeline(
        HubSettings(audit=AuditSettings(checkpoint_every=5)),
        clock=lambda: NOW + timedelta(minutes=next(ticks)),
    )
    values = [
        json.loads(r.value or b"")
        for event in scenario()
        for r in hub.feed(event)
        if r.topic == hub.layout.disclosures
    ]
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    with open_store(url) as store:
        store.add(DisclosureRecord.model_validate(v) for v in values if "record_type" not in v)
        store.add_checkpoints(Checkpoint.model_validate(v) for v in values if "record_type" in v)
    return url


def test_an_intact_store_verifies(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--store", store_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("store: ")
    assert out.rstrip().endswith(": intact")


def test_a_tampered_store_exits_1_naming_chain_and_seq(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = sqlite3.connect(store_url.removeprefix("sqlite:///"))
    with db:
        db.execute("DROP TRIGGER disclosures_no_update")
        db.execute(
            "UPDATE disclosures SET record = json_set(record, '$.legal_basis', 'none')"
            " WHERE json_extract(record, '$.seq') = 2"
        )
    db.close()

    assert main(["audit", "verify", "--store", store_url, "--json"]) == 1
    breaks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert breaks
    assert {b["kind"] for b in breaks} == {"changed"}
    assert {b["seq"] for b in breaks} == {2}
    assert all(b["where"] == "store" and b["chain"] for b in breaks)


def test_purge_asks_for_yes_then_deletes_and_verify_still_passes(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (NOW + timedelta(minutes=15)).isoformat()
    assert (
        main(["audit", "purge", "--before", before, "--operator", "po-anna", "--store", store_url])
        == 0
    )
    assert "would be deleted; run again with --yes" in capsys.readouterr().out
    with open_store(store_url, read_only=True) as store:
        assert store.purges() == []

    args = ["audit", "purge", "--before", before, "--operator", "po-anna", "--store", store_url]
    assert main([*args, "--yes"]) == 0
    assert "purged" in capsys.readouterr().out
    assert main(["audit", "verify", "--store", store_url]) == 0
    assert "purge(s): intact" in capsys.readouterr().out
