"""The disclosure store in PostgreSQL (psycopg 3), chosen by a ``postgresql://`` store URL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from hub.audit.chain import Checkpoint, PurgeRecord
from hub.audit.record import DeliveryAttempt, DisclosureRecord
from hub.audit.sql import SqlDisclosureStore
from hub.errors import AuditStoreError

__all__ = ["PostgresDisclosureStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS disclosures (
    disclosure_id text PRIMARY KEY,
    event_id      text NOT NULL,
    event_type    text NOT NULL,
    source        text NOT NULL,
    recipient     text NOT NULL,
    outcome       text NOT NULL,
    decided_at    timestamptz NOT NULL,
    record        jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS disclosure_subjects (
    pseudonym     text NOT NULL,
    disclosure_id text NOT NULL REFERENCES disclosures (disclosure_id),
    PRIMARY KEY (pseudonym, disclosure_id)
);
-- No foreign key: an attempt may be consumed before its disclosure on another partition.
CREATE TABLE IF NOT EXISTS delivery_attempts (
    attempt_id    text PRIMARY KEY,
    disclosure_id text NOT NULL,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL,
    record        jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_attempts_by_disclosure
    ON delivery_attempts (disclosure_id, attempt);
CREATE TABLE IF NOT EXISTS chain_checkpoints (
    chain  text NOT NULL,
    seq    integer NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE TABLE IF NOT EXISTS chain_purges (
    chain       text NOT NULL,
    through_seq integer NOT NULL,
    record      jsonb NOT NULL,
    PRIMARY KEY (chain, through_seq)
);
CREATE OR REPLACE FUNCTION hub_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the disclosure log is append-only';
END
$$;
"""

_TRIGGERS = """
DO $$ BEGIN
    CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION hub_audit_append_only();
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
    CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION hub_audit_append_only();
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
"""

_TABLES = (
    "disclosures", "disclosure_subjects", "delivery_attempts", "chain_checkpoints", "chain_purges"
)  # fmt: skip
_PURGED = ("disclosures", "disclosure_subjects", "delivery_attempts")


class PostgresDisclosureStore(SqlDisclosureStore):
    """Disclosure records in PostgreSQL; append-only through triggers."""

    JSON_FIELD = "d.record->>'{field}'"
    TIME_PARAMETER = "?::timestamptz"

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        try:
            self._db = psycopg.connect(url, autocommit=False)
            if read_only:
                self._db.read_only = True
                return
            with self._db.transaction(), self._db.cursor() as cursor:
                # Several hub instances may start at once: create the schema one at a time.
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('hub_audit_schema'))")
                cursor.execute(_SCHEMA)
                for table in _TABLES:
                    cursor.execute(_TRIGGERS.format(table=table))
        except psycopg.Error as exc:
            # The server's message may quote the URL (with a password): keep only the class.
            raise AuditStoreError(
                f"cannot open the disclosure store ({type(exc).__name__})"
            ) from None

    def add(self, records: Iterable[DisclosureRecord]) -> int:
        """Store records not stored yet (by disclosure_id), atomically; returns how many were new."""
        added = 0
        try:
            with self._db.transaction(), self._db.cursor() as cursor:
                for record in records:
                    cursor.execute(
                        "INSERT INTO disclosures (disclosure_id, event_id, event_type, source,"
                        " recipient, outcome, decided_at, record)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (disclosure_id) DO NOTHING",
                        (
                            record.disclosure_id,
                            record.event_id,
                            record.event_type,
                            record.source,
                            record.recipient,
                            record.outcome.value,
                            record.decided_at,
                            Jsonb(record.model_dump(mode="json")),
                        ),
                    )
                    if cursor.rowcount != 1:
                        continue  # already stored: a redelivery; the first copy stays
                    added += 1
                    cursor.executemany(
                        "INSERT INTO disclosure_subjects (pseudonym, disclosure_id)"
                        " VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        [(subject, record.disclosure_id) for subject in record.data_subjects],
                    )
        except psycopg.Error as exc:
            raise AuditStoreError(
                f"cannot write disclosure records ({type(exc).__name__})"
            ) from None
        return added

    def add_attempts(self, attempts: Iterable[DeliveryAttempt]) -> int:
        """Store delivery attempts not stored yet (by attempt_id); returns how many were new."""
        added = 0
        try:
            with self._db.transaction(), self._db.cursor() as cursor:
                for attempt in attempts:
                    cursor.execute(
                        "INSERT INTO delivery_attempts (attempt_id, disclosure_id, attempt,"
                        " attempted_at, record) VALUES (%s, %s, %s, %s, %s)"
                        " ON CONFLICT (attempt_id) DO NOTHING",
                        (
                            attempt.attempt_id,
                            attempt.disclosure_id,
                            attempt.attempt,
                            attempt.attempted_at,
                            Jsonb(attempt.model_dump(mode="json")),
                        ),
                    )
                    added += cursor.rowcount == 1
        except psycopg.Error as exc:
            raise AuditStoreError(
                f"cannot write delivery attempts ({type(exc).__name__})"
            ) from None
        return added

    def add_checkpoints(self, checkpoints: Iterable[Checkpoint]) -> int:
        """Store chain checkpoints not stored yet (by chain and seq); returns how many were new."""
        added = 0
        try:
            with self._db.transaction(), self._db.cursor() as cursor:
                for checkpoint in checkpoints:
                    cursor.execute(
                        "INSERT INTO chain_checkpoints (chain, seq, record) VALUES (%s, %s, %s)"
                        " ON CONFLICT DO NOTHING",
                        (
                            checkpoint.chain,
                            checkpoint.seq,
                            Jsonb(checkpoint.model_dump(mode="json")),
                        ),
                    )
                    added += cursor.rowcount == 1
        except psycopg.Error as exc:
            raise AuditStoreError(f"cannot write checkpoints ({type(exc).__name__})") from None
        return added

    def _delete_and_record(self, disclosure_ids: list[str], purges: list[PurgeRecord]) -> None:
        try:
            with self._db.transaction(), self._db.cursor() as cursor:
                for table in _PURGED:  # lifted in this transaction only (DDL is transactional)
                    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
                for table in ("disclosure_subjects", "delivery_attempts", "disclosures"):
                    cursor.execute(
                        f"DELETE FROM {table} WHERE disclosure_id = ANY(%s)",  # noqa: S608
                        (disclosure_ids,),
                    )
                for purge in purges:
                    cursor.execute(
                        "INSERT INTO chain_purges (chain, through_seq, record) VALUES (%s, %s, %s)",
                        (purge.chain, purge.through_seq, Jsonb(purge.model_dump(mode="json"))),
                    )
                for table in _PURGED:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        except psycopg.Error as exc:
            raise AuditStoreError(
                f"cannot purge the disclosure store ({type(exc).__name__})"
            ) from None

    def close(self) -> None:
        """Release the connection."""
        self._db.close()

    def _query(self, sql: str, params: tuple[str, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._db.transaction(), self._db.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), params)  # the shared queries use ?
                return cursor.fetchall()
        except psycopg.Error as exc:
            raise AuditStoreError(
                f"cannot read the disclosure store ({type(exc).__name__})"
            ) from None
