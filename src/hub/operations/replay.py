"""Replaying dead letters: which may go, and putting them on the replay topic, logged.

A replayed dead letter goes back through the router's pipeline as its sender's record:
``hub dlq replay`` puts the original record (the dead letter's copy, else the record at
its origin while the inbound topic keeps it) on ``<prefix>.replay`` with ``hub-replay-*``
headers (origin, the replay's number, the dead letter's id, the operator), and the
router reads that topic as one more inbound topic. So it is validated and routed under
the configuration the router runs with now, and deduplicated by (source, id) like every
record: an event that was routed once (by an earlier replay, or because the partner
sent it again) is a duplicate, never a second delivery. Only the marker of a stateful
rejection lets a replay through (docs/operations.md, "Dead letters").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.envelope import has_bsn_part
from hub.errors import ErrorCode
from hub.kafka.inspection import Outgoing, read_one, read_topics, send_all
from hub.operations.deadletters import ListedDeadLetter, deadletter_id
from hub.operations.log import Action, OperationRecord
from hub.records import DeadLetter, Replay, StatusRecord
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

__all__ = ["ReplayItem", "follow", "plan_replays", "replay"]


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One dead letter to replay, or the reason it is not replayed (a sentence without data)."""

    letter: ListedDeadLetter
    refused: str | None = None
    previous: OperationRecord | None = None
    """The latest earlier replay of this dead letter, if the log holds one."""

    @property
    def count(self) -> int:
        """The number the replayed record carries: one more than the dead letter's own."""
        return self.letter.replays + 1

    def summary(self) -> dict[str, Any]:
        """What `hub dlq replay` reports of it."""
        previous = self.previous
        return {
            "id": self.letter.id,
            "partner": self.letter.partner,
            "code": self.letter.code,
            "event_id": self.letter.event_id,
            "replay_count": self.count,
            "replayed": self.refused is None,
            "refused": self.refused,
            "replayed_before": (
                None
                if previous is None
                else {"by": previous.operator, "at": previous.at.isoformat()}
            ),
        }


# What the envelope must not carry was found in it (a BSN in the id or subject, a key that
# is not the subject, an extension): the same bytes fail again, and a replay would write
# that key and those headers once more, on the replay topic.
_REFUSED_ENVELOPE: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.SUBJECT_IS_BSN,
        ErrorCode.BSN_IN_IDENTIFIER,
        ErrorCode.SUBJECT_MISMATCH,
        ErrorCode.EXTENSION_NOT_ALLOWED,
    }
)
# Attributes that ride in the record's key or headers, however they were wrong.
_KEYED_ATTRIBUTES = frozenset({"id", "subject", "partitionkey"})


def _envelope_refused(letter: DeadLetter) -> bool:
    if any(e.code in _REFUSED_ENVELOPE or e.path in _KEYED_ATTRIBUTES for e in letter.errors):
        return True
    # Whatever the errors name (a dead letter of an earlier version may not name it): a
    # copy whose key or ce_subject has a BSN part is never written again.
    copy = letter.record
    if copy is None:
        return False
    keyed = [copy.key, *(v for n, v in copy.headers if n.lower() == "ce_subject")]
    return any(has_bsn_part(raw.decode("utf-8", "replace")) for raw in keyed if raw is not None)


def plan_replays(
    letters: Sequence[ListedDeadLetter],
    *,
    max_replays: int,
    replayed: Mapping[str, OperationRecord],
    skip_replayed: bool,
) -> list[ReplayItem]:
    """Which of these dead letters may be replayed, and why not the others.

    Refused: a dead letter this version cannot read; one too large to have been read at
    all (the partner must split it); one whose id, subject, key or extensions broke the
    contract (they ride in the record's key and headers, where such values must not be
    written again, and the same bytes fail again); one that already results from ``max_replays``
    replays (a cause replays do not fix must not go round forever); and, when
    ``skip_replayed`` (a replay by partner and code), one the log says was replayed.
    """
    items = []
    for letter in letters:
        previous = replayed.get(letter.id)
        refused: str | None = None
        if letter.letter is None:
            refused = "this version cannot read the dead letter; replay its origin by hand"
        elif letter.code == ErrorCode.EVENT_TOO_LARGE.value:
            refused = "an event over the size limit is never read: the partner must split it"
        elif letter.code == ErrorCode.RECORD_UNREADABLE.value:
            refused = (
                "the Kafka client cannot unpack the record: the partner must send it again "
                "(without the codec or header at fault)"
            )
        elif _envelope_refused(letter.letter):
            refused = (
                "its id, subject, key or extensions broke the contract: the partner must "
                "send it again with a new envelope"
            )
        elif letter.replays >= max_replays:
            refused = (
                f"it already results from {letter.replays} replays (the limit, "
                "HUB_DEADLETTERS__MAX_REPLAYS): fix the cause, or have the partner send it again"
            )
        elif skip_replayed and previous is not None:
            refused = f"replayed already, by {previous.operator} at {previous.at.isoformat()}"
        items.append(ReplayItem(letter, refused, previous))
    return items


async def replay(
    kafka: KafkaSettings,
    layout: TopicLayout,
    items: Sequence[ReplayItem],
    *,
    operator: str,
    dry_run: bool,
    progress: Callable[[int, int], None] | None = None,
) -> list[ReplayItem]:
    """Put the replayable items on the replay topic, each after its log record; returns every item.

    An item whose record is gone (no copy, and the inbound topic no longer holds its
    origin) comes back refused. With ``dry_run`` nothing is written.
    """
    done: list[ReplayItem] = []
    out: list[Outgoing] = []
    for index, item in enumerate(items, 1):
        if item.refused is None:
            record = await _original(kafka, item.letter)
            if record is None:
                item = ReplayItem(
                    item.letter,
                    "no copy was kept and the inbound topic no longer holds its origin",
                    item.previous,
                )
            elif not dry_run:
                log = OperationRecord(
                    action=Action.REPLAYED,
                    operator=operator,
                    at=datetime.now(UTC),
                    deadletter_id=item.letter.id,
                    partner=item.letter.partner,
                    code=item.letter.code,
                    event_id=item.letter.event_id,
                    replay_count=item.count,
                )
                # The log first: a replay is never without its record (a record without
                # its replay, when sending fails between the two, says "asked for").
                out += [log.record(layout), _replayed(layout, item, record, operator)]
        done.append(item)
        if progress is not None:
            progress(index, len(items))
    if out:
        await send_all(kafka, out)
    return done


async def _original(kafka: KafkaSettings, listed: ListedDeadLetter) -> Outgoing | None:
    letter = listed.letter
    if letter is None:
        return None
    if letter.record is not None:
        copy = letter.record
        headers = tuple((name, value or b"") for name, value in copy.headers)
        return Outgoing(letter.topic, copy.key, copy.value, headers)
    found = await read_one(kafka, letter.topic, letter.partition, letter.offset)
    if found is None:
        return None
    return Outgoing(
        letter.topic, found.key, found.value, tuple((n, v or b"") for n, v in found.headers)
    )


def _replayed(layout: TopicLayout, item: ReplayItem, original: Outgoing, operator: str) -> Outgoing:
    letter = item.letter.letter
    assert letter is not None  # refused otherwise
    replay = Replay(
        topic=letter.topic,
        partition=letter.partition,
        offset=letter.offset,
        count=item.count,
        of=item.letter.id,
        operator=operator,
    )
    # A header the original carried under the replay's names is dropped: the router
    # would take it for the replay's own.
    own = tuple((n, v) for n, v in original.headers if not n.startswith("hub-replay-"))
    return Outgoing(layout.replay, original.key, original.value, own + replay.headers)


async def follow(
    kafka: KafkaSettings,
    layout: TopicLayout,
    items: Sequence[ReplayItem],
    sources: Mapping[str, str],
    *,
    since_ms: int,
    wait_seconds: float,
) -> dict[str, dict[str, Any]]:
    """What the router made of the replayed items, waiting up to ``wait_seconds``; per dead-letter id.

    ``routed`` (its status says delivered), ``dead-lettered`` (with the new dead letter's
    id), or nothing within the wait: a duplicate of an event already routed writes no
    record at all (never a second delivery), and a router that is not running none yet.
    ``sources`` maps partner ids to their registered sources (the status records' keys).
    """
    wanted = [item for item in items if item.refused is None]
    found: dict[str, dict[str, Any]] = {}
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        for record in await read_topics(kafka, [layout.deadletter], since_ms=since_ms):
            letter = DeadLetter.from_json(record.value or b"")
            if letter is not None and letter.replay_of is not None:
                found[letter.replay_of] = {
                    "outcome": "dead-lettered",
                    "deadletter_id": deadletter_id(record.partition, record.offset),
                    "codes": [e.code.value for e in letter.errors],
                }
        statuses = {
            r.key: StatusRecord.from_json(r.value or b"")
            for r in await read_topics(kafka, [layout.status], since_ms=since_ms)
        }
        for item in wanted:
            source = sources.get(item.letter.partner)
            status = statuses.get(f"{source} {item.letter.event_id}".encode())
            if item.letter.id not in found and status is not None and status.status == "delivered":
                found[item.letter.id] = {"outcome": "routed", "recipients": list(status.recipients)}
        if all(i.letter.id in found for i in wanted):
            break
        if asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(1.0)
    return {i.letter.id: found.get(i.letter.id, {"outcome": None}) for i in wanted}
