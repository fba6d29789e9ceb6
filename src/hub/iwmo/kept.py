"""What the hub keeps in its routing state per 301 sent (spec iwmo.md section 6), and its keys.

Three kinds of value, written in the transaction that writes the 301's delivery, so the
changelog of the routing state has them exactly when the 301 went out:

- ``iwmo-assignment:<number>``: the ``AssignmentRecord`` of the assignment as last sent
  (its last ToegewezenProduct, provider, client pseudonym), plus ``received_on``;
- ``iwmo-client:<sha256 hex of "<provider_agb>|<client pseudonym>">``: ``{"numbers": [...],
  "received_on"}``, the client's assignments with a 301 sent to that provider (the key
  holds no pseudonym, so it links nothing outside the state);
- ``iwmo-301:<provider_agb>:<identificatie>``: a ``Sent301``, what a 302 must name and
  where its outcome belongs.

Numbers are as issued (``assignment_number``). Every value has ``received_on``: the date the
hub received the event the 301 was rendered from (retention counts from it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from hub.iwmo.outbound import AssignmentRecord
from hub.state.store import StateView

__all__ = [
    "ASSIGNMENT_RECORD_PREFIX",
    "CLIENT_INDEX_PREFIX",
    "SENT_301_PREFIX",
    "Sent301",
    "assignment_record_key",
    "client_index_key",
    "client_numbers",
    "kept_record",
    "sent_301",
    "sent_301_key",
]

ASSIGNMENT_RECORD_PREFIX: Final = "iwmo-assignment"
CLIENT_INDEX_PREFIX: Final = "iwmo-client"
SENT_301_PREFIX: Final = "iwmo-301"


def assignment_record_key(number: str) -> str:
    """The key of an assignment's kept ``AssignmentRecord`` (the number as issued)."""
    return f"{ASSIGNMENT_RECORD_PREFIX}:{number}"


def client_index_key(provider_agb: str, client: str) -> str:
    """The key of a client's assignments at a provider: a digest, no pseudonym in the key."""
    digest = hashlib.sha256(f"{provider_agb}|{client}".encode()).hexdigest()
    return f"{CLIENT_INDEX_PREFIX}:{digest}"


def sent_301_key(provider_agb: str, identificatie: str) -> str:
    """The key of a 301 sent: its Ontvanger and Identificatie (the Afzender is the municipality)."""
    return f"{SENT_301_PREFIX}:{provider_agb}:{identificatie}"


@dataclass(frozen=True, slots=True)
class Sent301:
    """A 301 the hub sent: what a 302 must name, and the delivery it went out as.

    ``gemeentecode`` is its Afzender, ``provider_agb`` its Ontvanger. ``numbers`` are the
    ToewijzingNummers it lists (the event's own first), ``event_source``/``event_id`` the
    ``assignments.issued`` it was rendered from, ``delivery_id``/``disclosure_id`` its
    delivery and disclosure record, ``sent_on`` the ISO date it was released (the receipt
    date of its event: the 3 working days of OP090 count from it).
    """

    gemeentecode: str
    provider_agb: str
    identificatie: str
    numbers: tuple[str, ...]
    event_source: str
    event_id: str
    delivery_id: str
    disclosure_id: str
    sent_on: str

    @property
    def key(self) -> str:
        """Its routing-state key."""
        return sent_301_key(self.provider_agb, self.identificatie)

    def as_json(self) -> dict[str, Any]:
        """The routing-state value (with ``received_on``, equal to ``sent_on``)."""
        return {
            "gemeentecode": self.gemeentecode,
            "provider_agb": self.provider_agb,
            "identificatie": self.identificatie,
            "numbers": list(self.numbers),
            "event_source": self.event_source,
            "event_id": self.event_id,
            "delivery_id": self.delivery_id,
            "disclosure_id": self.disclosure_id,
            "sent_on": self.sent_on,
            "received_on": self.sent_on,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sent301:
        """Read ``as_json``'s form."""
        return cls(
            gemeentecode=str(data["gemeentecode"]),
            provider_agb=str(data["provider_agb"]),
            identificatie=str(data["identificatie"]),
            numbers=tuple(str(n) for n in data["numbers"]),
            event_source=str(data["event_source"]),
            event_id=str(data["event_id"]),
            delivery_id=str(data["delivery_id"]),
            disclosure_id=str(data["disclosure_id"]),
            sent_on=str(data["sent_on"]),
        )


def kept_record(state: StateView, number: str) -> AssignmentRecord | None:
    """The ``AssignmentRecord`` kept for an assignment (number as issued), if a 301 was sent."""
    value = state.get(assignment_record_key(number))
    return None if value is None else AssignmentRecord.from_json(value)


def client_numbers(state: StateView, provider_agb: str, client: str) -> tuple[str, ...]:
    """The numbers of the client's assignments with a 301 sent to this provider."""
    value = state.get(client_index_key(provider_agb, client))
    return () if value is None else tuple(str(n) for n in value.get("numbers", ()))


def sent_301(state: StateView, provider_agb: str, identificatie: str) -> Sent301 | None:
    """The 301 sent to this provider under this Identificatie, if any."""
    value = state.get(sent_301_key(provider_agb, identificatie))
    return None if value is None else Sent301.from_json(value)
