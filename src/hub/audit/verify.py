"""``hub audit verify``: the disclosure log's chains checked in the store and on the topic.

Both read every chained record as it is kept (the store's JSON, the topic's bytes, never
through the record's model, so records of any hub version check the same), the signed
checkpoints and, in the store, the purge records; ``hub.audit.chain.ChainVerifier``
names where a chain breaks. A topic may begin mid-chain (its retention deletes the
oldest records); a store may not, unless a signed purge says so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from hub.audit.chain import (
    CHAIN_STATE_PREFIX,
    Break,
    ChainHead,
    ChainVerifier,
    Checkpoint,
    Signer,
)
from hub.audit.store import DisclosureStore
from hub.kafka import Record, TopicPartition
from hub.kafka.changelog import CompactedReader
from hub.settings import DEMO_SIGNING_KEY, AuditSettings, KafkaSettings
from hub.topics import TopicLayout

__all__ = ["VerifyReport", "public_keys", "verify_store", "verify_topic"]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What one place (``store`` or ``topic``) holds, and where its chains break."""

    where: str
    records: int
    chains: int
    checkpoints: int
    purges: int
    breaks: tuple[Break, ...]


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


def verify_store(store: DisclosureStore, keys: Mapping[str, Ed25519PublicKey]) -> VerifyReport:
    """The store's chains, from their beginning or their last signed purge."""
    verifier = ChainVerifier(keys)
    purges = store.purges()
    for purge in purges:
        verifier.start(purge)
    values = store.chained()
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
    breaks = verifier.finish() + _index_breaks(values, store.subject_index())
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


async def verify_topic(
    kafka: KafkaSettings, keys: Mapping[str, Ed25519PublicKey], timeout_seconds: float = 120.0
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

    def apply(_: TopicPartition, records: list[Record]) -> None:
        for record in records:
            if record.value is None:
                continue
            try:
                value: Any = json.loads(record.value)
            except ValueError:
                continue  # not the hub's JSON: it claims no place in a chain
            if not isinstance(value, dict):
                continue
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
