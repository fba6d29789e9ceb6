"""The queryable disclosure log: one small Protocol, two backends chosen by URL.

``sqlite:///PATH`` (default; stdlib sqlite3) or ``postgresql://...`` (psycopg 3). Both are
append-only (no update or delete API, and triggers refuse UPDATE and DELETE) and insert
idempotently by id, because they are fed from a Kafka topic that can redeliver: a record
whose id is already stored is skipped, the stored one wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from hub.audit.chain import Checkpoint, PurgeRecord, Signer
from hub.audit.record import DeliveryAttempt, DisclosureRecord, KeyUse, StoredRow
from hub.errors import ConfigurationError

__all__ = ["DisclosureStore", "open_store"]


class DisclosureStore(Protocol):
    """Append-only, idempotent storage of disclosure records and delivery attempts."""

    def add(self, records: Iterable[DisclosureRecord]) -> int:
        """Store records not stored yet (by disclosure_id), atomically; returns how many were new."""
        ...

    def add_attempts(self, attempts: Iterable[DeliveryAttempt]) -> int:
        """Store delivery attempts not stored yet (by attempt_id); returns how many were new."""
        ...

    def get(self, disclosure_id: str) -> DisclosureRecord | None:
        """One record by id, or None."""
        ...

    def concerning(self, *pseudonyms: str) -> list[DisclosureRecord]:
        """Every record whose data_subjects hold any of these pseudonyms, by decided_at then id."""
        ...

    def pseudonym_keys(self) -> list[KeyUse]:
        """Per pseudonym key id (None: records that name none), its records, oldest key first."""
        ...

    def search(
        self,
        *,
        trace_id: str | None = None,
        processing_activity: str | None = None,
        pseudonyms: tuple[str, ...] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[DisclosureRecord]:
        """The records matching every filter given, by decided_at then id (none given: all).

        ``pseudonyms``: about any of them; ``since`` inclusive, ``until`` exclusive.
        """
        ...

    def add_checkpoints(self, checkpoints: Iterable[Checkpoint]) -> int:
        """Store chain checkpoints not stored yet (by chain and seq); returns how many were new."""
        ...

    def chained(self) -> list[dict[str, Any]]:
        """Every chained record as stored (parsed JSON): what ``hub audit verify`` checks."""
        ...

    def subject_index(self) -> list[tuple[str, str]]:
        """Every (disclosure_id, pseudonym) of the index ``concerning`` and ``search`` read."""
        ...

    def stored_rows(self) -> list[StoredRow]:
        """Every record as stored (parsed JSON) with the columns the queries read beside it."""
        ...

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint."""
        ...

    def purges(self) -> list[PurgeRecord]:
        """Every purge record."""
        ...

    def checkpoint_values(self) -> list[dict[str, Any]]:
        """Every stored checkpoint as stored (parsed JSON)."""
        ...

    def purge(
        self,
        before: datetime,
        signer: Signer,
        *,
        operator: str,
        at: datetime,
        dry_run: bool = False,
    ) -> list[PurgeRecord]:
        """Delete records decided before ``before`` (per chain its beginning), signed; or only plan it."""
        ...

    def attempts(self, disclosure_id: str) -> list[DeliveryAttempt]:
        """The delivery attempts of one disclosure, in attempt order."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

    def __enter__(self) -> DisclosureStore: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def open_store(url: str, *, read_only: bool = False) -> DisclosureStore:
    """Open the store at ``url``; ``read_only`` neither creates it nor its tables.

    Raises ConfigurationError for a URL of no known scheme, AuditStoreError when the store
    cannot be opened. A backend is imported only once chosen, so the SQLite path never loads
    psycopg; the backends import nothing of this module, so there is no cycle.
    """
    if url.startswith("sqlite:///"):
        from hub.audit.sqlite import SqliteDisclosureStore

        return SqliteDisclosureStore(url.removeprefix("sqlite:///"), read_only=read_only)
    if url.startswith(("postgresql://", "postgres://")):
        from hub.audit.postgres import PostgresDisclosureStore

        return PostgresDisclosureStore(url, read_only=read_only)
    raise ConfigurationError(
        "audit settings", "store_url", "use sqlite:///PATH or postgresql://..."
    )
