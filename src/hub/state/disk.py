"""The committed routing state in a SQLite file, so the hub's memory stays flat as it grows.

Every referral, case and assignment leaves a few hundred bytes of routing state, and
every event a duplicate marker, kept for months to years (docs/state.md). As Python
dicts that is about 1.7 KiB per referral, so a hub's memory grew with everything it had
ever routed. Here the values are kept as the JSON bytes of the changelog in a SQLite
table, with a small cache of decoded values for the keys in use; SQLite's own page
cache is bounded. The file is a cache of the changelog, which stays the source of
truth: it is rebuilt on every start, so durability is switched off (the journal is
kept in memory, no fsync), and it is unlinked as soon as it is open, so nothing of it
outlives the process, even after a crash.

Why SQLite (the standard library's) and not a dict of bytes: the duplicate markers
alone are one key per event; only a store off the heap keeps memory flat.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic_core import from_json, to_json

from hub.state.store import Overlay

__all__ = ["DiskStore"]

Value = Mapping[str, Any]

# Above every character a key can hold: the exclusive upper bound of a prefix's range.
_AFTER_ANY = "\U0010ffff"
# Keys a sweep reads at once (``scan``): a few hundred KiB, whatever the state's size.
_SCAN_PAGE = 1024
# Not in the cache at all (a cached None is a key known to be absent).
_UNKNOWN: Any = object()


class DiskStore:
    """The committed state of this hub instance, in an unlinked SQLite file."""

    def __init__(
        self, directory: Path | None = None, *, cached: int = 4096, page_cache_kib: int = 8192
    ) -> None:
        handle, path = tempfile.mkstemp(prefix="hub-state-", suffix=".sqlite", dir=directory)
        os.close(handle)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        finally:
            os.unlink(path)  # the open connection keeps the file; nothing is left behind
        for pragma in (
            # In memory: a rollback needs a journal (without one SQLite leaves it undefined),
            # a crash does not (the file is rebuilt from the changelog on start).
            "journal_mode = MEMORY",
            "synchronous = OFF",
            f"cache_size = -{int(page_cache_kib)}",  # KiB: SQLite's page cache, bounded
            "temp_store = MEMORY",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(
            "CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
        )
        # Decoded values of the keys in use, and keys known to be absent (None): most
        # lookups are of keys not stored (a new event's id, a new pair), and a step that
        # asks twice (the KPI ledger: a pair's open and done, then its write) asks SQLite once.
        self._cache: OrderedDict[str, Value | None] = OrderedDict()
        self._cached = cached

    def get(self, key: str) -> Value | None:
        """The value stored under key, or None."""
        cached = self._cache.get(key, _UNKNOWN)
        if cached is not _UNKNOWN:
            self._cache.move_to_end(key)
            return cached  # type: ignore[no-any-return]
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        value: Value | None = None if row is None else from_json(row[0])
        self._remember(key, value)
        return value

    def keys_with_prefix(self, prefix: str) -> Iterator[str]:
        """Every live key that starts with prefix (read at once: the caller may write meanwhile)."""
        rows = self._db.execute(
            "SELECT key FROM kv WHERE key >= ? AND key < ?", (prefix, prefix + _AFTER_ANY)
        ).fetchall()
        return (key for (key,) in rows)

    def scan(self, after: str = "") -> Iterator[tuple[str, Value]]:
        """Every live key after ``after`` with its value, in key order, read in pages; the cache is left alone.

        Each page is a query of its own (the keys after the last one read), so no
        statement stays open between pages and the caller may write meanwhile: a key
        written after its page was read is seen in its new state or not at all.
        """
        while True:
            rows = self._db.execute(
                "SELECT key, value FROM kv WHERE key > ? ORDER BY key LIMIT ?",
                (after, _SCAN_PAGE),
            ).fetchall()
            for key, encoded in rows:
                yield key, from_json(encoded)
            if len(rows) < _SCAN_PAGE:
                return
            after = rows[-1][0]

    def apply(self, changes: Mapping[str, Value | None]) -> None:
        """Apply committed changes (None deletes the key), all or none."""
        encoded: dict[str, bytes | None] = {}
        for key, value in changes.items():
            encoded[key] = None if value is None else to_json(value)
        with self._transaction():
            self._write(encoded)
        for key, value in changes.items():
            self._remember(key, value)

    def apply_encoded(self, changes: Mapping[str, bytes | None]) -> None:
        """Apply changes as the changelog holds them (JSON bytes, None deletes): none decoded."""
        with self._transaction():
            self._write(changes)
        for key in changes:
            self._cache.pop(key, None)  # decoded again when next read

    def overlay(self) -> Overlay:
        """A scratch layer for one batch: reads see its own writes, nothing reaches the store until commit."""
        return Overlay(self)

    def close(self) -> None:
        """Close the file (it was unlinked when opened: closing removes it)."""
        self._db.close()

    def __len__(self) -> int:
        # Counted when asked (a metric, every catch-up), not kept per write: an upsert
        # does not say whether it inserted, and asking costs a statement per key.
        count: int = self._db.execute("SELECT count(*) FROM kv").fetchone()[0]
        return count

    def _write(self, changes: Mapping[str, bytes | None]) -> None:
        # Two statements a batch, each run over all its keys by SQLite's C loop: a
        # statement per key from Python cost the router about a tenth of its time.
        self._db.executemany(
            "DELETE FROM kv WHERE key = ?", [(k,) for k, v in changes.items() if v is None]
        )
        self._db.executemany(
            "INSERT INTO kv (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(k, v) for k, v in changes.items() if v is not None],
        )

    def _remember(self, key: str, value: Value | None) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        if len(self._cache) > self._cached:
            self._cache.popitem(last=False)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
