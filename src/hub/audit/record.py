"""The disclosure record (after Logboek Dataverwerkingen) and the delivery-attempt record.

One disclosure record per (event, recipient the table resolves), written in the same
atomic step as the release or withholding it describes. It holds ids, paths, the legal
basis and keyed pseudonyms of the data subjects: never a BSN, a name or any other value
of the event's data. Records are immutable; a webhook's later transmission attempts are
appended as separate DeliveryAttempt records that point to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import to_json

from hub.audit.chain import Checkpoint

__all__ = [
    "AttemptResult",
    "DeliveryAttempt",
    "DisclosureOutcome",
    "DisclosureRecord",
    "KeyUse",
    "StoredRow",
    "disclosure_record",
    "linked",
    "read_log_record",
    "record_sort_key",
]

_HEX64 = r"^[0-9a-f]{64}$"


def _sorted_unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


class DisclosureOutcome(StrEnum):
    """What happened to the data for this recipient."""

    DELIVERED = "delivered"  # released to the recipient's outbound channel
    WITHHELD = "withheld"  # the table resolved the recipient, a condition kept the data back
    FAILED = "failed"  # released, but the channel finally refused it (webhooks, later)


class DisclosureRecord(BaseModel):
    """One disclosure-log record: who received (or was refused) which fields of which event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disclosure_id: str = Field(description="Deterministic id (UUIDv5) of (event, recipient).")
    event_id: str = Field(description="The id of the event whose data this is.")
    event_type: str = Field(description="Its full CloudEvents type.")
    source: str = Field(description="The partner id of the event's sender.")
    recipient: str = Field(description="The partner id of the recipient.")
    assignment_number: str | None = Field(
        default=None, description="The assignment a per-assignment delivery is for."
    )
    delivery_id: str | None = Field(
        default=None, description="The id of the released CloudEvent; None when withheld."
    )
    decided_at: AwareDatetime = Field(description="When the hub released or withheld the data.")
    outcome: DisclosureOutcome
    reason: str | None = Field(
        default=None, description="A reason code, for withheld or failed; never a value."
    )
    fields_disclosed: Annotated[tuple[str, ...], AfterValidator(_sorted_unique)] = Field(
        description="Paths into data that were released (generic: goals[].goal_id)."
    )
    fields_withheld: Annotated[tuple[str, ...], AfterValidator(_sorted_unique)] = Field(
        description="Paths present in the event that this recipient did not receive."
    )
    legal_basis: str = Field(description="From the table, for the law that applies.")
    processing_activity: str = Field(description="Id in the AVG art. 30 register.")
    data_subjects: Annotated[
        tuple[Annotated[str, Field(pattern=_HEX64)], ...], AfterValidator(_sorted_unique)
    ] = Field(description="Keyed pseudonyms (HMAC-SHA256, hex) of the BSNs concerned.")
    data_subject_id_type: Literal["BSN"] = "BSN"
    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="W3C trace id.")
    span_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="This disclosure's span id.")
    parent_span_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{16}$",
        description="The sender's span (from the event's traceparent), when it had one.",
    )
    policy_version: str | None = Field(
        default=None,
        pattern=_HEX64,
        description="SHA-256 of the routing/privacy table (with the connectors' rows) that "
        "decided it; null in records written before the hub recorded it.",
    )
    pseudonym_key: str | None = Field(
        default=None,
        description="The id of the pseudonym key the hub made this record's pseudonyms with "
        "(HUB_PRIVACY__PSEUDONYM_KEY_ID); null in records written before records named it, "
        "which were made with the deployment's first key. Pseudonyms a record takes over from "
        "the routing state may be older ones, made with an earlier key.",
    )
    chain: str | None = Field(
        default=None,
        description="The hash chain it belongs to (its inbound partition); see hub.audit.chain.",
    )
    seq: int | None = Field(default=None, ge=1, description="Its place in the chain, from 1.")
    prev_hash: str | None = Field(
        default=None,
        pattern=_HEX64,
        description="SHA-256 of the chain's previous record as written; null for the first.",
    )

    def to_json(self) -> bytes:
        """The record's value on the disclosure topic (compact JSON, as ``model_dump_json``)."""
        return self.__pydantic_serializer__.to_json(self)


@dataclass(frozen=True, slots=True)
class KeyUse:
    """How many stored records name one pseudonym key, and when the first and last were decided."""

    key: str | None
    """The key id; None for records written before records named their key (the first key)."""
    records: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One stored record as kept (its JSON, parsed), and the columns the store's queries read.

    The columns are copies of the record's fields, outside its hash: ``hub audit verify``
    checks that they still say what the record says.
    """

    columns: dict[str, Any]
    """disclosure_id, event_id, event_type, source, recipient, outcome, as stored."""
    decided_at: datetime
    record: dict[str, Any]


def disclosure_record(
    *,
    disclosure_id: str,
    event_id: str,
    event_type: str,
    source: str,
    recipient: str,
    assignment_number: str | None,
    delivery_id: str | None,
    decided_at: datetime,
    outcome: DisclosureOutcome,
    reason: str | None,
    fields_disclosed: Iterable[str],
    fields_withheld: Iterable[str],
    legal_basis: str,
    processing_activity: str,
    data_subjects: Iterable[str],
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    policy_version: str | None = None,
    pseudonym_key: str | None = None,
) -> DisclosureRecord:
    """The record of one release or withholding, as the hub builds it.

    Not validated again: every value is the hub's own (ids it derived, paths of its
    compiled table, pseudonyms it computed), and validation cost a fifth of routing an
    event. The lists are sorted and made unique here as the validators would.
    """
    values = {
        "disclosure_id": disclosure_id,
        "event_id": event_id,
        "event_type": event_type,
        "source": source,
        "recipient": recipient,
        "assignment_number": assignment_number,
        "delivery_id": delivery_id,
        "decided_at": decided_at,
        "outcome": outcome,
        "reason": reason,
        "fields_disclosed": tuple(sorted(set(fields_disclosed))),
        "fields_withheld": tuple(sorted(set(fields_withheld))),
        "legal_basis": legal_basis,
        "processing_activity": processing_activity,
        "data_subjects": tuple(sorted(set(data_subjects))),
        "data_subject_id_type": "BSN",
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent_span_id,
        "policy_version": policy_version,
        "pseudonym_key": pseudonym_key,
        "chain": None,
        "seq": None,
        "prev_hash": None,
    }
    return _built(values)


def linked(
    record: DisclosureRecord, chain: str, seq: int, prev_hash: str | None
) -> DisclosureRecord:
    """The record with its place in a hash chain (``hub.audit.chain``), built as above.

    What ``model_copy(update=...)`` gives, at a third of its cost: it runs per disclosure.
    """
    values = dict(record.__dict__)
    values["chain"], values["seq"], values["prev_hash"] = chain, seq, prev_hash
    return _built(values)


def _built(values: dict[str, Any]) -> DisclosureRecord:
    # What model_construct does, without its per-field loop over defaults and aliases
    # (half of its cost): every field is given, in declaration order (the serializer
    # writes __dict__'s order), all of them set. A test checks this against model_construct.
    record = DisclosureRecord.__new__(DisclosureRecord)
    object.__setattr__(record, "__dict__", values)
    object.__setattr__(record, "__pydantic_fields_set__", set(_DISCLOSURE_FIELDS))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", None)
    return record


_DISCLOSURE_FIELDS = frozenset(DisclosureRecord.model_fields)


class AttemptResult(StrEnum):
    """The result of one transmission attempt to a webhook."""

    SUCCEEDED = "succeeded"  # 2xx
    FAILED = "failed"  # to be retried
    PARKED = "parked"  # retries exhausted or permanent failure: parked for replay


class DeliveryAttempt(BaseModel):
    """One transmission attempt of a released delivery, linked to its disclosure record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempt_id: str = Field(description="Unique id of this attempt (idempotent insert).")
    disclosure_id: str = Field(description="The disclosure record this attempt belongs to.")
    attempt: int = Field(
        ge=0,
        description="1 for the first transmission, then 2, 3, ...; 0 when parked unsent "
        "(a later record of a subject that already has a parked one).",
    )
    attempted_at: AwareDatetime
    result: AttemptResult
    status: int | None = Field(default=None, description="HTTP status, when one was received.")
    reason: str | None = Field(default=None, description="A reason code; never a payload value.")

    def to_json(self) -> bytes:
        """The record's value on the disclosure topic, marked ``record_type: delivery-attempt``."""
        return to_json({"record_type": _ATTEMPT_RECORD_TYPE, **self.model_dump(mode="json")})


# Attempts share the disclosure topic with the records they belong to; this tells them apart.
_ATTEMPT_RECORD_TYPE = "delivery-attempt"


def read_log_record(value: Mapping[str, Any]) -> DisclosureRecord | DeliveryAttempt | Checkpoint:
    """A record of the disclosure topic, validated: a delivery attempt, a chain's checkpoint
    (``hub.audit.chain``) or a disclosure record.

    Raises pydantic's ValidationError for a value that is none of them.
    """
    if value.get("record_type") == "checkpoint":
        return Checkpoint.model_validate(value)
    if value.get("record_type") == _ATTEMPT_RECORD_TYPE:
        return DeliveryAttempt.model_validate(
            {k: v for k, v in value.items() if k != "record_type"}
        )
    return DisclosureRecord.model_validate(value)


def record_sort_key(record: DisclosureRecord) -> tuple[datetime, str]:
    """Order of records in a subject's listing: by decided_at, then disclosure_id."""
    return (record.decided_at, record.disclosure_id)
