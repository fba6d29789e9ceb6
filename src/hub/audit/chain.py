"""Tamper evidence for the disclosure log: hash chains and signed checkpoints.

Every disclosure record the router writes belongs to a chain, one per inbound topic
partition (``<topic>:<partition>``: one router at a time owns it), and carries its place:
``chain``, ``seq`` (1, 2, ...) and ``prev_hash``, the SHA-256 of the chain's previous
record as written (its JSON bytes on the topic). A record changed afterwards no longer
hashes to the next one's ``prev_hash``; a removed one leaves a gap in ``seq``; an
inserted one repeats a ``seq`` or breaks the links; a reordered one comes out of order.

The chain's head (last ``seq`` and hash) is routing state (``audit-chain:<chain>``),
written in the same Kafka transaction as the records: an aborted batch leaves the head
where it was, and a router that takes the partition over continues the chain.

Every ``audit.checkpoint_every`` records a chain gets a **checkpoint**: its head, signed
with the hub's Ed25519 key (``audit.signing_key``), on the disclosure topic next to the
records. A checkpoint binds everything before it, so rewriting a chain and all hashes
after the change is caught at the next checkpoint, which only the key's holder can sign;
``hub audit verify`` checks records and checkpoints in the topic and in the store.

Ed25519 from ``cryptography`` (well kept, already the TLS tests' dependency): a verifier
needs only the public key, so an auditor can check the log without being able to sign.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import to_json

__all__ = [
    "CHAIN_STATE_PREFIX",
    "Break",
    "ChainHead",
    "ChainVerifier",
    "Checkpoint",
    "Signer",
    "chain_of",
    "head_key",
    "record_hash",
]

CHAIN_STATE_PREFIX: Final = "audit-chain"
_HEX64 = r"^[0-9a-f]{64}$"


def chain_of(topic: str, partition: int) -> str:
    """The chain of the records decided from one inbound partition."""
    return f"{topic}:{partition}"


def head_key(chain: str) -> str:
    """The routing-state key of a chain's head."""
    return f"{CHAIN_STATE_PREFIX}:{chain}"


def record_hash(value: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a record's canonical JSON: what the next record's ``prev_hash`` names.

    Canonical: the record's keys whose value is not null, sorted, compact (its values are
    strings, numbers and lists of strings). The same from the topic's bytes, SQLite's text
    and PostgreSQL's jsonb, with no model involved; and a later version of the record that
    adds a field defaulting to null (as ``policy_version`` was added) hashes an older
    record as it was written. So a new field of the disclosure record must default to null.
    """
    return hashlib.sha256(_canonical({k: v for k, v in value.items() if v is not None})).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last record of a chain: its ``seq`` and hash (``seq`` 0: the chain is empty)."""

    seq: int = 0
    hash: str | None = None

    @classmethod
    def of(cls, value: Mapping[str, Any] | None) -> ChainHead:
        """The head in a routing-state value (None: a new chain)."""
        if value is None:
            return cls()
        return cls(int(value["seq"]), str(value["hash"]))

    def value(self, received_on: str) -> dict[str, Any]:
        """The routing-state value (``received_on``, as every value has; it never expires)."""
        return {"seq": self.seq, "hash": self.hash, "received_on": received_on}


class Checkpoint(BaseModel):
    """A chain's head, signed: everything up to ``seq`` is as it was when signed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_type: Literal["checkpoint"] = "checkpoint"
    chain: str
    seq: int = Field(ge=1)
    hash: str = Field(pattern=_HEX64)
    at: AwareDatetime
    key_id: str
    signature: str = Field(description="Ed25519 over the other fields (canonical JSON), base64.")

    def signed_bytes(self) -> bytes:
        """What the signature covers: every field but the signature, keys sorted, compact."""
        return _canonical(self.model_dump(mode="json", exclude={"signature"}))

    def to_json(self) -> bytes:
        """The record's value on the disclosure topic."""
        return self.__pydantic_serializer__.to_json(self)


def _canonical(value: Mapping[str, Any]) -> bytes:
    return to_json(dict(sorted(value.items())))


class PurgeRecord(BaseModel):
    """A signed record that a chain's records up to ``through_seq`` were deleted on purpose.

    Written by ``hub audit purge``: ``verify`` then starts the chain after ``through_seq``
    from ``through_hash``, so a purge is accounted for and the rest still checks.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_type: Literal["purge"] = "purge"
    chain: str
    through_seq: int = Field(ge=1)
    through_hash: str = Field(pattern=_HEX64)
    before: AwareDatetime = Field(description="The purge's cut-off: records decided before it.")
    count: int = Field(ge=0, description="Records of the chain deleted.")
    at: AwareDatetime
    operator: str = Field(description="Who ran the purge (an id, not a name).")
    key_id: str
    signature: str

    def signed_bytes(self) -> bytes:
        """What the signature covers: every field but the signature, keys sorted, compact."""
        return _canonical(self.model_dump(mode="json", exclude={"signature"}))


class Signer:
    """The hub's signing key (Ed25519), by id; the public half verifies."""

    def __init__(self, key_id: str, private_key: bytes) -> None:
        self.key_id = key_id
        self._key = Ed25519PrivateKey.from_private_bytes(private_key)

    @classmethod
    def from_setting(cls, key_id: str, encoded: str) -> Signer:
        """From ``audit.signing_key``: the 32-byte private key in base64."""
        return cls(key_id, base64.b64decode(encoded, validate=True))

    def public_key(self) -> Ed25519PublicKey:
        """The key that verifies this signer's checkpoints."""
        return self._key.public_key()

    def checkpoint(self, chain: str, head: ChainHead, at: datetime) -> Checkpoint:
        """A signed checkpoint of this head."""
        assert head.hash is not None  # a checkpoint follows a record
        unsigned = Checkpoint(
            chain=chain, seq=head.seq, hash=head.hash, at=at, key_id=self.key_id, signature="-"
        )
        signature = self._key.sign(unsigned.signed_bytes())
        return unsigned.model_copy(update={"signature": base64.b64encode(signature).decode()})

    def purge(
        self,
        chain: str,
        through: ChainHead,
        *,
        before: datetime,
        count: int,
        at: datetime,
        operator: str,
    ) -> PurgeRecord:
        """A signed purge record: ``chain``'s records up to ``through`` were deleted."""
        assert through.hash is not None
        unsigned = PurgeRecord(
            chain=chain,
            through_seq=through.seq,
            through_hash=through.hash,
            before=before,
            count=count,
            at=at,
            operator=operator,
            key_id=self.key_id,
            signature="-",
        )
        signature = self._key.sign(unsigned.signed_bytes())
        return unsigned.model_copy(update={"signature": base64.b64encode(signature).decode()})


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain breaks: the kind, the chain, the ``seq`` and what is known of the record."""

    kind: Literal[
        "changed",
        "removed",
        "inserted",
        "reordered",
        "bad-checkpoint",
        "index",
        "columns",
        "missing",
        "differs",
        "unlogged",
    ]
    chain: str
    seq: int
    detail: str
    disclosure_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: ids, numbers and words only."""
        return {
            "kind": self.kind,
            "chain": self.chain,
            "seq": self.seq,
            "disclosure_id": self.disclosure_id,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    prev_hash: str | None
    digest: str
    disclosure_id: str | None


class ChainVerifier:
    """Checks the chains of a set of records: the topic's or the store's, in any order.

    Feed it every chained record (``add``: its parsed value) and every checkpoint
    (``add_checkpoint``), then call ``finish`` for the breaks. Records are put in ``seq``
    order per chain (the topic spreads a chain over its partitions; a store keeps no
    order). A chain begins at ``seq`` 1, or after a purge (``start``); with
    ``late_start`` (a topic past its retention) it may begin at its first record.
    """

    def __init__(
        self, public_keys: Mapping[str, Ed25519PublicKey], *, late_start: bool = False
    ) -> None:
        self._keys = dict(public_keys)
        self._late_start = late_start
        self._entries: dict[str, list[_Entry]] = {}
        self._starts: dict[str, tuple[int, str]] = {}
        self._checkpoints: list[Checkpoint] = []
        self._purges: list[PurgeRecord] = []
        self._heads: dict[str, ChainHead] = {}
        self.breaks: list[Break] = []
        self.records = 0
        self.checkpoints = 0

    def start(self, purge: PurgeRecord) -> None:
        """The chain continues after a purge (its signature is checked at ``finish``)."""
        known = self._starts.get(purge.chain)
        if known is None or purge.through_seq > known[0]:
            self._starts[purge.chain] = (purge.through_seq, purge.through_hash)
        self._purges.append(purge)

    def add(self, value: Mapping[str, Any]) -> None:
        """One chained record (parsed)."""
        prev = value.get("prev_hash")
        ident = value.get("disclosure_id")
        entry = _Entry(
            int(value["seq"]),
            None if prev is None else str(prev),
            record_hash(value),
            None if ident is None else str(ident),
        )
        self._entries.setdefault(str(value["chain"]), []).append(entry)
        self.records += 1

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """A checkpoint of some chain."""
        self._checkpoints.append(checkpoint)

    def expect_head(self, chain: str, head: ChainHead) -> None:
        """The chain's head as the router keeps it (routing state): the chain must end there."""
        self._heads[chain] = head

    def malformed(self, chain: str, seq: int, what: str) -> None:
        """A value on the log that claims a place in a chain but is not a valid record."""
        self.breaks.append(Break("changed", chain, seq, f"not a valid {what}"))

    def finish(self) -> list[Break]:
        """Every break, by chain and seq."""
        hashes: dict[str, dict[int, str]] = {}
        for chain, entries in self._entries.items():
            hashes[chain] = self._walk(chain, sorted(entries, key=lambda e: e.seq))
        for checkpoint in self._checkpoints:
            self._check(checkpoint, hashes.get(checkpoint.chain, {}))
        for purge in self._purges:
            self._signed(purge, purge.chain, purge.through_seq)
        for chain, head in self._heads.items():
            present = hashes.get(chain, {})
            last = max(present, default=self._starts.get(chain, (0, ""))[0])
            if head.seq > last:
                self.breaks.append(
                    Break("removed", chain, last + 1, f"the router's head is at seq {head.seq}")
                )
            elif head.seq in present and present[head.seq] != head.hash:
                self.breaks.append(
                    Break("changed", chain, head.seq, "not the record the router's head names")
                )
        self.breaks.sort(key=lambda b: (b.chain, b.seq, b.kind))
        return self.breaks

    def _walk(self, chain: str, entries: list[_Entry]) -> dict[int, str]:
        """The chain's links in seq order; the hash of each seq (for the checkpoints)."""
        known = {e.digest for e in entries}
        successors: dict[str | None, set[int]] = {}
        for entry in entries:
            successors.setdefault(entry.prev_hash, set()).add(entry.seq)
        last_seq, last_hash, last_id = 0, None, None
        if chain in self._starts:
            last_seq, last_hash = self._starts[chain]
        elif self._late_start and entries:
            last_seq, last_hash = entries[0].seq - 1, entries[0].prev_hash
        by_seq: dict[int, str] = {}
        for entry in entries:
            if entry.seq in by_seq or entry.seq <= last_seq:
                self.breaks.append(
                    Break(
                        "inserted",
                        chain,
                        entry.seq,
                        "a second record with this seq",
                        entry.disclosure_id,
                    )
                )
                continue
            if entry.seq > last_seq + 1:
                self.breaks.append(
                    Break(
                        "removed",
                        chain,
                        last_seq + 1,
                        f"seq {last_seq + 1}..{entry.seq - 1} missing",
                        entry.disclosure_id,
                    )
                )
            elif entry.prev_hash != last_hash:
                # The record that does follow the one before may sit elsewhere in the chain.
                moved = successors.get(last_hash, set()) - {entry.seq}
                if moved or entry.prev_hash in known:
                    self.breaks.append(
                        Break(
                            "reordered",
                            chain,
                            entry.seq,
                            "it follows another record of the chain than the one before it",
                            entry.disclosure_id,
                        )
                    )
                else:
                    self.breaks.append(
                        Break(
                            "changed",
                            chain,
                            last_seq,
                            "its hash is not the next record's prev_hash",
                            last_id,
                        )
                    )
            by_seq[entry.seq] = entry.digest
            last_seq, last_hash, last_id = entry.seq, entry.digest, entry.disclosure_id
        return by_seq

    def _signed(self, record: Checkpoint | PurgeRecord, chain: str, seq: int) -> bool:
        """True when the record's signature is one of the known keys'; else a break."""
        key = self._keys.get(record.key_id)
        if key is None:
            self.breaks.append(Break("bad-checkpoint", chain, seq, "unknown key id"))
            return False
        try:
            key.verify(base64.b64decode(record.signature), record.signed_bytes())
        except (InvalidSignature, ValueError):
            self.breaks.append(Break("bad-checkpoint", chain, seq, "signature invalid"))
            return False
        return True

    def _check(self, checkpoint: Checkpoint, hashes: Mapping[int, str]) -> None:
        self.checkpoints += 1
        if not self._signed(checkpoint, checkpoint.chain, checkpoint.seq):
            return
        known = hashes.get(checkpoint.seq)
        if known is None and checkpoint.seq > max(hashes, default=0):
            self.breaks.append(
                Break(
                    "removed",
                    checkpoint.chain,
                    max(hashes, default=0) + 1,
                    f"a signed checkpoint names seq {checkpoint.seq}: the chain's end is gone",
                )
            )
        elif known is not None and known != checkpoint.hash:
            self.breaks.append(
                Break(
                    "changed",
                    checkpoint.chain,
                    checkpoint.seq,
                    "this record or one before it differs from the signed checkpoint",
                )
            )


def chained(values: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """The values that belong to a chain (records written before chains do not)."""
    return (v for v in values if v.get("chain") is not None and v.get("seq") is not None)


def sort_by_seq(values: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A store's records in chain order (a store keeps no write order of its own)."""
    return sorted(values, key=lambda v: (str(v["chain"]), int(v["seq"])))
