"""The unresolved dead letters for the operations page, read by `hub run` in the background.

It follows the dead-letter topic (``CompactedReader``: from the start once, then what is
new each interval), keeps a small row per dead letter (id, partner, code, when, replays;
never the copy of the event it carries) for the newest ``KEEP`` of them, and reads the
operators' log to leave out those it records as replayed (``replayed``): a replay that
is dead-lettered again is a new dead letter with an id of its own, so it is listed anew.
Rows older than the topic's retention (``HUB_KAFKA__PERSONAL_RETENTION_MS``) are
dropped, as the topic drops their records.

Why follow rather than read the topic each interval: it shares the router's event loop,
and 20,000 dead letters (one partner sending bad events for a while) took four seconds
to read every five seconds and 67 MiB to hold with their copies (docs/benchmarks.md).
The page reads the last snapshot; a request never waits for Kafka, and takes the newest
few rows and the counts per partner and code (kept between checks), not every row. Kafka
trouble keeps the last snapshot (``deadletters_check_failed``) and is tried again at the
next interval, with a new reader that reads the topic from the start.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Final, Protocol

from hub.kafka import Record, TopicPartition, is_kafka_failure
from hub.kafka.changelog import CompactedReader
from hub.kafka.inspection import TopicMissing
from hub.observability.logging import get_logger
from hub.operations.deadletters import ListedDeadLetter, deadletter_id, written_order
from hub.operations.log import read_operations, replayed
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

__all__ = ["KEEP", "BoardRow", "DeadLetterBoard", "unresolved"]

_log = get_logger()
# Longest one reading may take; then it counts as failed and the next one starts afresh.
_READING_LIMIT_SECONDS = 60.0
KEEP: Final = 10_000
"""Dead letters the board holds and counts by partner and code, the newest; ``total`` counts them all."""
# Records taken per round, so that the router waits at most a few milliseconds.
_ROUND_RECORDS: Final = 500
_REPLAYS: Final = b'"replays":'


class Listed(Protocol):
    """What a listing of a dead letter offers the page (a ``BoardRow`` or ``ListedDeadLetter``)."""

    @property
    def id(self) -> str: ...
    @property
    def partner(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def written_at(self) -> datetime: ...
    @property
    def replays(self) -> int: ...


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One dead letter as the page lists it: no event data, and not the copy the record carries."""

    id: str
    partner: str
    code: str
    written_at: datetime
    replays: int

    @classmethod
    def of(cls, record: Record) -> BoardRow:
        """The row of one dead-letter record, from its headers where they say enough.

        Code and partner are headers of every dead letter; only a dead letter of a replay
        says in its value how many replays led to it (base64 copies hold no quote, so the
        marker cannot stand in a copy), and only then is the value parsed.
        """
        if _REPLAYS in (record.value or b""):
            listed = ListedDeadLetter.of(record)
            return cls(listed.id, listed.partner, listed.code, listed.written_at, listed.replays)
        headers = dict(record.headers)
        return cls(
            id=deadletter_id(record.partition, record.offset),
            partner=(headers.get("hub-partner") or b"unknown").decode("utf-8", "replace"),
            code=(headers.get("hub-reason-code") or b"unknown").decode("utf-8", "replace"),
            written_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
            replays=0,
        )


def _age(row: BoardRow) -> tuple[datetime, int, int, str]:
    return written_order(row.written_at, row.id)


def unresolved(
    letters: Iterable[Listed], replayed_ids: set[str], now: datetime
) -> list[dict[str, Any]]:
    """The dead letters not replayed, newest first: id, partner, code, age; never event data."""
    return [_shown(d, now) for d in reversed(list(letters)) if d.id not in replayed_ids]


def _shown(d: Listed, now: datetime) -> dict[str, Any]:
    return {
        "id": d.id,
        "partner": d.partner,
        "code": d.code,
        "written_at": d.written_at.isoformat(),
        "age_seconds": max(0.0, (now - d.written_at).total_seconds()),
        "replays": d.replays,
    }


@dataclass(frozen=True, slots=True)
class _Tally:
    """The unresolved rows, newest first, and how many of them per partner and code."""

    rows: list[BoardRow]
    by_pair: Counter[tuple[str, str]]

    @classmethod
    def of(cls, rows: list[BoardRow], replayed_ids: set[str]) -> _Tally:
        open_ = [r for r in reversed(rows) if r.id not in replayed_ids]
        return cls(open_, Counter((r.partner, r.code) for r in open_))

    def counts(self) -> dict[str, list[dict[str, Any]]]:
        """Per partner, per code and per both, the most first (then by name): ids and codes only."""
        partners: Counter[str] = Counter()
        codes: Counter[str] = Counter()
        for (partner, code), n in self.by_pair.items():
            partners[partner] += n
            codes[code] += n
        return {
            "by_partner": [{"partner": k, "count": n} for k, n in _most(partners)],
            "by_code": [{"code": k, "count": n} for k, n in _most(codes)],
            "by_partner_and_code": [
                {"partner": p, "code": c, "count": n} for (p, c), n in _most(self.by_pair)
            ],
        }


def _most(counts: Counter[Any]) -> list[tuple[Any, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


class DeadLetterBoard:
    """Keeps a snapshot of the unresolved dead letters, brought up to date every ``interval_seconds``."""

    def __init__(self, *, kafka: KafkaSettings, layout: TopicLayout, interval_seconds: float):
        self._kafka = kafka
        self._layout = layout
        self._interval = interval_seconds
        self._retention = timedelta(milliseconds=kafka.personal_retention_ms)
        self._rows: list[BoardRow] = []  # oldest first (_age)
        self._dropped = 0  # rows beyond KEEP, older than every kept one, still in the topic
        self._replayed: set[str] = set()
        self._tally: _Tally | None = None  # of _rows and _replayed; None when either changed
        self._checked_at: float | None = None
        self._reader: CompactedReader | None = None

    def snapshot(self, *, limit: int | None = None, partner: str | None = None) -> dict[str, Any]:
        """The last reading: when, how many dead letters, the unresolved ones counted, and the newest.

        ``total`` counts every dead letter within the topic's retention, replayed or not;
        ``held`` those the board holds (the newest ``KEEP``), and the unresolved counts
        (``unresolved_count``, per partner, per code, per both) are of those. The listing,
        ``unresolved``, is the newest ``limit`` of them (None: all), of ``partner`` alone when
        given; ``matching`` is how many it was taken from. Ages are now.
        """
        if self._tally is None:
            # Counted once per change (a check), not per request: a page asks every 1.5 s.
            self._tally = _Tally.of(self._rows, self._replayed)
        tally = self._tally
        if partner is None:
            chosen: Iterable[BoardRow] = tally.rows
            matching = len(tally.rows)
        else:
            chosen = (r for r in tally.rows if r.partner == partner)
            matching = sum(n for (p, _), n in tally.by_pair.items() if p == partner)
        now = datetime.now(UTC)
        return {
            "checked_at": self._checked_at,
            "total": len(self._rows) + self._dropped,
            "held": len(self._rows),
            "unresolved_count": len(tally.rows),
            **tally.counts(),
            "partner": partner,
            "limit": limit,
            "matching": matching,
            "unresolved": [_shown(r, now) for r in islice(chosen, limit)],
        }

    async def check(self) -> None:
        """Take in the dead letters written since the last check, and read the operators' log."""
        if self._reader is None:
            reader = CompactedReader(self._kafka, [self._layout.deadletter], self._take)
            await reader.open()
            self._rows.clear()
            self._dropped = 0
            self._tally = None
            self._reader = reader
        try:
            # No limit of its own: a long first read is cut by _bounded, and the next check
            # goes on from where this one was (the rows taken stay, the reader keeps its place).
            await self._reader.catch_up(float("inf"), _ROUND_RECORDS)
        except Exception as exc:
            if not isinstance(exc, TimeoutError):
                await self.close()  # Kafka trouble: the next check reads the topic afresh
            raise
        operations = await read_operations(self._kafka, self._layout)
        self._replayed = set(replayed(operations))
        self._tally = None
        self._forget_expired(datetime.now(UTC))
        self._checked_at = time.time()

    async def close(self) -> None:
        """Disconnect the reader (a later check starts a new one)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                await reader.close()

    def _take(self, _: TopicPartition, records: list[Record]) -> None:
        # The reader hands over a run of one partition's records at a time (on a first
        # read, hundreds that may span days): each row goes to its place in time, so that
        # the page lists them newest first and those beyond KEEP are the oldest of all.
        self._tally = None
        for record in records:
            bisect.insort(self._rows, BoardRow.of(record), key=_age)
        excess = len(self._rows) - KEEP
        if excess > 0:
            del self._rows[:excess]
            self._dropped += excess

    def _forget_expired(self, now: datetime) -> None:
        # The topic's retention has removed what lies before the cut.
        cut = bisect.bisect_left(self._rows, (now - self._retention, -1, -1, ""), key=_age)
        if cut:
            del self._rows[:cut]
            self._dropped = 0  # every row beyond KEEP was older still
            self._tally = None

    async def run(self, stop: asyncio.Event) -> None:
        """Read every interval until ``stop`` is set; a reading under way when it is set is dropped."""
        try:
            while not stop.is_set():
                # A reading waits on Kafka (minutes, while it does not answer): a stop must not.
                reading = asyncio.create_task(self._bounded())
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not reading.done():
                    reading.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reading
                    return
                exc = reading.exception()
                if exc is not None:
                    # A topic not there yet: the router creates it as it starts.
                    expected = isinstance(exc, TopicMissing | OSError | TimeoutError)
                    if not expected and not is_kafka_failure(exc):
                        raise exc
                    _log.warning("deadletters_check_failed", exc_type=type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)
        finally:
            await self.close()

    async def _bounded(self) -> None:
        async with asyncio.timeout(_READING_LIMIT_SECONDS):
            await self.check()
