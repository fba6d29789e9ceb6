"""The gateway's iWmo state, fed from Kafka: ``IwmoState`` plus the 301s sent and their 302s.

Three compacted topics feed it (``hub.roles.provider.iwmo.IwmoTail`` reads them):

- the router's routing-state changelog, of which only ``assignment:<number>`` (the care
  family's assignments) and keys starting ``iwmo-`` are kept: ``iwmo-assignment:<number>``
  (an ``AssignmentRecord`` as JSON) and ``iwmo-301:<provider_agb>:<identificatie>`` (a 301
  sent; its value is not read, the record's timestamp is when it was sent);
- the gateway's own ``<prefix>.iwmo``: ``iwmo-care:<number>`` (``CareDeliveries``),
  ``iwmo-used:<sha256(afzender|bericht code|identificatie)>`` (a receipt without the retour:
  digest, accepted, codes) and ``iwmo-302:<provider_agb>:<identificatie>`` (a 302's outcome);
- ``<prefix>.iwmo-receipts``: the retour under the receipt's key (it echoes the client).

No key holds personal data: numbers, AGBs, codes and Identificaties only. The functions
here are pure; the records an answer stores are built by ``answer_records`` and
``outcome_record`` and applied to the book after their transaction commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.envelope import AMSTERDAM
from hub.iwmo.inbound import CareAnswer
from hub.iwmo.memory import CareOf, MemoryIwmoState
from hub.iwmo.model import AssignmentRetour
from hub.iwmo.outbound import AssignmentRecord
from hub.iwmo.state import AssignmentFacts, CareDeliveries, UsedIdentificatie

__all__ = [
    "ASSIGNMENT_RECORD_PREFIX",
    "CARE_PREFIX",
    "IWMO_PREFIX",
    "OUTCOME_PREFIX",
    "SENT_301_PREFIX",
    "USED_PREFIX",
    "IwmoBook",
    "Overdue",
    "Wmo301Retour",
    "add_working_days",
    "answer_records",
    "care_key",
    "outcome_key",
    "outcome_record",
    "used_key",
]

IWMO_PREFIX = "iwmo-"
"""With the care family's assignments, the routing-state keys the gateway keeps."""
SENT_301_PREFIX = "iwmo-301:"
"""``iwmo-301:<provider_agb>:<identificatie>``: written by the router for each 301 sent."""
ASSIGNMENT_RECORD_PREFIX = "iwmo-assignment:"
"""``iwmo-assignment:<number>``: the router's ``AssignmentRecord`` of a translated assignment."""
CARE_PREFIX = "iwmo-care:"
USED_PREFIX = "iwmo-used:"
OUTCOME_PREFIX = "iwmo-302:"

Encoded = bytes
"""A record's value as JSON bytes (decoded when read: the bytes are far smaller)."""


def care_key(number: str) -> str:
    """``iwmo-care:<number>``: the care a provider delivered for one assignment."""
    return f"{CARE_PREFIX}{number}"


def used_key(afzender: str, bericht_code: int, identificatie: str) -> str:
    """``iwmo-used:<sha256 of afzender|code|identificatie>``: a 305/307 received (TR056, replay).

    Hashed: the Identificatie is text the sender chose (nine digits could be a BSN), and a
    key outlives its value's checks.
    """
    name = f"{afzender}|{bericht_code}|{identificatie}"
    return f"{USED_PREFIX}{hashlib.sha256(name.encode()).hexdigest()}"


def outcome_key(provider_agb: str, identificatie: str) -> str:
    """``iwmo-302:<provider_agb>:<identificatie>``: the 302 answering a 301 (as the 301's key)."""
    return f"{OUTCOME_PREFIX}{provider_agb}:{identificatie}"


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def answer_records(
    answer: CareAnswer, at: datetime
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """What an answer stores: (records of ``<prefix>.iwmo``, records of ``<prefix>.iwmo-receipts``).

    The care records only on approval; the receipt for every answer that is neither a
    replay nor to other bytes under a used Identificatie (``CareAnswer.receipt_to_keep``).
    """
    own: list[tuple[str, bytes]] = []
    receipts: list[tuple[str, bytes]] = []
    if answer.accepted:
        own += [(care_key(n), _json(record)) for n, record in answer.deliveries.items()]
    receipt = answer.receipt_to_keep
    if receipt is not None:
        key = used_key(receipt.afzender, receipt.bericht_code, receipt.identificatie)
        stamp = at.astimezone(UTC).isoformat()
        own.append(
            (
                key,
                _json(
                    {
                        "digest": receipt.digest,
                        "accepted": receipt.accepted,
                        "at": stamp,
                        "retourcodes": {k: list(v) for k, v in answer.retourcodes.items()},
                        "findings": [f.as_dict() for f in answer.findings],
                    }
                ),
            )
        )
        receipts.append((key, _json({"retour": receipt.retour.decode("utf-8"), "at": stamp})))
    return own, receipts


def outcome_record(retour: AssignmentRetour, at: datetime) -> tuple[str, bytes]:
    """The record a matched 302 stores: its outcome and the codes per rejected number."""
    value = {
        "outcome": retour.outcome,
        "rejected": {n: list(codes) for n, codes in retour.rejected_numbers.items()},
        "at": at.astimezone(UTC).isoformat(),
    }
    return outcome_key(retour.ontvanger, retour.identificatie), _json(value)


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (Monday to Friday; public holidays not known)."""
    moment = start.astimezone(AMSTERDAM)
    left = days
    while left:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


@dataclass(frozen=True, slots=True)
class Wmo301Retour:
    """A 301 sent to a provider, and what its 302 said (``awaiting`` until one came)."""

    provider_agb: str
    identificatie: str
    retour: str
    """``awaiting``, ``acknowledged`` or ``rejected``."""
    rejected: Mapping[str, Sequence[str]] = field(default_factory=dict)
    at: str | None = None
    """When the 302 was received (RFC 3339), or None."""

    def as_dict(self) -> dict[str, Any]:
        """The ``iwmo`` item of GET /events/{id}."""
        return {
            "provider_agb": self.provider_agb,
            "identificatie": self.identificatie,
            "retour": self.retour,
            "rejected": {n: list(codes) for n, codes in self.rejected.items()},
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class Overdue:
    """A 301 without a 302 past its deadline."""

    provider_agb: str
    identificatie: str


class _EncodedView:
    """A ``StateView`` over JSON bytes: values are decoded when read."""

    def __init__(self) -> None:
        self.data: dict[str, Encoded] = {}

    def get(self, key: str) -> Mapping[str, Any] | None:
        encoded = self.data.get(key)
        if encoded is None:
            return None
        value: Mapping[str, Any] = json.loads(encoded)
        return value

    def keys_with_prefix(self, prefix: str) -> Iterator[str]:
        return (key for key in list(self.data) if key.startswith(prefix))

    def scan(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for key in list(self.data):
            value = self.get(key)
            if value is not None:
                yield key, value


class IwmoBook:
    """The gateway's iWmo view: an ``IwmoState`` for the checks, the 301s sent and their 302s.

    The assignment and care reads are ``MemoryIwmoState``'s, over the kept routing-state
    keys and the care records; the receipts are this book's own, so that a retour older
    than ``replay_days`` is no longer replayed (the same bytes then get 9056).
    """

    def __init__(
        self,
        *,
        assignment_key: Callable[[str], str],
        care_starts: CareOf,
        replay_days: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._kept = (assignment_key(""), IWMO_PREFIX)
        self._key = assignment_key
        self._care_starts = care_starts
        self._assignment_prefix = assignment_key("")
        self._replay = timedelta(days=replay_days)
        self._clock = clock
        self._alerted: set[tuple[str, str]] = set()
        self.reset()

    def reset(self) -> None:
        """Forget every record (before the topics are read again from the start).

        Which overdue 301s were already named is kept, so a re-read names none twice.
        """
        self._routing = _EncodedView()
        self._memory = MemoryIwmoState(self._routing, self._key, self._care_starts)
        self._memory.by_number = {}
        self._used: dict[str, Mapping[str, Any]] = {}
        self._retours: dict[str, tuple[bytes, datetime]] = {}
        self._sent: dict[tuple[str, str], datetime] = {}
        self._by_identificatie: dict[str, set[str]] = {}
        self._outcomes: dict[tuple[str, str], Mapping[str, Any]] = {}

    # ------------------------------------------------------------------ IwmoState

    def assignment(self, number: int) -> AssignmentFacts | None:
        """The issued assignment whose number equals ``number`` as an integer."""
        return self._memory.assignment(number)

    def deliveries(self, assignment_number: str) -> CareDeliveries:
        """The kept care record (else the care the routing state knows from JSON events)."""
        return self._memory.deliveries(assignment_number)

    def used_identificatie(
        self, afzender: str, bericht_code: int, identificatie: str
    ) -> UsedIdentificatie | None:
        """The earlier message under this Identificatie; its retour while it is kept."""
        key = used_key(afzender, bericht_code, identificatie)
        used = self._used.get(key)
        if used is None:
            return None
        kept = self._retours.get(key)
        retour = None
        if kept is not None and kept[1] + self._replay > self._clock():
            retour = kept[0]
        return UsedIdentificatie(str(used["digest"]), retour, bool(used["accepted"]))

    # ------------------------------------------------------------------ 301s and 302s

    def sent_301(self, provider_agb: str, identificatie: str) -> bool:
        """True when the router recorded a 301 with this Identificatie sent to this provider."""
        return (provider_agb, identificatie) in self._sent

    def retours_of(self, identificatie: str) -> list[Wmo301Retour]:
        """The 301s with this Identificatie (one per provider) and what their 302 said."""
        found = []
        for agb in sorted(self._by_identificatie.get(identificatie, ())):
            outcome = self._outcomes.get((agb, identificatie))
            if outcome is None:
                found.append(Wmo301Retour(agb, identificatie, "awaiting"))
            else:
                found.append(
                    Wmo301Retour(
                        agb,
                        identificatie,
                        str(outcome["outcome"]),
                        {str(n): tuple(c) for n, c in (outcome.get("rejected") or {}).items()},
                        outcome.get("at"),
                    )
                )
        return found

    def overdue(self, now: datetime, working_days: int) -> list[Overdue]:
        """301s without a 302 ``working_days`` after they were sent, each named once."""
        found = []
        for (agb, identificatie), sent_at in self._sent.items():
            key = (agb, identificatie)
            if key in self._outcomes or key in self._alerted:
                continue
            if add_working_days(sent_at, working_days) <= now:
                self._alerted.add(key)
                found.append(Overdue(agb, identificatie))
        return found

    @property
    def sent_count(self) -> int:
        """How many 301s sent the book knows."""
        return len(self._sent)

    # ------------------------------------------------------------------ applying records

    def apply_state(self, key: str, value: bytes | None, timestamp_ms: int) -> None:
        """One routing-state changelog record (None deletes); keys not needed are skipped."""
        if not key.startswith(self._kept):
            return
        if key.startswith(SENT_301_PREFIX):
            agb, _, identificatie = key.removeprefix(SENT_301_PREFIX).partition(":")
            if value is None:
                self._sent.pop((agb, identificatie), None)
                self._by_identificatie.get(identificatie, set()).discard(agb)
            else:
                self._sent[(agb, identificatie)] = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
                self._by_identificatie.setdefault(identificatie, set()).add(agb)
            return
        if key.startswith(ASSIGNMENT_RECORD_PREFIX):
            number = key.removeprefix(ASSIGNMENT_RECORD_PREFIX)
            if value is None:
                self._memory.records.pop(number, None)
            else:
                self._memory.records[number] = AssignmentRecord.from_json(json.loads(value))
            return
        if value is None:
            self._routing.data.pop(key, None)
        else:
            self._routing.data[key] = value
        self._index(key, present=value is not None)

    def _index(self, key: str, *, present: bool) -> None:
        """Keep the assignments' numbers by value, for look-ups without a scan."""
        if not key.startswith(self._assignment_prefix):
            return
        issued = key.removeprefix(self._assignment_prefix)
        if not issued.isdigit():
            return
        by_number = self._memory.by_number
        assert by_number is not None
        numbers = by_number.setdefault(int(issued), set())
        if present:
            numbers.add(issued)
        else:
            numbers.discard(issued)
            if not numbers:
                del by_number[int(issued)]

    def apply_own(self, key: str, value: bytes | None) -> None:
        """One record of ``<prefix>.iwmo`` (None deletes)."""
        if key.startswith(CARE_PREFIX):
            number = key.removeprefix(CARE_PREFIX)
            if value is None:
                self._memory.care.pop(number, None)
            else:
                self._memory.care[number] = json.loads(value)
        elif key.startswith(USED_PREFIX):
            if value is None:
                self._used.pop(key, None)
            else:
                self._used[key] = json.loads(value)
        elif key.startswith(OUTCOME_PREFIX):
            agb, _, identificatie = key.removeprefix(OUTCOME_PREFIX).partition(":")
            if value is None:
                self._outcomes.pop((agb, identificatie), None)
            else:
                self._outcomes[(agb, identificatie)] = json.loads(value)

    def apply_receipt(self, key: str, value: bytes | None) -> None:
        """One record of ``<prefix>.iwmo-receipts``: a retour (None deletes)."""
        if value is None:
            self._retours.pop(key, None)
            return
        stored = json.loads(value)
        at = datetime.fromisoformat(stored["at"])
        self._retours[key] = (str(stored["retour"]).encode("utf-8"), at)
