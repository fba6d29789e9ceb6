"""What the SQL backends of the disclosure store share: the read queries and the lifecycle.

The two backends differ in their driver, their parameter marker (the queries here use
``?``; psycopg's ``%s`` is put in by its backend) and how a JSON column
comes back (text in SQLite, a decoded value in PostgreSQL's jsonb); the queries that
answer a resident's request are the same and live here once.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Self

from hub.audit.chain import ChainHead, Checkpoint, PurgeRecord, Signer, record_hash
from hub.audit.record import DeliveryAttempt, DisclosureRecord, KeyUse, StoredRow

__all__ = ["SqlDisclosureStore", "utc_text"]


def utc_text(moment: datetime) -> str:
    """A moment as UTC text of fixed width (microseconds always present): text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _moment(value: Any) -> datetime:
    """A decided_at column: text in SQLite (``utc_text``), a datetime in PostgreSQL."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


class SqlDisclosureStore(ABC):
    """Read side of a SQL disclosure store; subclasses connect, write and run queries."""

    JSON_FIELD: ClassVar[str]
    """SQL for one top-level text field of the ``record`` column, with ``{field}`` in it."""
    TIME_PARAMETER: ClassVar[str] = "?"
    """The marker of a moment given as ``utc_text`` (PostgreSQL casts it to timestamptz)."""

    @abstractmethod
    def _query(self, sql: str, params: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """Run a read query written with ``?`` markers; raise AuditStoreError (no values) on failure."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def _record(self, column: Any) -> Any:
        return json.loads(column) if isinstance(column, str | bytes) else column

    def get(self, disclosure_id: str) -> DisclosureRecord | None:
        """One record by id, or None."""
        rows = self._query(
            "SELECT record FROM disclosures WHERE disclosure_id = ?", (disclosure_id,)
        )
        return DisclosureRecord.model_validate(self._record(rows[0][0])) if rows else None

    def concerning(self, *pseudonyms: str) -> list[DisclosureRecord]:
        """Every record whose data_subjects hold any of these pseudonyms, by decided_at then id.

        More than one: a resident's pseudonyms under each configured key (after a rotation);
        a record naming several of them is listed once.
        """
        if len(pseudonyms) != 1:
            return self.search(pseudonyms=pseudonyms) if pseudonyms else []
        rows = self._query(
            "SELECT d.record FROM disclosure_subjects s"
            " JOIN disclosures d ON d.disclosure_id = s.disclosure_id"
            " WHERE s.pseudonym = ? ORDER BY d.decided_at, d.disclosure_id",
            pseudonyms,
        )
        return [DisclosureRecord.model_validate(self._record(row[0])) for row in rows]

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

        ``pseudonyms``: records about any of them; ``since`` inclusive, ``until`` exclusive;
        ``limit``: at most that many, the oldest.
        """
        where: list[str] = []
        params: list[str] = []
        if trace_id is not None:
            where.append(f"{self.JSON_FIELD.format(field='trace_id')} = ?")
            params.append(trace_id)
        if processing_activity is not None:
            where.append(f"{self.JSON_FIELD.format(field='processing_activity')} = ?")
            params.append(processing_activity)
        if pseudonyms:
            markers = ", ".join("?" for _ in pseudonyms)
            subjects = "SELECT disclosure_id FROM disclosure_subjects WHERE pseudonym IN"
            where.append(f"d.disclosure_id IN ({subjects} ({markers}))")
            params.extend(pseudonyms)
        if since is not None:
            where.append(f"d.decided_at >= {self.TIME_PARAMETER}")
            params.append(utc_text(since))
        if until is not None:
            where.append(f"d.decided_at < {self.TIME_PARAMETER}")
            params.append(utc_text(until))
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        bounded = ""
        if limit is not None:
            bounded = f" LIMIT {int(limit)}"  # an int the caller gives, never request text
        rows = self._query(
            f"SELECT d.record FROM disclosures d{condition}"  # noqa: S608 (markers only)
            f" ORDER BY d.decided_at, d.disclosure_id{bounded}",
            tuple(params),
        )
        return [DisclosureRecord.model_validate(self._record(row[0])) for row in rows]

    def pseudonym_keys(self) -> list[KeyUse]:
        """Per pseudonym key id (None: records that name none), its records and their span."""
        key = self.JSON_FIELD.format(field="pseudonym_key")
        rows = self._query(
            f"SELECT {key}, count(*), min(d.decided_at), max(d.decided_at)"  # noqa: S608
            f" FROM disclosures d GROUP BY {key} ORDER BY min(d.decided_at)",
            (),
        )
        return [KeyUse(row[0], int(row[1]), _moment(row[2]), _moment(row[3])) for row in rows]

    def chained(self) -> list[dict[str, Any]]:
        """Every chained record as stored (parsed JSON, not through the model): for verify."""
        chain = self.JSON_FIELD.format(field="chain")
        rows = self._query(
            f"SELECT d.record FROM disclosures d WHERE {chain} IS NOT NULL",  # noqa: S608
            (),
        )
        return [dict(self._record(row[0])) for row in rows]

    def stored_rows(self) -> list[StoredRow]:
        """Every record as stored (parsed JSON) with the columns the queries read beside it."""
        rows = self._query(
            "SELECT disclosure_id, event_id, event_type, source, recipient, outcome, decided_at,"
            " record FROM disclosures",
            (),
        )
        return [
            StoredRow(
                columns={
                    "disclosure_id": row[0],
                    "event_id": row[1],
                    "event_type": row[2],
                    "source": row[3],
                    "recipient": row[4],
                    "outcome": row[5],
                },
                decided_at=_moment(row[6]),
                record=dict(self._record(row[7])),
            )
            for row in rows
        ]

    def subject_index(self) -> list[tuple[str, str]]:
        """Every row of the subjects index the lookups read: (disclosure_id, pseudonym)."""
        rows = self._query("SELECT disclosure_id, pseudonym FROM disclosure_subjects", ())
        return [(str(row[0]), str(row[1])) for row in rows]

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint of the chains."""
        return [Checkpoint.model_validate(value) for value in self.checkpoint_values()]

    def checkpoint_values(self) -> list[dict[str, Any]]:
        """Every stored checkpoint as stored (parsed JSON): verify names a malformed one."""
        rows = self._query("SELECT record FROM chain_checkpoints ORDER BY chain, seq", ())
        return [dict(self._record(row[0])) for row in rows]

    def purges(self) -> list[PurgeRecord]:
        """Every purge record, oldest first per chain."""
        rows = self._query("SELECT record FROM chain_purges ORDER BY chain, through_seq", ())
        return [PurgeRecord.model_validate(self._record(row[0])) for row in rows]

    def purge(
        self,
        before: datetime,
        signer: Signer,
        *,
        operator: str,
        at: datetime,
        dry_run: bool = False,
    ) -> list[PurgeRecord]:
        """Delete the records decided before ``before``; one signed purge record per chain.

        Per chain only the unbroken beginning of records older than ``before`` goes (a
        chain stays a chain: it continues after ``through_seq``); records written before
        chains existed go when older. Their subjects and delivery attempts go with them.
        The store's append-only triggers are lifted for this one transaction only. With
        ``dry_run`` nothing is deleted or stored: the purge records say what would go.
        Check the chains first (``hub audit verify``): a purge signs through what it finds.
        """
        by_chain: dict[str, list[dict[str, Any]]] = {}
        for value in self.chained():
            by_chain.setdefault(str(value["chain"]), []).append(value)
        purged_through = {p.chain: p.through_seq for p in self.purges()}
        doomed: list[str] = []
        records: list[PurgeRecord] = []
        for chain, values in sorted(by_chain.items()):
            values.sort(key=lambda v: int(v["seq"]))
            head: ChainHead | None = None
            count = 0
            for value in values:
                decided = datetime.fromisoformat(str(value["decided_at"]))
                if decided >= before:
                    break
                head = ChainHead(int(value["seq"]), record_hash(value))
                doomed.append(str(value["disclosure_id"]))
                count += 1
            if head is not None and head.seq > purged_through.get(chain, 0):
                records.append(
                    signer.purge(chain, head, before=before, count=count, at=at, operator=operator)
                )
        chain = self.JSON_FIELD.format(field="chain")
        unchained = self._query(
            f"SELECT d.disclosure_id FROM disclosures d WHERE {chain} IS NULL"  # noqa: S608
            f" AND d.decided_at < {self.TIME_PARAMETER}",
            (utc_text(before),),
        )
        doomed += [str(row[0]) for row in unchained]
        if not dry_run:
            self._delete_and_record(doomed, records)
        return records

    @abstractmethod
    def _delete_and_record(self, disclosure_ids: list[str], purges: list[PurgeRecord]) -> None:
        """In one transaction, triggers lifted: delete these records, store the purge records."""

    def attempts(self, disclosure_id: str) -> list[DeliveryAttempt]:
        """The delivery attempts of one disclosure, in attempt order."""
        rows = self._query(
            "SELECT record FROM delivery_attempts WHERE disclosure_id = ?"
            " ORDER BY attempt, attempted_at, attempt_id",
            (disclosure_id,),
        )
        return [DeliveryAttempt.model_validate(self._record(row[0])) for row in rows]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
