"""Tamper evidence: the pipeline chains its disclosure records; verify names every break.

The example chain runs through the live pipeline (in memory, checkpoints every 5 records).
Its disclosure records and checkpoints are then checked as they were written, and after
each kind of tampering: a changed, removed, inserted or reordered record, a forged
checkpoint, and a chain rewritten consistently after a change (caught by the signed
checkpoint). The same in the SQLite store, with a purge in between.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.audit import open_store
from hub.audit.chain import ChainHead, ChainVerifier, Checkpoint, Signer, record_hash
from hub.audit.record import DisclosureRecord
from hub.audit.verify import public_keys, verify_store
from hub.pipeline import OutRecord
from hub.settings import AuditSettings, HubSettings
from hub.testing import InMemoryPipeline, scenario

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AUDIT = AuditSettings(checkpoint_every=5)
KEYS = public_keys(AUDIT, development=True)


@pytest.fixture(scope="module")
def written() -> list[OutRecord]:
    """Every disclosure-topic record the example chain writes, in written order."""
    ticks = iter(range(10_000))
    hub = InMemoryPipeline(
        HubSettings(audit=AUDIT), clock=lambda: NOW + timedelta(minutes=next(ticks))
    )
    out: list[OutRecord] = []
    for event in scenario():
        out += [r for r in hub.feed(event) if r.topic == hub.layout.disclosures]
    return out


def _values(written: list[OutRecord]) -> list[dict[str, Any]]:
    return [json.loads(r.value or b"") for r in written]


def _verify(values: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    verifier = ChainVerifier(KEYS)
    for value in values:
        if value.get("record_type") == "checkpoint":
            verifier.add_checkpoint(Checkpoint.model_validate(value))
        else:
            verifier.add(value)
    return [(b.kind, b.chain.rsplit(".", 1)[-1], b.seq) for b in verifier.finish()]


def _a_long_chain(values: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for value in values:
        if "seq" in value and value.get("record_type") is None:
            counts[value["chain"]] = counts.get(value["chain"], 0) + 1
    return max(counts, key=counts.__getitem__)


def _records_of(values: list[dict[str, Any]], chain: str) -> list[dict[str, Any]]:
    return [v for v in values if v.get("chain") == chain and v.get("record_type") is None]


def test_the_pipeline_writes_linked_records_and_signed_checkpoints(
    written: list[OutRecord],
) -> None:
    values = _values(written)
    chain = _a_long_chain(values)
    records = _records_of(values, chain)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["prev_hash"] is None
    for before, after in itertools.pairwise(records):
        assert after["prev_hash"] == record_hash(before)
    checkpoints = [v for v in values if v.get("record_type") == "checkpoint"]
    assert checkpoints
    assert all(c["seq"] % 5 == 0 for c in checkpoints)
    assert _verify(values) == []


def test_a_changed_record_is_named(written: list[OutRecord]) -> None:
    values = _values(written)
    target = _records_of(values, _a_long_chain(values))[2]
    target["recipient"] = "someone-else"

    assert ("changed", target["chain"].rsplit(".", 1)[-1], 3) in _verify(values)


def test_a_removed_record_is_named(written: list[OutRecord]) -> None:
    values = _values(written)
    target = _records_of(values, _a_long_chain(values))[3]
    values.remove(target)

    assert ("removed", target["chain"].rsplit(".", 1)[-1], 4) in _verify(values)


def test_an_inserted_record_is_named(written: list[OutRecord]) -> None:
    values = _values(written)
    forged = dict(_records_of(values, _a_long_chain(values))[1])
    forged["disclosure_id"] = "00000000-0000-5000-8000-000000000999"
    values.append(forged)

    assert ("inserted", forged["chain"].rsplit(".", 1)[-1], 2) in _verify(values)


def test_reordered_records_are_named(written: list[OutRecord]) -> None:
    """Two records swap places: their seq numbers are swapped, their links are not."""
    values = _values(written)
    records = _records_of(values, _a_long_chain(values))
    records[1]["seq"], records[2]["seq"] = 3, 2

    assert ("reordered", records[1]["chain"].rsplit(".", 1)[-1], 2) in _verify(values)


def test_a_consistent_rewrite_after_a_change_is_caught_by_the_signed_checkpoint(
    written: list[OutRecord],
) -> None:
    """Whoever changes a record and rehashes every later one still cannot sign a checkpoint."""
    values = _values(written)
    records = _records_of(values, _a_long_chain(values))
    records[1]["recipient"] = "someone-else"
    for before, after in itertools.pairwise(records[1:]):
        after["prev_hash"] = record_hash(before)

    breaks = _verify(values)
    assert breaks
    assert {kind for kind, _, _ in breaks} == {"changed"}
    assert all(seq % 5 == 0 for _, _, seq in breaks)  # named at the checkpoints


def test_a_checkpoint_signed_with_another_key_is_refused(written: list[OutRecord]) -> None:
    values = _values(written)
    checkpoint = next(v for v in values if v.get("record_type") == "checkpoint")
    impostor = Signer("demo", bytes(range(32)))
    forged = impostor.checkpoint(
        checkpoint["chain"], ChainHead(checkpoint["seq"], checkpoint["hash"]), NOW
    )
    values[values.index(checkpoint)] = json.loads(forged.to_json())

    kinds = {(kind, seq) for kind, _, seq in _verify(values)}
    assert ("bad-checkpoint", checkpoint["seq"]) in kinds


def _store(tmp_path: Path, written: list[OutRecord]) -> str:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    values = _values(written)
    with open_store(url) as store:
        store.add(
            DisclosureRecord.model_validate(v) for v in values if v.get("record_type") is None
        )
        store.add_checkpoints(
            Checkpoint.model_validate(v) for v in values if v.get("record_type") == "checkpoint"
        )
    return url


def _sql(url: str, *statements: str) -> None:
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    with db:
        for statement in statements:
            db.execute(statement)
    db.close()


def test_the_store_verifies_and_names_a_record_changed_behind_its_back(
    tmp_path: Path, written: list[OutRecord]
) -> None:
    url = _store(tmp_path, written)
    with open_store(url, read_only=True) as store:
        intact = verify_store(store, KEYS)
    assert intact.breaks == ()
    assert intact.records == len([r for r in _values(written) if r.get("record_type") is None])
    victim = _records_of(_values(written), _a_long_chain(_values(written)))[4]
    _sql(
        url,
        "DROP TRIGGER disclosures_no_update",
        "UPDATE disclosures SET record = json_set(record, '$.recipient', 'someone-else')"
        f" WHERE disclosure_id = '{victim['disclosure_id']}'",
    )
    with open_store(url, read_only=True) as store:
        broken = verify_store(store, KEYS)
    # Named by the next record's link and by the checkpoint signed at seq 5; the recipient
    # column still says who it was.
    assert {(b.kind, b.seq) for b in broken.breaks} == {("changed", 5), ("columns", 5)}
    assert victim["disclosure_id"] in {b.disclosure_id for b in broken.breaks}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("disclosure_id", "00000000-0000-5000-8000-000000000000"),
        ("decided_at", "1999-01-01T00:00:00.000000+00:00"),
        ("recipient", "veilig-thuis-ijsselland"),
        ("outcome", "withheld"),
    ],
)
def test_a_column_changed_beside_its_record_is_named(
    tmp_path: Path, written: list[OutRecord], column: str, value: str
) -> None:
    """The queries read the columns: one changed hides or moves a record the chain still covers."""
    url = _store(tmp_path, written)
    victim = _records_of(_values(written), _a_long_chain(_values(written)))[2]
    _sql(
        url,
        "DROP TRIGGER disclosures_no_update",
        "PRAGMA foreign_keys = OFF",
        f"UPDATE disclosures SET {column} = '{value}'"
        f" WHERE disclosure_id = '{victim['disclosure_id']}'",
    )
    with open_store(url, read_only=True) as store:
        broken = verify_store(store, KEYS)
    assert [(b.kind, b.disclosure_id) for b in broken.breaks] == [
        ("columns", victim["disclosure_id"])
    ]


def test_a_row_deleted_from_the_store_is_named(tmp_path: Path, written: list[OutRecord]) -> None:
    url = _store(tmp_path, written)
    victim = _records_of(_values(written), _a_long_chain(_values(written)))[0]
    _sql(
        url,
        "DROP TRIGGER disclosures_no_delete",
        "DROP TRIGGER disclosure_subjects_no_delete",
        f"DELETE FROM disclosure_subjects WHERE disclosure_id = '{victim['disclosure_id']}'",
        f"DELETE FROM disclosures WHERE disclosure_id = '{victim['disclosure_id']}'",
    )
    with open_store(url, read_only=True) as store:
        broken = verify_store(store, KEYS)
    assert [(b.kind, b.seq) for b in broken.breaks] == [("removed", 1)]


def test_a_row_of_the_subjects_index_changed_behind_the_chains_back_is_named(
    tmp_path: Path, written: list[OutRecord]
) -> None:
    """The chain covers the record; the lookups read the index: a deleted or added subject row is named too."""
    url = _store(tmp_path, written)
    records = _records_of(_values(written), _a_long_chain(_values(written)))
    hidden = next(r for r in records if r["data_subjects"])
    other = next(r for r in records if r["disclosure_id"] != hidden["disclosure_id"])
    _sql(
        url,
        "DROP TRIGGER disclosure_subjects_no_delete",
        f"DELETE FROM disclosure_subjects WHERE disclosure_id = '{hidden['disclosure_id']}'",
        "INSERT INTO disclosure_subjects (disclosure_id, pseudonym)"
        f" VALUES ('{other['disclosure_id']}', 'someone-else')",
    )
    with open_store(url, read_only=True) as store:
        broken = verify_store(store, KEYS)
    assert {(b.kind, b.disclosure_id) for b in broken.breaks} == {
        ("index", hidden["disclosure_id"]),
        ("index", other["disclosure_id"]),
    }


def test_a_purge_is_signed_accounted_for_and_verify_still_passes(
    tmp_path: Path, written: list[OutRecord]
) -> None:
    """Records before the cut-off go, with one signed purge record per chain; the rest checks."""
    url = _store(tmp_path, written)
    signer = Signer.from_setting(AUDIT.signing_key_id, AUDIT.signing_key.get_secret_value())
    cut = NOW + timedelta(minutes=20)
    with open_store(url) as store:
        before = len(store.search())
        purges = store.purge(cut, signer, operator="po-anna", at=NOW + timedelta(days=800))
        after = len(store.search())
        with pytest.raises(Exception, match="append-only"):
            _sql(url, "DELETE FROM disclosures")  # the triggers are back
    assert purges
    assert sum(p.count for p in purges) == before - after
    assert all(p.operator == "po-anna" for p in purges)
    with open_store(url, read_only=True) as store:
        report = verify_store(store, KEYS)
        assert all(r.decided_at >= cut for r in store.search())
    assert report.breaks == ()
    assert report.purges == len(purges)


def test_a_cut_off_end_is_named_by_a_checkpoint_past_it(written: list[OutRecord]) -> None:
    """Records after seq 3 deleted, checkpoints kept: a signed checkpoint names seq 5."""
    values = _values(written)
    chain = _a_long_chain(values)
    kept = [
        v
        for v in values
        if v.get("chain") != chain or v.get("record_type") is not None or v["seq"] <= 3
    ]

    assert ("removed", chain.rsplit(".", 1)[-1], 4) in _verify(kept)


def test_a_cut_off_end_with_its_checkpoints_is_named_by_the_routers_head(
    written: list[OutRecord],
) -> None:
    """Records and checkpoints after seq 3 deleted: the head the router keeps is further on."""
    values = _values(written)
    chain = _a_long_chain(values)
    records = _records_of(values, chain)
    kept = [v for v in values if v.get("chain") != chain or v.get("seq", 0) <= 3]
    verifier = ChainVerifier(KEYS)
    for value in kept:
        if value.get("record_type") == "checkpoint":
            verifier.add_checkpoint(Checkpoint.model_validate(value))
        else:
            verifier.add(value)
    verifier.expect_head(chain, ChainHead(records[-1]["seq"], record_hash(records[-1])))

    assert [(b.kind, b.seq) for b in verifier.finish()] == [("removed", 4)]
