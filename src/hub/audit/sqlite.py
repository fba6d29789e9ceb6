"""The disclosure store in SQLite (stdlib sqlite3): the default, one file, no server."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path

from hub.audit.chain import Checkpoint, PurgeRecord
from hub.audit.record import DeliveryAttempt, DisclosureRecord
from hub.audit.sql import SqlDisclosureStore, utc_text
from hub.errors import AuditStoreError

__all__ = ["SqliteDisclosureStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS disclosures (
    disclosure_id TEXT PRIMARY KEY,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    source        TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    decided_at    TEXT NOT NULL,  -- UTC, fixed width: sorts as text
    record        TEXT NOT NULL   -- the whole record as JSON
);
CREATE TABLE IF NOT EXISTS disclosure_subjects (
    pseudonym     TEXT NOT NULL,
    disclosure_id TEXT NOT NULL REFERENCES disclosures (disclosure_id),
    PRIMARY KEY (pseudonym, disclosure_id)
);
-- No foreign key: an attempt may be consumed before its disclosure on another partition.
CREATE TABLE IF NOT EXISTS delivery_attempts (
    attempt_id    TEXT PRIMARY KEY,
    disclosure_id TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    attempted_at  TEXT NOT NULL,
    record        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_attempts_by_disclosure
    ON delivery_attempts (disclosure_id, attempt);
CREATE TABLE IF NOT EXISTS chain_checkpoints (
    chain  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE TABLE IF NOT EXISTS chain_purges (
    chain       TEXT NOT NULL,
    through_seq INTEGER NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (chain, through_seq)
);
"""

_APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END;
"""

_TABLES = (
    "disclosures", "disclosure_subjects", "delivery_attempts", "chain_checkpoints", "chain_purges"
)  # fmt: skip
_PURGED = ("disclosures", "disclosure_subjects", "delivery_attempts")
# Ids one lookup binds: below every SQLite build's limit on parameters (999 before 3.32).
_IDS_PER_QUERY = 500


class SqliteDisclosureStore(SqlDisclosureStore):
    """Disclosure records in one SQLite file; append-only through triggers."""

    JSON_FIELD = "json_extract(d.record, '$.{field}')"

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        target = str(path)
        try:
            if read_only:
                if target != ":memory:" and not Path(target).is_file():
                    raise AuditStoreError("the disclosure store file does not exist")
                uri = f"file:{Path(target).resolve()}?mode=ro" if target != ":memory:" else target
                self._db = sqlite3.connect(uri, uri=target != ":memory:")
                if (
                    target != ":memory:"
                    and not self._db.execute(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'disclosures'"
                    ).fetchone()
                ):
                    # The file is there but its tables are not (yet): the audit feed creates
                    # them as it starts; a query would fail with SQLite's bare "no such table".
                    self._db.close()
                    raise AuditStoreError(
                        "the disclosure store has no tables yet"
                        " (the audit feed creates them as it starts)"
                    )
            else:
                if target != ":memory:":
                    Path(target).parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(target)
                # Write-ahead log: a commit syncs one file once, where the rollback journal
                # synced two several times; the audit feed commits every batch it reads, at a
                # steady load a few dozen records each, and spent more CPU on committing them
                # than on anything else. As durable (synchronous stays FULL), and readers
                # (`hub audit`) no longer wait for the feed's commits. Kept in the file.
                self._db.execute("PRAGMA journal_mode = WAL")
                with self._db:
                    self._db.executescript(
                        _SCHEMA + "".join(_APPEND_ONLY.format(table=t) for t in _TABLES)
                    )
            self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise AuditStoreError(
                f"cannot open the disclosure store ({type(exc).__name__})"
            ) from None

    def add(self, records: Iterable[DisclosureRecord]) -> int:
        """Store records not stored yet (by disclosure_id), atomically; returns how many were new."""
        # A statement per table for the whole batch (SQLite's C loop runs it over the rows):
        # a statement per record from Python was most of the audit feed's time.
        batch: dict[str, DisclosureRecord] = {}
        for record in records:
            batch.setdefault(record.disclosure_id, record)  # a repeat in the batch: the first wins
        try:
            with self._db:
                # Taken before the look-up, so no other writer stores one of these meanwhile.
                self._db.execute("BEGIN IMMEDIATE")
                stored = self._stored_ids(list(batch))
                new = [r for i, r in batch.items() if i not in stored]
                self._db.executemany(
                    "INSERT INTO disclosures (disclosure_id, event_id, event_type, source,"
                    " recipient, outcome, decided_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.disclosure_id,
                            r.event_id,
                            r.event_type,
                            r.source,
                            r.recipient,
                            r.outcome.value,
                            _utc_text(r),
                            r.model_dump_json(),
                        )
                        for r in new
                    ],
                )
                self._db.executemany(
                    "INSERT INTO disclosure_subjects (pseudonym, disclosure_id) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [(subject, r.disclosure_id) for r in new for subject in r.data_subjects],
                )
        except sqlite3.Error as exc:
            raise AuditStoreError(
                f"cannot write disclosure records ({type(exc).__name__})"
            ) from None
        return len(new)

    def _stored_ids(self, ids: list[str]) -> set[str]:
        """Which of these disclosure ids are stored already (a redelivery keeps the first copy)."""
        stored: set[str] = set()
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            markers = ", ".join("?" * len(chunk))  # markers only: the ids are bound
            query = f"SELECT disclosure_id FROM disclosures WHERE disclosure_id IN ({markers})"  # noqa: S608
            rows = self._db.execute(query, chunk).fetchall()
            stored.update(row[0] for row in rows)
        return stored

    def add_attempts(self, attempts: Iterable[DeliveryAttempt]) -> int:
        """Store delivery attempts not stored yet (by attempt_id); returns how many were new."""
        added = 0
        try:
            with self._db:
                for attempt in attempts:
                    cursor = self._db.execute(
                        "INSERT INTO delivery_attempts (attempt_id, disclosure_id, attempt,"
                        " attempted_at, record) VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT (attempt_id) DO NOTHING",
                        (
                            attempt.attempt_id,
                            attempt.disclosure_id,
                            attempt.attempt,
                            attempt.attempted_at.astimezone(UTC).isoformat(),
                            attempt.model_dump_json(),
                        ),
                    )
                    added += cursor.rowcount == 1
        except sqlite3.Error as exc:
            raise AuditStoreError(
                f"cannot write delivery attempts ({type(exc).__name__})"
            ) from None
        return added

    def add_checkpoints(self, checkpoints: Iterable[Checkpoint]) -> int:
        """Store chain checkpoints not stored yet (by chain and seq); returns how many were new."""
        try:
            with self._db:
                cursor = self._db.executemany(
                    "INSERT INTO chain_checkpoints (chain, seq, record) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [(c.chain, c.seq, c.to_json().decode()) for c in checkpoints],
                )
        except sqlite3.Error as exc:
            raise AuditStoreError(f"cannot write checkpoints ({type(exc).__name__})") from None
        return max(cursor.rowcount, 0)

    def _delete_and_record(self, disclosure_ids: list[str], purges: list[PurgeRecord]) -> None:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for table in _PURGED:
                    self._db.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
                for start in range(0, len(disclosure_ids), _IDS_PER_QUERY):
                    chunk = disclosure_ids[start : start + _IDS_PER_QUERY]
                    markers = ", ".join("?" * len(chunk))  # markers only: the ids are bound
                    for table in ("disclosure_subjects", "delivery_attempts", "disclosures"):
                        self._db.execute(
                            f"DELETE FROM {table} WHERE disclosure_id IN ({markers})",  # noqa: S608
                            chunk,
                        )
                self._db.executemany(
                    "INSERT INTO chain_purges (chain, through_seq, record) VALUES (?, ?, ?)",
                    [(p.chain, p.through_seq, p.model_dump_json()) for p in purges],
                )
                for table in _PURGED:
                    self._db.execute(
                        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}"
                        " BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END"
                    )
        except sqlite3.Error as exc:
            raise AuditStoreError(
                f"cannot purge the disclosure store ({type(exc).__name__})"
            ) from None

    def close(self) -> None:
        """Release the connection."""
        self._db.close()

    def _query(self, sql: str, params: tuple[str, ...]) -> list[tuple[str, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise AuditStoreError(
                f"cannot read the disclosure store ({type(exc).__name__})"
            ) from None


def _utc_text(record: DisclosureRecord) -> str:
    return utc_text(record.decided_at)
