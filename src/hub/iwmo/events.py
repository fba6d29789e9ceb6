"""An approved 305/307 as CloudEvents: one ``care.started``/``care.stopped`` per item (section 4).

Not carried (OP039: only keys are checked): Bsn, Geboortedatum, Geslacht, Naam,
ToewijzingIngangsdatum and a stop's Begindatum.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.iwmo.model import CareItem, CareMessage
from hub.iwmo.state import AssignmentFacts

__all__ = ["CARE_STARTED", "CARE_STOPPED", "IWMO_NAMESPACE", "care_events", "event_id"]

IWMO_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:nl-sociaaldomein-hub:iwmo")
"""The UUIDv5 namespace of event ids made from iWmo items."""

CARE_STARTED = "nl.sociaaldomein.care.started.v1"
CARE_STOPPED = "nl.sociaaldomein.care.stopped.v1"

_DELIVERY_STATUS = {"1": "new", "3": "deleted"}


def event_id(
    afzender: str, bericht_code: int, identificatie: str, number: int, position: int
) -> str:
    """UUIDv5 of ``<Afzender>/<BerichtCode>/<Identificatie>/<ToewijzingNummer>/<n>``."""
    name = f"{afzender}/{bericht_code}/{identificatie}/{number}/{position}"
    return str(uuid.uuid5(IWMO_NAMESPACE, name))


def _product(facts: AssignmentFacts) -> dict[str, str]:
    product = {"category": facts.product.category}
    if facts.product.code is not None:
        product["code"] = facts.product.code
    return product


def _event(
    message: CareMessage, item: CareItem, facts: AssignmentFacts, source: str, time: str
) -> dict[str, Any]:
    header = message.header
    assert item.assignment_number is not None  # an approved item always names one
    data: dict[str, Any] = {
        "assignment_number": facts.number,
        "provider_agb": header.afzender,
        "product": _product(facts),
    }
    if message.is_start:
        data["started_on"] = item.begin.isoformat()
    else:
        assert item.end is not None
        data["stopped_on"] = item.end.isoformat()
        data["reason"] = item.reason
    data["delivery_status"] = _DELIVERY_STATUS[item.status]
    return {
        "specversion": "1.0",
        "id": event_id(
            header.afzender,
            header.kind.bericht_code,
            header.identificatie,
            item.assignment_number,
            item.position,
        ),
        "source": source,
        "type": CARE_STARTED if message.is_start else CARE_STOPPED,
        "time": time,
        "subject": facts.number,
        "datacontenttype": "application/json",
        "data": data,
    }


def care_events(
    message: CareMessage,
    matched: Mapping[int, AssignmentFacts],
    *,
    source: str,
    received_at: datetime,
) -> list[dict[str, Any]]:
    """The events of an approved message, in document order; ``source`` is the provider's URN."""
    if received_at.tzinfo is None:
        raise ValueError("received_at needs a time zone")
    time = received_at.isoformat()
    return [_event(message, item, matched[item.position], source, time) for item in message.items]
