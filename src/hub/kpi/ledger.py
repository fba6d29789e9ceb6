"""The KPI ledger: open pairs, monthly totals per team, budget positions, and how far it has read.

Each pair (a referral waiting for its intake, an open case, an assignment waiting for
its care to start, a safety report waiting for Veilig Thuis's first feedback) is its
first start and its first completion, whichever is read first: the inbound topics of
different partners are read side by side, so a completion may be read before its start
and then waits for it. The duration goes to the completing event's month in
Europe/Amsterdam, for the team the pair belongs to. A completed (or withdrawn) pair is
remembered as done, so a repeated event is never counted twice. Open and done pairs are
forgotten the retention after the last event about them was received.

The ledger is kept in the compacted KPI topic (``<prefix>.kpi``), one record per key,
written with the offsets it has read up to in one transaction (``changes``) and read
back on start (``load``). Keys are JSON arrays; values JSON objects of ids, team names,
times and counts: never personal data.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from pydantic_core import from_json, to_json

from hub.kpi.calendar import month_of, working_days
from hub.kpi.facts import Fact
from hub.state import DiskStore

__all__ = [
    "BUCKETS_SECONDS",
    "KPIS",
    "MAX_TEAMS",
    "OTHER_TEAMS",
    "SAFETY_TARGET_WORKING_DAYS",
    "SWEEP_STEP",
    "UNASSIGNED",
    "Completion",
    "KpiLedger",
    "Totals",
]

_DAY: Final = 86_400.0
_FORTNIGHT: Final = timedelta(days=14)
BUCKETS_SECONDS: Final = tuple(
    d * _DAY for d in (1 / 24, 1, 2, 3, 5, 7, 10, 14, 21, 28, 42, 56, 91, 182, 365)
)
"""Upper bounds of the duration buckets (1 hour to 1 year); a last bucket holds the rest."""

SAFETY_TARGET_WORKING_DAYS: Final = 5
"""Veilig Thuis tells the reporter within 5 working days (background.md)."""

UNASSIGNED: Final = "(no team)"

MAX_TEAMS: Final = 200
"""Teams the ledger keeps figures of; durations of further teams count under ``OTHER_TEAMS``.

Team names are what partners write: a bound keeps the ledger, the page and ``hub kpi``
small whatever they send. A municipality has a few dozen teams.
"""
OTHER_TEAMS: Final = "(other teams)"

SWEEP_STEP: Final = 2000
"""Pairs the retention sweep looks at per round of the aggregator: about 2 ms, 20 when all expire."""
"""The team of a pair whose team the hub cannot know (an assignment or report without a known case)."""

# pair -> the KPI it measures
KPIS: Final[Mapping[str, str]] = {
    "referral": "waiting",
    "case": "throughput",
    "assignment": "time-to-start",
    "report": "veilig-thuis-response",
}


@dataclass(slots=True)
class Totals:
    """One team's figures of one KPI in one month: count, sum, bucket counts, within target."""

    count: int = 0
    sum_seconds: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_SECONDS) + 1))
    within_target: int = 0

    def add(self, seconds: float, within_target: bool) -> None:
        """Count one duration."""
        self.count += 1
        self.sum_seconds += seconds
        self.buckets[bisect.bisect_left(BUCKETS_SECONDS, seconds)] += 1
        self.within_target += within_target

    def at_most(self, share: float) -> float | None:
        """The bucket bound below which ``share`` of the durations lie; None beyond the last bound."""
        if self.count == 0:
            return None
        wanted = share * self.count
        seen = 0
        for index, n in enumerate(self.buckets):
            seen += n
            if seen >= wanted:
                return BUCKETS_SECONDS[index] if index < len(BUCKETS_SECONDS) else None
        return None

    def to_value(self) -> dict[str, Any]:
        """The JSON object of its record."""
        return {
            "count": self.count,
            "sum_seconds": self.sum_seconds,
            "buckets": self.buckets,
            "within_target": self.within_target,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> Totals:
        """Read back what ``to_value`` wrote."""
        buckets = [int(n) for n in value.get("buckets", ())]
        buckets += [0] * (len(BUCKETS_SECONDS) + 1 - len(buckets))
        return cls(
            int(value.get("count", 0)),
            float(value.get("sum_seconds", 0.0)),
            buckets,
            int(value.get("within_target", 0)),
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """A pair just completed: its KPI, team, month and duration (for the metrics)."""

    kpi: str
    team: str
    month: str
    seconds: float
    within_target: bool


Key = tuple[str, ...]
Pair = tuple[str, str]


class _Pairs(MutableMapping[Pair, dict[str, Any]]):
    """Open or done pairs, kept off the heap: one per referral, case, assignment and report.

    Each stays for the retention (two years by default), so as dicts they grew the
    hub's memory with every referral it had seen: +25 % RSS from 20,000 to 100,000
    referrals in bench/core_bench.py's memory run. Here they live in an unlinked SQLite
    file (``hub.state.DiskStore``, as the routing state does) with a small cache of
    decoded values; writes are buffered and applied in one SQLite transaction per batch
    of them.
    """

    _FLUSH_AT = 1024

    def __init__(self, store: DiskStore, prefix: str) -> None:
        self._store = store
        self._prefix = prefix
        self._pending: dict[str, dict[str, Any] | None] = {}

    def _key(self, pair: Pair) -> str:
        return f"{self._prefix}{pair[0]}\x1f{pair[1]}"

    def __getitem__(self, pair: Pair) -> dict[str, Any]:
        key = self._key(pair)
        value = self._pending[key] if key in self._pending else self._store.get(key)
        if value is None:
            raise KeyError(pair)
        return dict(value)

    def __setitem__(self, pair: Pair, value: dict[str, Any]) -> None:
        self._pending[self._key(pair)] = value
        self._flush_when_full()

    def __delitem__(self, pair: Pair) -> None:
        if pair not in self:
            raise KeyError(pair)
        self._pending[self._key(pair)] = None
        self._flush_when_full()

    def __iter__(self) -> Iterator[Pair]:
        return (pair for pair, _ in self.scan())

    def __len__(self) -> int:
        return sum(1 for _ in self.scan())

    def scan(self) -> Iterator[tuple[Pair, dict[str, Any]]]:
        """Every pair with its value, read from the file in pages (the caller may write meanwhile)."""
        self.flush()
        for key, value in self._store.scan():
            if key.startswith(self._prefix):
                kind, _, ident = key[len(self._prefix) :].partition("\x1f")
                yield (kind, ident), dict(value)

    def flush(self) -> None:
        """Apply the buffered writes to the file."""
        if self._pending:
            self._store.apply(self._pending)
            self._pending = {}

    def _flush_when_full(self) -> None:
        if len(self._pending) >= self._FLUSH_AT:
            self.flush()


class KpiLedger:
    """The aggregator's state; ``changes`` hands over what to write since the last call.

    The pairs live in a file of their own (``directory``: the routing state's, by
    default the system's temporary directory), removed when the ledger is closed.
    """

    def __init__(self, retention_ms: int, *, directory: Path | None = None) -> None:
        self._retention_ms = retention_ms
        # A small cache: a pair is read about twice in its life (its start, its end).
        self._store = DiskStore(directory, cached=256, page_cache_kib=1024)
        self.open = _Pairs(self._store, "open\x1f")
        self.done = _Pairs(self._store, "done\x1f")
        # Started pairs per kind still waiting for their completion, kept as they change:
        # counting the file's pairs after every batch would read all of them.
        self._waiting: Counter[str] = Counter()
        self._teams: set[str] = set()  # the teams with figures (at most MAX_TEAMS + the two)
        self.totals: dict[tuple[str, str, str], Totals] = {}  # (team, month, kpi)
        self.budgets: dict[tuple[str, str], dict[str, Any]] = {}  # (team, period)
        self.offsets: dict[tuple[str, int], int] = {}
        self._dirty: set[Key] = set()

    # ------------------------------------------------------------ facts

    def apply(self, fact: Fact, seen_ms: int) -> Completion | None:
        """Take one fact (``seen_ms``: when the hub received its event); a completion when it closes a pair."""
        if fact.kind == "budget" and fact.budget is not None and fact.team is not None:
            b = fact.budget
            if self._team_slot(fact.team) != fact.team:
                return None  # beyond MAX_TEAMS: one team's budget is not another's
            key = (fact.team, b.period)
            last = self.budgets.get(key)
            # Reports may arrive out of order: the one with the latest time stands.
            if last is None or datetime.fromisoformat(str(last["at"])) <= fact.at:
                self.budgets[key] = {
                    "budget_cents": b.budget_cents,
                    "committed_cents": b.committed_cents,
                    "spent_cents": b.spent_cents,
                    "at": fact.at.isoformat(),
                }
                self._dirty.add(("budget", *key))
            return None
        if fact.pair is None:
            return None
        pair = (fact.pair, fact.id)
        if pair in self.done:
            # Completed (or withdrawn) already: a repeat, a correction or a reused id.
            self._touch_done(pair, seen_ms)
            return None
        held = self.open.get(pair)
        if fact.kind == "drop":
            self._set_open(pair, None)
            self._set_done(pair, seen_ms, None)
            return None
        if fact.kind == "start":
            start = self._start_value(fact, seen_ms)
            if held is None:
                self._set_open(pair, start)
                return None
            if "end" not in held:
                return None  # the first start stands; a repeat does not move it
            end = held["end"]
            if start.get("provider") not in (None, end.get("provider")):
                self._set_open(pair, start)  # another provider's start: not this assignment's
                return None
            return self._complete(fact.pair, pair, start, end, seen_ms)
        end = {"at": fact.at.isoformat()}
        if fact.team is not None:
            end["team"] = fact.team
        if fact.provider is not None:
            end["provider"] = fact.provider
        if held is None or "end" in held:
            # Its start is not read yet (it came on another partner's topic, read further
            # behind): the completion waits for it; of several, the earliest stands.
            if held is None or datetime.fromisoformat(str(held["end"]["at"])) > fact.at:
                self._set_open(pair, {"end": end, "seen_ms": seen_ms})
            return None
        if held.get("provider") not in (None, fact.provider):
            return None  # another provider's start (the router rejects it too)
        return self._complete(fact.pair, pair, held, end, seen_ms)

    def _start_value(self, fact: Fact, seen_ms: int) -> dict[str, Any]:
        start: dict[str, Any] = {"at": fact.at.isoformat(), "seen_ms": seen_ms}
        team = fact.team or self._team_of_case(fact.case_id)
        if team is not None:
            start["team"] = team
        if fact.case_id is not None:
            start["case_id"] = fact.case_id
        if fact.provider is not None:
            start["provider"] = fact.provider
        return start

    def _complete(
        self,
        kind: str,
        pair: tuple[str, str],
        start: Mapping[str, Any],
        end: Mapping[str, Any],
        seen_ms: int,
    ) -> Completion:
        team = self._team_slot(
            str(
                end.get("team")
                or start.get("team")
                or self._team_of_case(start.get("case_id"))
                or UNASSIGNED
            )
        )
        begin = datetime.fromisoformat(str(start["at"]))
        finish = datetime.fromisoformat(str(end["at"]))
        seconds = max(0.0, (finish - begin).total_seconds())
        kpi = KPIS[kind]
        # More than a fortnight is more than 5 working days whatever the holidays; the
        # day-by-day count is never run over more.
        within = (
            kpi == "veilig-thuis-response"
            and finish - begin <= _FORTNIGHT
            and working_days(begin, finish) <= SAFETY_TARGET_WORKING_DAYS
        )
        month = month_of(finish)
        self._set_open(pair, None)
        # A case's team stays known to the assignments and reports that name it later.
        self._set_done(pair, seen_ms, team if kind == "case" else None)
        totals = self.totals.setdefault((team, month, kpi), Totals())
        totals.add(seconds, within)
        self._dirty.add(("total", team, month, kpi))
        return Completion(kpi, team, month, seconds, within)

    def _team_slot(self, team: str) -> str:
        """The team itself while the ledger knows fewer than MAX_TEAMS, else OTHER_TEAMS."""
        known = self._teams
        if team in known or len(known) < MAX_TEAMS:
            known.add(team)
            return team
        return OTHER_TEAMS

    def _team_of_case(self, case_id: object) -> str | None:
        if not isinstance(case_id, str):
            return None
        known = self.open.get(("case", case_id)) or self.done.get(("case", case_id)) or {}
        team = known.get("team")
        return team if isinstance(team, str) else None

    def _set_open(self, pair: tuple[str, str], value: dict[str, Any] | None) -> None:
        if value is None:
            if self._put_open(pair, None) is None:
                return
        else:
            self._put_open(pair, value)
        self._dirty.add(("open", *pair))

    def _put_open(self, pair: Pair, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """Set (None: remove) an open pair, keeping the waiting counts; returns the value it had."""
        old = self.open.get(pair)
        if old is not None and "end" not in old:
            self._waiting[pair[0]] -= 1
        if value is None:
            if old is not None:
                del self.open[pair]
        else:
            self.open[pair] = value
            if "end" not in value:
                self._waiting[pair[0]] += 1
        return old

    def close(self) -> None:
        """Remove the pairs' file (the ledger is not used afterwards)."""
        self._store.close()

    def _set_done(self, pair: tuple[str, str], seen_ms: int, team: str | None) -> None:
        self.done[pair] = (
            {"seen_ms": seen_ms} if team is None else {"seen_ms": seen_ms, "team": team}
        )
        self._dirty.add(("done", *pair))

    def _touch_done(self, pair: tuple[str, str], seen_ms: int) -> None:
        # The retention counts from the last event about the pair, as the routing state's does.
        if int(self.done[pair].get("seen_ms", 0)) < seen_ms:
            self.done[pair] = {**self.done[pair], "seen_ms": seen_ms}
            self._dirty.add(("done", *pair))

    def advance(self, topic: str, partition: int, next_offset: int) -> None:
        """Record that the source partition has been read up to ``next_offset``."""
        self.offsets[(topic, partition)] = next_offset
        self._dirty.add(("offsets",))

    def expire(self, now_ms: int) -> int:
        """Drop the pairs received longer ago than the retention; returns how many."""
        count, after = self.expire_step(now_ms, "")
        while after is not None:
            expired, after = self.expire_step(now_ms, after)
            count += expired
        return count

    def expire_step(
        self, now_ms: int, after: str, limit: int = SWEEP_STEP
    ) -> tuple[int, str | None]:
        """Expire among the next ``limit`` pairs after ``after``; how many, and where to go on (None: done).

        The aggregator sweeps a step per round, so a large ledger never holds the event
        loop it shares with the router for long.
        """
        self.open.flush()
        self.done.flush()
        stale: list[tuple[str, Pair]] = []
        last: str | None = None
        for n, (key, value) in enumerate(self._store.scan(after)):
            if n == limit:
                break
            last = key
            if now_ms - int(value.get("seen_ms", now_ms)) > self._retention_ms:
                which, _, rest = key.partition("\x1f")
                kind, _, ident = rest.partition("\x1f")
                stale.append((which, (kind, ident)))
        else:
            last = None  # the file's end was reached
        for which, pair in stale:
            if which == "open":
                self._set_open(pair, None)
            else:
                del self.done[pair]
                self._dirty.add(("done", *pair))
        return len(stale), last

    # ------------------------------------------------------------ the topic

    @property
    def dirty(self) -> bool:
        """Whether there is anything to write."""
        return bool(self._dirty)

    def changes(self) -> list[tuple[bytes, bytes | None]]:
        """The records to write for everything changed since the last call (None: a tombstone)."""
        out = [(to_json(list(key)), self._value(key)) for key in sorted(self._dirty)]
        self._dirty.clear()
        self.open.flush()  # one SQLite transaction per batch (both share the file)
        self.done.flush()
        return out

    def _value(self, key: Key) -> bytes | None:
        kind = key[0]
        value: Any
        if kind == "total":
            totals = self.totals.get((key[1], key[2], key[3]))
            value = None if totals is None else totals.to_value()
        elif kind == "budget":
            value = self.budgets.get((key[1], key[2]))
        elif kind == "open":
            value = self.open.get((key[1], key[2]))
        elif kind == "done":
            value = self.done.get((key[1], key[2]))
        else:
            value = {"offsets": [[t, p, o] for (t, p), o in sorted(self.offsets.items())]}
        return None if value is None else to_json(value)

    def load(self, key: bytes | None, value: bytes | None) -> None:
        """Take one record of the KPI topic, as read back on start (later records win)."""
        try:
            parts = from_json(key) if key is not None else None
        except ValueError:
            return
        if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
            return
        try:
            record = None if value is None else from_json(value)
        except ValueError:
            return
        if record is not None and not isinstance(record, dict):
            return
        match parts:
            case ["total", team, month, kpi]:
                if record is None:
                    self.totals.pop((team, month, kpi), None)
                else:
                    self.totals[(team, month, kpi)] = Totals.from_value(record)
                    self._teams.add(team)
            case ["budget", team, period]:
                if record is None:
                    self.budgets.pop((team, period), None)
                else:
                    self.budgets[(team, period)] = record
                    self._teams.add(team)
            case ["open", pair, ident]:
                self._put_open((pair, ident), record)
            case ["done", pair, ident]:
                if record is None:
                    self.done.pop((pair, ident), None)
                else:
                    self.done[(pair, ident)] = record
            case ["offsets"]:
                rows = (record or {}).get("offsets", [])
                self.offsets = {(str(t), int(p)): int(o) for t, p, o in rows}

    # ------------------------------------------------------------ reading it

    def month_report(self, month: str, team: str | None = None) -> dict[str, Any]:
        """A month's figures per team and KPI, and its budget positions (what `hub kpi` prints)."""
        rows = [
            _row(t, kpi, totals)
            for (t, m, kpi), totals in sorted(self.totals.items())
            if m == month and (team is None or t == team)
        ]
        budgets = [
            {"team": t, "period": p, **{k: v for k, v in value.items() if k != "at"}}
            for (t, p), value in sorted(self.budgets.items())
            if p == month and (team is None or t == team)
        ]
        return {"month": month, "kpis": rows, "budgets": budgets}

    def open_counts(self) -> dict[str, int]:
        """Started pairs per KPI still waiting for their completion."""
        counts = dict.fromkeys(KPIS.values(), 0)
        for pair, waiting in self._waiting.items():
            if pair in KPIS:
                counts[KPIS[pair]] += waiting
        return counts

    def teams(self) -> Iterable[str]:
        """Every team named in the totals or budgets."""
        return sorted({t for t, _, _ in self.totals} | {t for t, _ in self.budgets})


def _row(team: str, kpi: str, totals: Totals) -> dict[str, Any]:
    safety = kpi == "veilig-thuis-response"
    return {
        "team": team,
        "kpi": kpi,
        "count": totals.count,
        "mean_seconds": totals.sum_seconds / totals.count if totals.count else None,
        "median_at_most_seconds": totals.at_most(0.5),
        "p90_at_most_seconds": totals.at_most(0.9),
        "within_target": totals.within_target if safety else None,
        "within_target_share": (
            totals.within_target / totals.count if safety and totals.count else None
        ),
        "buckets": totals.buckets,
    }
