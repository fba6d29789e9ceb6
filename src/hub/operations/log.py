"""The operators' log (``<prefix>.operations``): who replayed or viewed which dead letter, and when.

One JSON record per act, keyed by the dead letter's id, holding ids, codes, counts and
the operator's name; never event data. It is kept as long as the disclosure log. A
viewing of personal data is, besides, a disclosure record in the disclosure log (so a
resident's access request finds it); this log names that record.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic_core import from_json, to_json

from hub.kafka.inspection import Outgoing, read_topics
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

__all__ = ["Action", "OperationRecord", "operator_name", "read_operations", "replayed"]

_OPERATOR = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")


class Action(StrEnum):
    """What an operator did."""

    REPLAYED = "deadletter-replayed"  # put a dead letter's record on the replay topic
    VIEWED = "deadletter-viewed"  # saw a dead letter's record, personal data included


def operator_name(given: str | None) -> str | None:
    """The operator to name: ``--operator``, else ``HUB_OPERATOR``, else the login; None when unusable.

    A short token (letters, digits, ``. _ @ + -``): it goes into Kafka records and log lines.
    """
    for candidate in (given, os.environ.get("HUB_OPERATOR"), _login()):
        if candidate:
            return candidate if _OPERATOR.match(candidate) else None
    return None


def _login() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (e.g. a bare container)
        return None


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """One act of an operator on a dead letter."""

    action: Action
    operator: str
    at: datetime
    deadletter_id: str
    partner: str
    code: str
    event_id: str | None = None
    replay_count: int | None = None
    """For a replay: the number the replayed record carries (the dead letter's replays + 1)."""
    disclosure_id: str | None = None
    """For a viewing: the disclosure record written for it."""
    operation_id: str = ""

    def record(self, layout: TopicLayout) -> Outgoing:
        """The record on the operations topic."""
        return Outgoing(layout.operations, self.deadletter_id.encode(), self.to_json())

    def to_json(self) -> bytes:
        """The record's value: compact JSON."""
        return to_json(
            {
                "operation_id": self.operation_id or str(uuid.uuid4()),
                "action": self.action.value,
                "operator": self.operator,
                "at": self.at.isoformat(),
                "deadletter_id": self.deadletter_id,
                "partner": self.partner,
                "code": self.code,
                "event_id": self.event_id,
                "replay_count": self.replay_count,
                "disclosure_id": self.disclosure_id,
            }
        )

    @classmethod
    def from_json(cls, value: bytes) -> OperationRecord | None:
        """The record in an operations topic value; None when it is not one."""
        try:
            raw = from_json(value)
            return cls(
                action=Action(raw["action"]),
                operator=str(raw["operator"]),
                at=datetime.fromisoformat(raw["at"]),
                deadletter_id=str(raw["deadletter_id"]),
                partner=str(raw["partner"]),
                code=str(raw["code"]),
                event_id=raw.get("event_id"),
                replay_count=raw.get("replay_count"),
                disclosure_id=raw.get("disclosure_id"),
                operation_id=str(raw.get("operation_id", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


async def read_operations(kafka: KafkaSettings, layout: TopicLayout) -> list[OperationRecord]:
    """Every record of the operators' log the topic still holds, oldest first."""
    records = await read_topics(kafka, [layout.operations])
    found = [OperationRecord.from_json(r.value or b"") for r in records]
    return sorted((r for r in found if r is not None), key=lambda r: r.at)


def replayed(operations: Iterable[OperationRecord]) -> dict[str, OperationRecord]:
    """Per dead-letter id, its latest replay."""
    return {r.deadletter_id: r for r in operations if r.action is Action.REPLAYED}
