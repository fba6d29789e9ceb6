"""``hub audit verify``: the disclosure log's chains checked in the store and on the topic.

Both read every chained record as it is kept (the store's JSON, the topic's bytes, never
through the record's model, so records of any hub version check the same), the signed
checkpoints and, in the store, the purge records; ``hub.audit.chain.ChainVerifier``
names where a chain breaks. A topic may begin mid-chain (its retention deletes the
oldest records); a store may not, unless a signed purge says so.

A chain alone cannot tell a store whose last records were cut off, or that gained a
record outside every chain; the topic can. With both, ``compare_store`` holds the store
to the topic: every disclosure record the audit feed has committed past must be stored
as the topic has it, and every stored record must be on the topic (as far back as the
topic keeps records).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from hub.audit.chain import (
    CHAIN_STATE_PREFIX,
    Break,
    ChainHead,
    ChainVerifier,
    Checkpoint,
    PurgeRecord,
    Signer,
    record_hash,
)
from hub.audit.feed import audit_group
from hub.audit.record import DisclosureRecord, StoredRow
from hub.audit.store import DisclosureStore
from hub.kafka import Record, TopicPartition
from hub.kafka.changelog import CompactedReader
from hub.kafka.inspection import committed_offsets, topic_offsets
from hub.settings import DEMO_SIGNING_KEY, AuditSettings, KafkaSettings
from hub.topics import TopicLayout

__all__ = [
    "TopicCopy",
    "VerifyReport",
    "compare_store",
    "feed_positions",
    "public_keys",
    "verify_store",
    "verify_topic",
]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What one place (``store`` or ``topic``) holds, and where its chains break."""

    where: str
    records: int
    chains: int
    checkpoints: int
    purges: int
    breaks: tuple[Break, ...]
    line: str | None = None
    """What the report says of itself, where records in chains are not what it counts."""


def public_keys(audit: AuditSettings, *, development: bool) -> dict[str, Ed25519PublicKey]:
    """The keys checkpoints may be signed with: ``audit.verify_keys``, and the signing key's.

    An auditor may hold public keys only (``HUB_AUDIT__VERIFY_KEYS``, the current key's id
    among them). The signing key's public half is added when it is set; the public demo
    key only in development, or anyone could sign what passes. Raises ValueError when no
    key is left.
    """
    keys = {
        key_id: Ed25519PublicKey.from_public_bytes(base64.b64decode(encoded, validate=True))
        for key_id, encoded in audit.verify_keys.items()
    }
    secret = audit.signing_key.get_secret_value()
    if development or secret != DEMO_SIGNING_KEY:
        keys[audit.signing_key_id] = Signer.from_setting(audit.signing_key_id, secret).public_key()
    if not keys:
        raise ValueError(
            "no key to verify checkpoints with: set HUB_AUDIT__VERIFY_KEYS "
            "(public keys by id) or HUB_AUDIT__SIGNING_KEY"
        )
    return keys


def verify_store(
    store: DisclosureStore,
    keys: Mapping[str, Ed25519PublicKey],
    rows: list[StoredRow] | None = None,
) -> VerifyReport:
    """The store's chains, from their beginning or their last signed purge.

    ``rows``: the store's records, when the caller has read them already (one read of the
    whole store serves the chains, the columns and ``compare_store``).
    """
    verifier = ChainVerifier(keys)
    purges = store.purges()
    for purge in purges:
        verifier.start(purge)
    rows = store.stored_rows() if rows is None else rows
    values = [row.record for row in rows if row.record.get("chain") is not None]
    for value in values:
        seq = value.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            verifier.add(value)
        else:
            verifier.malformed(str(value.get("chain")), 0, "record (its seq)")
    for raw in store.checkpoint_values():
        try:
            verifier.add_checkpoint(Checkpoint.model_validate(raw))
        except ValidationError:
            verifier.malformed(str(raw.get("chain")), _number(raw.get("seq")), "checkpoint")
    breaks = verifier.finish() + _index_breaks(values, store.subject_index()) + _column_breaks(rows)
    chains = {str(v["chain"]) for v in values} | {p.chain for p in purges}
    return VerifyReport(
        "store", verifier.records, len(chains), verifier.checkpoints, len(purges), tuple(breaks)
    )


def _index_breaks(values: list[dict[str, Any]], index: list[tuple[str, str]]) -> list[Break]:
    """Chained records whose rows in the subjects index are not their ``data_subjects``.

    The chain covers the record's JSON; a resident's report and the read API find records
    through the index beside it. A row deleted there hides a disclosure from the resident
    it concerns, one added shows it to another, and the chain would not say so.
    """
    rows: dict[str, set[str]] = {}
    for indexed_id, pseudonym in index:
        rows.setdefault(indexed_id, set()).add(pseudonym)
    breaks = []
    for value in values:
        disclosure_id = value.get("disclosure_id")
        subjects = value.get("data_subjects")
        if not isinstance(disclosure_id, str) or not isinstance(subjects, list):
            continue  # the chain names a malformed record already
        if rows.get(disclosure_id, set()) != {s for s in subjects if isinstance(s, str)}:
            breaks.append(
                Break(
                    "index",
                    str(value.get("chain")),
                    _number(value.get("seq")),
                    "the subjects index differs from the record's data_subjects "
                    "(a resident's report would miss or misplace it)",
                    disclosure_id,
                )
            )
    return breaks


_COLUMNS = ("disclosure_id", "event_id", "event_type", "source", "recipient", "outcome")


def _column_breaks(rows: list[StoredRow]) -> list[Break]:
    """Stored records whose columns (outside the hash) no longer say what the record says.

    The read queries select and order by the columns: a changed ``disclosure_id`` hides a
    record from every lookup by id and from the subjects index's join, a changed
    ``decided_at`` moves it out of an export's period; the chain covers the JSON only.
    """
    breaks = []
    for row in rows:
        record = row.record
        same = all(row.columns[name] == record.get(name) for name in _COLUMNS)
        try:
            same = same and row.decided_at == datetime.fromisoformat(str(record["decided_at"]))
        except (KeyError, ValueError):
            same = False
        if not same:
            breaks.append(
                Break(
                    "columns",
                    str(record.get("chain")),
                    _number(record.get("seq")),
                    "the stored columns differ from the record (lookups and exports read them)",
                    str(record.get("disclosure_id")),
                )
            )
    return breaks


@dataclass(slots=True)
class TopicCopy:
    """The disclosure records on the topic, as ``compare_store`` needs them.

    ``committed``: the audit feed's committed offset per partition, read before the store
    was: every disclosure record below it was stored by then.
    """

    committed: dict[int, int] = field(default_factory=dict)
    beginnings: dict[int, int] = field(default_factory=dict)
    records: dict[str, tuple[int, int, dict[str, Any]]] = field(default_factory=dict)
    """disclosure_id -> (partition, offset, value) of the first record on the topic with it."""
    first_decided: dict[int, datetime] = field(default_factory=dict)
    """Per partition, when its first disclosure record still on the topic was decided."""

    def add(self, partition: int, offset: int, value: dict[str, Any]) -> None:
        """One record read from the topic; other than disclosure records are left out."""
        if "record_type" in value:
            return  # a checkpoint or a delivery attempt
        try:
            record = DisclosureRecord.model_validate(value)
        except ValidationError:
            return  # the feed skips it too (audit_record_invalid)
        self.first_decided.setdefault(partition, record.decided_at)
        # A repeat: the store keeps the first.
        self.records.setdefault(record.disclosure_id, (partition, offset, value))

    def kept_since(self) -> datetime | None:
        """From when on the topic still holds every record (None: from its very beginning).

        A partition whose beginning retention took may have held older records; an hour's
        margin for records decided out of order across instances.
        """
        lost = [
            self.first_decided[p]
            for p, beginning in self.beginnings.items()
            if beginning > 0 and p in self.first_decided
        ]
        if any(beginning > 0 for beginning in self.beginnings.values()) and not lost:
            return datetime.max.replace(tzinfo=UTC)  # records lost and none left: judge none
        return max(lost) + timedelta(hours=1) if lost else None


async def feed_positions(kafka: KafkaSettings) -> TopicCopy:
    """A copy to fill, holding the audit feed's committed offsets now (read before the store)."""
    topic = TopicLayout(kafka.topic_prefix).disclosures
    committed = await committed_offsets(kafka, audit_group(kafka))
    offsets = await topic_offsets(kafka, [topic])
    return TopicCopy(
        committed={tp.partition: at for tp, at in committed.items() if tp.topic == topic},
        beginnings=dict(offsets[topic].beginning),
    )


def compare_store(
    stored: list[StoredRow], purges: list[PurgeRecord], copy: TopicCopy
) -> VerifyReport:
    """The store held to the topic (see the module docstring).

    ``stored`` and ``purges`` are the store's, read after ``feed_positions`` and before the
    topic: then every record the feed committed past is among them, and every one of them
    was on the topic when it was read (the feed stores only what it read there).
    """
    purged_through: dict[str, int] = {}
    for purge in purges:
        purged_through[purge.chain] = max(purged_through.get(purge.chain, 0), purge.through_seq)
    latest_before = max((p.before for p in purges), default=None)
    rows = {str(row.record.get("disclosure_id")): row for row in stored}
    breaks: list[Break] = []
    for disclosure_id, (partition, offset, value) in copy.records.items():
        chain, seq = str(value.get("chain")), _number(value.get("seq"))
        row = rows.get(disclosure_id)
        if row is None:
            if offset >= copy.committed.get(partition, 0):
                continue  # the feed has not stored it yet
            if _purged(value, purged_through, latest_before):
                continue
            breaks.append(
                Break(
                    "missing",
                    chain,
                    seq,
                    "on the topic, stored by the feed, and not in the store",
                    disclosure_id,
                )
            )
        elif record_hash(row.record) != record_hash(value):
            breaks.append(
                Break(
                    "differs", chain, seq, "stored otherwise than the topic has it", disclosure_id
                )
            )
    since = copy.kept_since()
    for disclosure_id, row in rows.items():
        if disclosure_id in copy.records or (since is not None and row.decided_at <= since):
            continue
        breaks.append(
            Break(
                "unlogged",
                str(row.record.get("chain")),
                _number(row.record.get("seq")),
                "in the store and never on the disclosure topic",
                disclosure_id,
            )
        )
    return VerifyReport(
        "store against topic",
        len(copy.records),
        0,
        0,
        len(purges),
        tuple(breaks),
        line=f"store against topic: {len(rows)} stored record(s), {len(copy.records)} on the topic",
    )


def _purged(
    value: Mapping[str, Any], purged_through: Mapping[str, int], latest_before: datetime | None
) -> bool:
    """Whether a purge accounts for a record missing from the store."""
    chain, seq = value.get("chain"), value.get("seq")
    if chain is not None:
        return isinstance(seq, int) and seq <= purged_through.get(str(chain), 0)
    if latest_before is None:
        return False
    try:
        return datetime.fromisoformat(str(value.get("decided_at"))) < latest_before
    except ValueError:
        return False


async def verify_topic(
    kafka: KafkaSettings,
    keys: Mapping[str, Ed25519PublicKey],
    timeout_seconds: float = 120.0,
    *,
    copy: TopicCopy | None = None,
) -> VerifyReport:
    """The disclosure topic's chains (committed records only), as far back as it keeps them.

    Each chain must also reach the head the router keeps for it in the routing state
    (``audit-chain:<chain>``), so a chain's end cut off, checkpoints and all, is named
    too. The heads are read first: a batch committed meanwhile only adds records past them.
    """
    verifier = ChainVerifier(keys, late_start=True)
    chains: set[str] = set()
    layout = TopicLayout(kafka.topic_prefix)
    heads: dict[str, ChainHead] = {}

    def apply_state(_: TopicPartition, records: list[Record]) -> None:
        for record in records:
            key = (record.key or b"").decode("utf-8", "replace")
            if not key.startswith(f"{CHAIN_STATE_PREFIX}:"):
                continue
            chain = key.removeprefix(f"{CHAIN_STATE_PREFIX}:")
            if record.value is None:
                heads.pop(chain, None)
            else:
                heads[chain] = ChainHead.of(json.loads(record.value))

    def apply(tp: TopicPartition, records: list[Record]) -> None:
        for record in records:
            if record.value is None:
                continue
            try:
                value: Any = json.loads(record.value)
            except ValueError:
                continue  # not the hub's JSON: it claims no place in a chain
            if not isinstance(value, dict):
                continue
            if copy is not None:
                copy.add(tp.partition, record.offset, value)
            chain, seq = value.get("chain"), value.get("seq")
            if value.get("record_type") == "checkpoint":
                try:
                    verifier.add_checkpoint(Checkpoint.model_validate(value))
                except ValidationError:
                    verifier.malformed(str(chain), _number(seq), "checkpoint")
            elif chain is not None and seq is not None:
                chains.add(str(chain))
                if isinstance(seq, int) and not isinstance(seq, bool):
                    verifier.add(value)
                else:
                    verifier.malformed(str(chain), 0, "record (its seq)")

    for topic, handler in ((layout.state, apply_state), (layout.disclosures, apply)):
        reader = CompactedReader(kafka, [topic], handler)
        await reader.open()
        try:
            await reader.catch_up(timeout_seconds)
        finally:
            await reader.close()
    for chain, head in heads.items():
        verifier.expect_head(chain, head)
    breaks = verifier.finish()
    return VerifyReport(
        "topic", verifier.records, len(chains), verifier.checkpoints, 0, tuple(breaks)
    )


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
