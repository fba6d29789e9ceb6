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

from hub.audit.chain import Break, ChainVerifier, Checkpoint, Signer
from hub.audit.store import DisclosureStore
from hub.kafka import Record, TopicPartition
from hub.kafka.changelog import CompactedReader
from hub.settings import AuditSettings, KafkaSettings
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


def public_keys(audit: AuditSettings) -> dict[str, Ed25519PublicKey]:
    """The keys checkpoints may be signed with: the current one's, and ``audit.verify_keys``."""
    keys = {
        key_id: Ed25519PublicKey.from_public_bytes(base64.b64decode(encoded, validate=True))
        for key_id, encoded in audit.verify_keys.items()
    }
    current = Signer.from_setting(audit.signing_key_id, audit.signing_key.get_secret_value())
    keys[audit.signing_key_id] = current.public_key()
    return keys


def verify_store(store: DisclosureStore, keys: Mapping[str, Ed25519PublicKey]) -> VerifyReport:
    """The store's chains, from their beginning or their last signed purge."""
    verifier = ChainVerifier(keys)
    purges = store.purges()
    for purge in purges:
        verifier.start(purge)
    values = store.chained()
    for value in values:
        verifier.add(value)
    for checkpoint in store.checkpoints():
        verifier.add_checkpoint(checkpoint)
    breaks = verifier.finish()
    chains = {str(v["chain"]) for v in values} | {p.chain for p in purges}
    return VerifyReport(
        "store", verifier.records, len(chains), verifier.checkpoints, len(purges), tuple(breaks)
    )


async def verify_topic(
    kafka: KafkaSettings, keys: Mapping[str, Ed25519PublicKey], timeout_seconds: float = 120.0
) -> VerifyReport:
    """The disclosure topic's chains (committed records only), as far back as it keeps them."""
    verifier = ChainVerifier(keys, late_start=True)
    chains: set[str] = set()

    def apply(_: TopicPartition, records: list[Record]) -> None:
        for record in records:
            if record.value is None:
                continue
            value: Any = json.loads(record.value)
            if not isinstance(value, dict):
                continue
            if value.get("record_type") == "checkpoint":
                verifier.add_checkpoint(Checkpoint.model_validate(value))
            elif value.get("chain") is not None and value.get("seq") is not None:
                chains.add(str(value["chain"]))
                verifier.add(value)

    reader = CompactedReader(kafka, [TopicLayout(kafka.topic_prefix).disclosures], apply)
    await reader.open()
    try:
        await reader.catch_up(timeout_seconds)
    finally:
        await reader.close()
    breaks = verifier.finish()
    return VerifyReport(
        "topic", verifier.records, len(chains), verifier.checkpoints, 0, tuple(breaks)
    )
