"""The routing state in a SQLite file: the same behaviour as the dict, off the heap."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic_core import PydanticSerializationError

from hub.routing.retention import expired_keys
from hub.state import DiskStore, StateStore


@pytest.fixture(params=["memory", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DiskStore | StateStore:
    """Both stores, so every behaviour below is the dict's too."""
    return StateStore() if request.param == "memory" else DiskStore(tmp_path)


def test_values_are_read_back_as_written(store: DiskStore | StateStore) -> None:
    store.apply({"referral:R-1": {"gp_agb": "01234567", "subjects": ["a" * 64], "n": 3}})
    assert store.get("referral:R-1") == {"gp_agb": "01234567", "subjects": ["a" * 64], "n": 3}
    assert store.get("referral:R-2") is None


def test_none_deletes_and_the_count_follows(store: DiskStore | StateStore) -> None:
    store.apply({"a:1": {"x": 1}, "a:2": {"x": 2}, "b:1": {"x": 3}})
    store.apply({"a:1": {"x": 10}})  # an update is not a new key
    assert len(store) == 3
    store.apply({"a:2": None, "a:9": None})  # deleting an absent key changes nothing
    assert len(store) == 2
    assert store.get("a:2") is None
    assert store.get("a:1") == {"x": 10}


def test_a_prefix_lists_exactly_its_keys(store: DiskStore | StateStore) -> None:
    store.apply(
        {k: {"v": 1} for k in ("case:1", "case:2", "case-assignments:1", "cases", "seen:ä")}
    )
    assert sorted(store.keys_with_prefix("case:")) == ["case:1", "case:2"]
    assert sorted(store.keys_with_prefix("seen:")) == ["seen:ä"]
    assert len(list(store.keys_with_prefix(""))) == 5


def test_a_scan_reads_every_key_once_across_pages(store: DiskStore | StateStore) -> None:
    written = {f"seen:{n:05d}": {"n": n} for n in range(2500)}  # more than two pages
    store.apply(written)
    assert dict(store.scan()) == written


def test_a_scan_leaves_the_cache_of_the_keys_in_use_alone(tmp_path: Path) -> None:
    store = DiskStore(tmp_path, cached=10)
    store.apply({f"seen:{n:04d}": {"n": n} for n in range(3000)})
    in_use = list(store._cache)
    assert sum(1 for _ in store.scan()) == 3000
    assert list(store._cache) == in_use


def test_writes_between_pages_of_a_scan_do_not_break_it(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    store.apply({f"seen:{n:05d}": {"n": n} for n in range(3000)})
    seen = []
    for key, _ in store.scan():
        seen.append(key)
        if key == "seen:00000":
            store.apply({"seen:02000": None, "seen:09999": {"n": 9999}})
    # A key deleted before its page was read is not seen; one added after the last page
    # read is; nothing is seen twice.
    assert "seen:02000" not in seen
    assert "seen:09999" in seen
    assert len(seen) == len(set(seen)) == 3000


def test_an_overlay_scans_its_batch_over_the_store(store: DiskStore | StateStore) -> None:
    store.apply({"a:1": {"x": 1}, "a:2": {"x": 2}})
    overlay = store.overlay()
    overlay.put({"a:2": None, "a:3": {"x": 3}, "a:1": {"x": 10}})
    assert dict(overlay.scan()) == {"a:1": {"x": 10}, "a:3": {"x": 3}}


def test_an_overlay_commits_to_the_file(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    overlay = store.overlay()
    overlay.put({"seen:1": {"received_on": "2026-11-29"}})
    assert store.get("seen:1") is None  # not before the commit
    overlay.commit()
    assert store.get("seen:1") == {"received_on": "2026-11-29"}


def test_only_a_bounded_number_of_values_stays_decoded(tmp_path: Path) -> None:
    store = DiskStore(tmp_path, cached=10)
    store.apply({f"seen:{n}": {"received_on": "2026-11-29"} for n in range(100)})
    assert len(store._cache) == 10
    assert store.get("seen:0") == {"received_on": "2026-11-29"}  # read back from the file


def test_a_failed_apply_changes_nothing(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    store.apply({"a:1": {"x": 1}})
    with pytest.raises(PydanticSerializationError):
        store.apply({"a:2": {"x": 2}, "a:3": {"x": object()}})  # not JSON: fails half-way
    assert store.get("a:2") is None
    assert len(store) == 1


def test_nothing_of_it_is_left_on_disk(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    store.apply({"referral:R-1": {"subjects": ["a" * 64]}})
    assert os.listdir(tmp_path) == []  # unlinked once open: gone even after a crash
    store.close()


def test_retention_sweeps_it_like_the_dict(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    store.apply(
        {
            "seen:old": {"received_on": "2020-01-01"},
            "seen:new": {"received_on": "2026-11-29"},
        }
    )
    expired = list(
        expired_keys(
            store,
            date(2026, 11, 29),
            retention=timedelta(days=730),
            seen_retention=timedelta(days=7),
        )
    )
    assert expired == ["seen:old"]


def test_changelog_bytes_are_stored_as_they_are(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    store.apply({"case:1": {"plan_version": 1}})
    assert store.get("case:1") == {"plan_version": 1}  # now decoded and cached
    store.apply_encoded({"case:1": b'{"plan_version":2}', "case:2": b'{"x":1}', "case:3": None})
    assert store.get("case:1") == {"plan_version": 2}  # the cached value did not survive
    assert store.get("case:2") == {"x": 1}
    assert len(store) == 2


def test_a_key_found_absent_is_asked_of_sqlite_once_until_it_is_written(tmp_path: Path) -> None:
    """Most lookups miss (a new event's id, a new KPI pair): a repeat of one is answered from memory."""
    store = DiskStore(tmp_path)
    selects: list[str] = []
    store._db.set_trace_callback(lambda sql: selects.append(sql) if "SELECT" in sql else None)
    assert store.get("seen:1") is None
    assert store.get("seen:1") is None
    assert len(selects) == 1
    store.apply({"seen:1": {"received_on": "2026-11-30"}})
    assert store.get("seen:1") == {"received_on": "2026-11-30"}
    store.apply({"seen:1": None})
    assert store.get("seen:1") is None
    assert len(selects) == 1
    # Changelog bytes are not decoded when applied: the next read asks the file.
    store.apply_encoded({"seen:1": b'{"received_on":"2026-12-01"}'})
    assert store.get("seen:1") == {"received_on": "2026-12-01"}
    assert len(selects) == 2
