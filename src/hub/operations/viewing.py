"""An operator viewing a dead letter's personal data: the disclosure record written before it is shown.

The operator is the recipient (``operator:<name>``); the data subjects are the keyed
pseudonyms of every BSN in the record (key, headers and value: an invalid event may carry
one anywhere), so that ``hub audit subject --bsn`` shows the resident this viewing too.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json

from hub.audit.record import DisclosureOutcome, DisclosureRecord, disclosure_record
from hub.envelope import is_bsn
from hub.operations.deadletters import ListedDeadLetter, event_type_of
from hub.privacy import Pseudonymiser
from hub.records import RecordCopy
from hub.settings import DeadLetterSettings

__all__ = ["data_paths", "viewing_record"]

_NINE_DIGITS = re.compile(rb"(?<![0-9])[0-9]{9}(?![0-9])")


def viewing_record(
    listed: ListedDeadLetter,
    copy: RecordCopy,
    *,
    operator: str,
    pseudonymise: Pseudonymiser,
    settings: DeadLetterSettings,
) -> DisclosureRecord:
    """The disclosure record of ``operator`` seeing this copy of a dead letter's record."""
    parsed = _parsed(copy.value)
    data = parsed.get("data", parsed) if _is_structured(parsed) else parsed
    return disclosure_record(
        disclosure_id=str(uuid.uuid4()),  # each viewing is a disclosure of its own
        event_id=listed.event_id or f"deadletter:{listed.id}",
        event_type=event_type_of(copy.headers, copy.value) or "unknown",
        source=listed.partner,
        recipient=f"operator:{operator}",
        assignment_number=None,
        delivery_id=None,
        decided_at=datetime.now(UTC),
        outcome=DisclosureOutcome.DELIVERED,
        reason=None,
        fields_disclosed=data_paths(data) or ["value"],
        fields_withheld=(),
        legal_basis=settings.view_legal_basis,
        processing_activity=settings.view_processing_activity,
        data_subjects=[pseudonymise(bsn) for bsn in _bsns(copy)],
        trace_id=secrets.token_hex(16),
        span_id=secrets.token_hex(8),
        parent_span_id=None,
        pseudonym_key=pseudonymise.key_id,
    )


def data_paths(node: Any, prefix: str = "") -> list[str]:
    """The leaf paths of a JSON value, lists as ``[]`` (``goals[].goal_id``), sorted and unique."""
    return sorted(set(_walk(node, prefix)))


def _walk(node: Any, prefix: str) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, f"{prefix}[]")
    elif prefix:
        yield prefix


def _parsed(value: bytes | None) -> Any:
    try:
        return from_json(value or b"")
    except ValueError:
        return None


def _is_structured(parsed: Any) -> bool:
    return isinstance(parsed, Mapping) and "specversion" in parsed


def _bsns(copy: RecordCopy) -> list[str]:
    """Every 9-digit run anywhere in the record that passes the 11-proof: more rather than fewer."""
    found: set[str] = set()
    for part in (copy.key, copy.value, *(value for _, value in copy.headers)):
        for match in _NINE_DIGITS.finditer(part or b""):
            text = match.group().decode()
            if is_bsn(text):
                found.add(text)
    return sorted(found)
