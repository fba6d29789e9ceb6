"""Dead letters as operators see them: their ids, reading and filtering the dead-letter topic.

A dead letter's id is its place on the dead-letter topic, ``dl-<partition>-<offset>``:
stable for as long as the topic keeps the record, unique (a replay that is dead-lettered
again is a new dead letter with an id of its own), free of personal data, and enough to
fetch the one record without reading the topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json

from hub.kafka import Record
from hub.kafka.inspection import Progress, read_one, read_topics
from hub.records import DeadLetter
from hub.schemas import TYPES
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

__all__ = [
    "ListedDeadLetter",
    "deadletter_id",
    "event_type_of",
    "find_dead_letter",
    "parse_deadletter_id",
    "read_dead_letters",
    "select",
    "written_order",
]

_ID = re.compile(r"^dl-(\d{1,9})-(\d{1,19})$")


def deadletter_id(partition: int, offset: int) -> str:
    """The id of the dead letter at this partition and offset of the dead-letter topic."""
    return f"dl-{partition}-{offset}"


def parse_deadletter_id(text: str) -> tuple[int, int] | None:
    """The (partition, offset) a dead-letter id names; None when it is not one."""
    match = _ID.match(text.strip())
    return None if match is None else (int(match[1]), int(match[2]))


def written_order(written_at: datetime, deadletter: str) -> tuple[datetime, int, int, str]:
    """How dead letters sort, oldest first: by time, then partition and offset (not id text)."""
    place = parse_deadletter_id(deadletter) or (-1, -1)
    return written_at, place[0], place[1], deadletter


@dataclass(frozen=True, slots=True)
class ListedDeadLetter:
    """One record of the dead-letter topic: its id, when it was written, and what it says.

    ``letter`` is None for a value this version cannot read; ``code``, ``partner`` and
    the origin then come from the record's headers and key, which every version wrote.
    """

    id: str
    written_at: datetime
    letter: DeadLetter | None
    code: str
    partner: str
    origin: tuple[str, int, int | None]

    @property
    def replays(self) -> int:
        """How many replays led to this dead letter (0: as the partner sent it)."""
        return 0 if self.letter is None else self.letter.replays

    @property
    def event_id(self) -> str | None:
        """The event's id, where it could be read and is one the hub may repeat."""
        return None if self.letter is None else self.letter.event_id

    @classmethod
    def of(cls, record: Record) -> ListedDeadLetter:
        """The listing of one dead-letter record."""
        letter = DeadLetter.from_json(record.value or b"")
        headers = {
            name: (value or b"").decode("utf-8", "replace") for name, value in record.headers
        }
        if letter is not None:
            origin: tuple[str, int, int | None] = (letter.topic, letter.partition, letter.offset)
            code, partner = letter.code, letter.partner or "unknown"
        else:
            # The key has always been the origin's "topic:partition"; the offset only the value held.
            topic, _, partition = (record.key or b"").decode("utf-8", "replace").rpartition(":")
            origin = (topic, int(partition) if partition.isdigit() else -1, None)
            code = headers.get("hub-reason-code", "unknown")
            partner = headers.get("hub-partner", "unknown")
        return cls(
            id=deadletter_id(record.partition, record.offset),
            written_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
            letter=letter,
            code=code,
            partner=partner,
            origin=origin,
        )

    def summary(self) -> dict[str, Any]:
        """What `hub dlq list` shows of it: ids, codes, paths, counts; never event data."""
        letter = self.letter
        return {
            "id": self.id,
            "written_at": self.written_at.isoformat(),
            "partner": self.partner,
            "code": self.code,
            "codes": [] if letter is None else [e.code.value for e in letter.errors],
            "paths": [] if letter is None else [e.path for e in letter.errors],
            "event_id": self.event_id,
            "unroutable": None if letter is None else letter.unroutable,
            "origin": {
                "topic": self.origin[0],
                "partition": self.origin[1],
                "offset": self.origin[2],
            },
            "replays": self.replays,
            "replay_of": None if letter is None else letter.replay_of,
            "copy": letter is not None and letter.record is not None,
            "readable": letter is not None,
        }


async def read_dead_letters(
    kafka: KafkaSettings, layout: TopicLayout, *, progress: Progress | None = None
) -> list[ListedDeadLetter]:
    """Every dead letter the topic holds, oldest first."""
    records = await read_topics(kafka, [layout.deadletter], progress=progress)
    listed = [ListedDeadLetter.of(record) for record in records]
    return sorted(listed, key=lambda d: written_order(d.written_at, d.id))


async def find_dead_letter(
    kafka: KafkaSettings, layout: TopicLayout, ident: str
) -> ListedDeadLetter | None:
    """The dead letter with this id; None when the id is not one or the topic no longer holds it."""
    place = parse_deadletter_id(ident)
    if place is None:
        return None
    record = await read_one(kafka, layout.deadletter, *place)
    return None if record is None else ListedDeadLetter.of(record)


def select(
    letters: Iterable[ListedDeadLetter],
    *,
    partner: str | None = None,
    code: str | None = None,
    since: datetime | None = None,
) -> list[ListedDeadLetter]:
    """The dead letters of this partner, with this code (any of its codes), written since then."""
    return [
        d
        for d in letters
        if (partner is None or d.partner == partner)
        and (
            code is None
            or d.code == code
            or (d.letter is not None and any(e.code.value == code for e in d.letter.errors))
        )
        and (since is None or d.written_at >= since)
    ]


def event_type_of(headers: Sequence[tuple[str, bytes | None]], value: bytes | None) -> str | None:
    """The contract type a dead letter's copy names (``ce_type``, or a structured value's ``type``).

    Only a type of the contract: anything else a partner wrote is not repeated.
    """
    for name, header in headers:
        if name.lower() == "ce_type":
            text = (header or b"").decode("utf-8", "replace")
            return text if text in TYPES else None
    try:
        parsed = from_json(value or b"")
    except ValueError:
        return None
    found = parsed.get("type") if isinstance(parsed, Mapping) else None
    return found if isinstance(found, str) and found in TYPES else None
