"""The records the hub writes about an inbound event besides its releases: its status, its dead letter.

Each is defined once here and used by its writer (``hub.pipeline``) and its readers
(``hub.gateway.status`` reads status records; operators and ``hub demo`` read dead
letters). ``to_json`` writes the JSON the topics have always held, key for key, and
``from_json`` reads it back; only the hub writes these topics, so reading is lenient
(a record it cannot use is None) rather than validated as partner input.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic_core import from_json as _loads
from pydantic_core import to_json

from hub.errors import ErrorCode, ErrorDetail

__all__ = [
    "DEAD_LETTER_SCHEMA",
    "STATUS_RECORD_SCHEMA",
    "DeadLetter",
    "RecordCopy",
    "Replay",
    "StatusRecord",
]


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _object(value: bytes) -> Mapping[str, Any] | None:
    try:
        record = _loads(value)
    except ValueError:
        return None
    return record if isinstance(record, Mapping) else None


# The JSON Schema of ``StatusRecord.to_json`` (draft-07 keywords only, so the AsyncAPI
# document can embed it as is). Written by hand beside the class because ``to_json`` is
# hand-written; a unit test validates real ``to_json`` output against it, so it cannot drift.
_TEXT_OR_NULL: Any = {"type": ["string", "null"]}
_STRINGS: Any = {"type": "array", "items": {"type": "string"}}
STATUS_RECORD_SCHEMA: Final[Mapping[str, Any]] = {
    "title": "StatusRecord",
    "description": "What became of one event, for its sender (GET /events/{id}): ids and codes, "
    "never data. Keyed by `<source> <event id>` on a compacted topic.",
    "type": "object",
    "properties": {
        "event_id": _TEXT_OR_NULL,
        "source": _TEXT_OR_NULL,
        "partner": {**_TEXT_OR_NULL, "description": "The sending partner's id."},
        "type": {**_TEXT_OR_NULL, "description": "The event's type, when it could be read."},
        "status": {"type": "string", "enum": ["delivered", "dead-lettered"]},
        "codes": {**_STRINGS, "description": "Error codes of a dead-lettered event."},
        "recipients": {**_STRINGS, "description": "Partner ids it was delivered to."},
        "withheld": {**_STRINGS, "description": "Partner ids it was withheld from."},
        "at": {**_TEXT_OR_NULL, "format": "date-time", "description": "When it was decided."},
        "errors": {
            "type": "array",
            "description": "Why a dead-lettered event was refused: a path, a code and a "
            "sentence each, never a value (as the gateway's 422 lists them). Absent in "
            "records written before it was added.",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["path", "code", "message"],
                "additionalProperties": False,
            },
        },
    },
    "required": [
        "event_id",
        "source",
        "partner",
        "type",
        "status",
        "codes",
        "recipients",
        "withheld",
        "at",
    ],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """What became of one event, for its sender (GET /events/{id}): ids and codes, never data.

    Kept in the compacted status topic under ``key`` ("<source> <event id>").
    """

    event_id: str | None
    source: str | None
    partner: str | None
    type: str | None
    status: str  # "delivered" | "dead-lettered"
    codes: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    at: str | None = None
    errors: tuple[tuple[str, str, str], ...] = ()
    """(path, code, message) of each error of a dead-lettered event: no values."""

    @property
    def key(self) -> bytes:
        """The status topic's key: the sender's source and the event's id."""
        return f"{self.source} {self.event_id}".encode()

    def to_json(self) -> bytes:
        """The record's value on the status topic."""
        return to_json(
            {
                "event_id": self.event_id,
                "source": self.source,
                "partner": self.partner,
                "type": self.type,
                "status": self.status,
                "codes": self.codes,
                "recipients": self.recipients,
                "withheld": self.withheld,
                "at": self.at,
                "errors": [
                    {"path": path, "code": code, "message": message}
                    for path, code, message in self.errors
                ],
            }
        )

    @classmethod
    def from_json(cls, value: bytes) -> StatusRecord | None:
        """The record in a status topic value; None when it is not one (no ``status``)."""
        record = _object(value)
        if record is None or not isinstance(record.get("status"), str):
            return None
        return cls(
            event_id=_text(record.get("event_id")),
            source=_text(record.get("source")),
            partner=_text(record.get("partner")),
            type=_text(record.get("type")),
            status=record["status"],
            codes=_strings(record.get("codes")),
            recipients=_strings(record.get("recipients")),
            withheld=_strings(record.get("withheld")),
            at=_text(record.get("at")),
            errors=_errors(record.get("errors")),
        )


def _errors(value: object) -> tuple[tuple[str, str, str], ...]:
    """The (path, code, message) entries of a status record's ``errors``; others skipped."""
    if not isinstance(value, list):
        return ()
    found = []
    for item in value:
        if isinstance(item, Mapping):
            path, code, message = (item.get(k) for k in ("path", "code", "message"))
            if isinstance(path, str) and isinstance(code, str) and isinstance(message, str):
                found.append((path, code, message))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class RecordCopy:
    """A copy of the original Kafka record, for replay (without the headers never stored)."""

    key: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    value: bytes | None


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


def _unb64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        return None


# The JSON Schema of ``DeadLetter.to_json`` (draft-07 keywords only): kept here, above the
# class, so a change of the dead letter's fields is one edit beside it; a unit test
# validates real ``to_json`` output against it.
_BASE64_OR_NULL: Any = {"type": ["string", "null"], "contentEncoding": "base64"}
DEAD_LETTER_SCHEMA: Final[Mapping[str, Any]] = {
    "title": "DeadLetter",
    "description": "An event the hub could not route: why (codes and paths only), where from, "
    "and a copy of the original record for replay (null when kept by reference only).",
    "type": "object",
    "properties": {
        "reason": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "The first error's code."},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string"},
                            "code": {"type": "string", "enum": sorted(c.value for c in ErrorCode)},
                            "message": {"type": "string"},
                        },
                        "required": ["path", "code", "message"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["code", "errors"],
            "additionalProperties": False,
        },
        "unroutable": {"type": "boolean"},
        "replays": {
            "type": "integer",
            "minimum": 1,
            "description": "On a dead letter of a replay only: how many times its record was "
            "replayed (`hub dlq replay`).",
        },
        "replay_of": {
            "type": "string",
            "description": "On a dead letter of a replay only: the dead letter it replayed.",
        },
        "partner": {"type": ["string", "null"], "description": "The sending partner's id."},
        "event_id": {"type": ["string", "null"]},
        "origin": {
            "type": "object",
            "description": "The original record: inbound topic, partition, offset.",
            "properties": {
                "topic": {"type": "string"},
                "partition": {"type": "integer", "minimum": 0},
                "offset": {"type": "integer", "minimum": 0},
            },
            "required": ["topic", "partition", "offset"],
            "additionalProperties": False,
        },
        "digest": {
            "type": "object",
            "properties": {
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "bytes": {"type": "integer", "minimum": 0},
            },
            "required": ["sha256", "bytes"],
            "additionalProperties": False,
        },
        "record": {
            "description": "A copy of the original record (base64), or null when too large "
            "to copy or holding what the hub never stores: replay it from origin.",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "key": _BASE64_OR_NULL,
                        "headers": {
                            "type": "array",
                            "items": {
                                "type": "array",
                                "items": [{"type": "string"}, _BASE64_OR_NULL],
                                "minItems": 2,
                                "maxItems": 2,
                            },
                        },
                        "value": _BASE64_OR_NULL,
                    },
                    "required": ["key", "headers", "value"],
                    "additionalProperties": False,
                },
            ],
        },
    },
    "required": ["reason", "unroutable", "partner", "event_id", "origin", "digest", "record"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event the hub could not route: why (codes and paths only), where from, and a copy.

    ``record`` is None when the original was too large to copy (or Kafka refused the
    output): it is then kept by reference (``topic``, ``partition``, ``offset``, whose
    topic has the same retention) and by digest. The origin is always the partner's
    inbound record, also for a dead letter of a replay; ``replays`` counts the replays
    that led to this dead letter (0: as sent) and ``replay_of`` names the dead letter the
    last one replayed. Dead letters written before replays were counted read as 0 and None.
    """

    errors: tuple[ErrorDetail, ...]
    unroutable: bool
    partner: str | None
    event_id: str | None
    topic: str
    partition: int
    offset: int
    sha256: str
    size: int
    record: RecordCopy | None
    replays: int = 0
    replay_of: str | None = None

    @property
    def code(self) -> str:
        """The first error's code: the reason named in the ``hub-reason-code`` header."""
        return self.errors[0].code.value

    @property
    def key(self) -> bytes:
        """Keyed by origin partition, not by subject: a rejected subject may be a BSN."""
        return f"{self.topic}:{self.partition}".encode()

    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]:
        """The headers an operator filters on: reason code and sending partner."""
        return (
            ("hub-reason-code", self.code.encode()),
            ("hub-partner", (self.partner or "unknown").encode()),
        )

    def to_json(self) -> bytes:
        """The record's value on the dead-letter topic."""
        copy = self.record
        # A dead letter of a partner's record as sent is written as it always was; only one
        # of a replay carries the two keys replays added (readers default them).
        replayed = {"replays": self.replays, "replay_of": self.replay_of} if self.replays else {}
        return to_json(
            {
                "reason": {"code": self.code, "errors": [e.as_dict() for e in self.errors]},
                "unroutable": self.unroutable,
                "partner": self.partner,
                "event_id": self.event_id,
                "origin": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
                "digest": {"sha256": self.sha256, "bytes": self.size},
                "record": (
                    None
                    if copy is None
                    else {
                        "key": _b64(copy.key),
                        "headers": [[name, _b64(v)] for name, v in copy.headers],
                        "value": _b64(copy.value),
                    }
                ),
                **replayed,
            }
        )

    @classmethod
    def from_json(cls, value: bytes) -> DeadLetter | None:
        """The dead letter in a topic value; None when it is not one."""
        letter = _object(value)
        if letter is None:
            return None
        reason, origin, digest = letter.get("reason"), letter.get("origin"), letter.get("digest")
        if not (
            isinstance(reason, Mapping)
            and isinstance(origin, Mapping)
            and isinstance(digest, Mapping)
        ):
            return None
        try:
            errors = tuple(
                ErrorDetail(str(e["path"]), ErrorCode(e["code"]), str(e["message"]))
                for e in reason.get("errors", ())
            )
            copied = letter.get("record")
            return cls(
                errors=errors,
                unroutable=bool(letter.get("unroutable")),
                partner=_text(letter.get("partner")),
                event_id=_text(letter.get("event_id")),
                topic=str(origin["topic"]),
                partition=int(origin["partition"]),
                offset=int(origin["offset"]),
                sha256=str(digest["sha256"]),
                size=int(digest["bytes"]),
                record=(
                    RecordCopy(
                        key=_unb64(copied.get("key")),
                        headers=tuple(
                            (str(name), _unb64(header)) for name, header in copied["headers"]
                        ),
                        value=_unb64(copied.get("value")),
                    )
                    if isinstance(copied, Mapping)
                    else None
                ),
                replays=_count(letter.get("replays")),
                replay_of=_text(letter.get("replay_of")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


_REPLAY = "hub-replay-"


@dataclass(frozen=True, slots=True)
class Replay:
    """What an operator's replay of a dead letter says about the record it puts on the replay topic.

    Carried in ``hub-replay-*`` headers (ids, numbers and the operator's name; no event
    data): the inbound record the dead letter came from (so the router knows the sender
    and the new dead letter keeps the origin), the replay's number and the dead letter.
    Only the replay topic is read for them: an inbound topic's headers are the partner's.
    """

    topic: str
    partition: int
    offset: int
    count: int
    of: str
    operator: str

    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]:
        """The ``hub-replay-*`` headers of the replayed record."""
        return tuple(
            (_REPLAY + name, str(value).encode())
            for name, value in (
                ("topic", self.topic),
                ("partition", self.partition),
                ("offset", self.offset),
                ("count", self.count),
                ("of", self.of),
                ("operator", self.operator),
            )
        )

    @classmethod
    def split(
        cls, headers: Sequence[tuple[str, bytes | None]]
    ) -> tuple[Replay | None, tuple[tuple[str, bytes], ...]]:
        """The replay these headers describe (None when they do not), and the record's own headers."""
        found: dict[str, str] = {}
        own: list[tuple[str, bytes]] = []
        for name, value in headers:
            if name.startswith(_REPLAY):
                found[name[len(_REPLAY) :]] = (value or b"").decode("utf-8", "replace")
            else:
                own.append((name, value or b""))
        try:
            replay = cls(
                topic=found["topic"],
                partition=int(found["partition"]),
                offset=int(found["offset"]),
                count=int(found["count"]),
                of=found["of"],
                operator=found["operator"],
            )
        except (KeyError, ValueError):
            replay = None
        return replay, tuple(own)
