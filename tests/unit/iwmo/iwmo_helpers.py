"""Helpers for the iWmo translator tests: the example documents and an in-memory hub state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from hub.iwmo.inbound import Receipt, ReceiptContext
from hub.iwmo.model import ProductRef
from hub.iwmo.state import AssignmentFacts, CareDeliveries, UsedIdentificatie

DATA = Path(__file__).parent / "data"
PROVIDER_AGB = "73730001"
PROVIDER_SOURCE = "urn:nld:agb:73730001"
GEMEENTECODE = "0193"
CLIENT_BSN = "999900031"


def document(name: str) -> bytes:
    """An example document's bytes."""
    return (DATA / name).read_bytes()


def pseudonymise(bsn: str) -> str:
    """A stand-in for the keyed pseudonymiser (tests need no secret)."""
    return hashlib.sha256(f"test|{bsn}".encode()).hexdigest()


def assignment(number: str = "26000311", **changes: object) -> AssignmentFacts:
    """The example client's assignment, with ``changes``."""
    values: dict[str, object] = {
        "number": number,
        "provider_agb": PROVIDER_AGB,
        "status": "new",
        "law": "wmo",
        "product": ProductRef("03", "03B12"),
        "period_start": date(2026, 9, 1),
        "period_end": date(2027, 8, 31),
        "budget": False,
        "clients": frozenset({pseudonymise(CLIENT_BSN)}),
    }
    values.update(changes)
    return AssignmentFacts(**values)  # type: ignore[arg-type]


@dataclass
class MemoryState:
    """IwmoState over dicts; ``store`` keeps what an answer says to keep."""

    assignments: dict[int, AssignmentFacts] = field(default_factory=dict)
    records: dict[str, CareDeliveries] = field(default_factory=dict)
    receipts: dict[tuple[str, int, str], UsedIdentificatie] = field(default_factory=dict)

    def assignment(self, number: int) -> AssignmentFacts | None:
        return self.assignments.get(number)

    def deliveries(self, assignment_number: str) -> CareDeliveries:
        return self.records.get(assignment_number, {"starts": []})

    def used_identificatie(
        self, afzender: str, bericht_code: int, identificatie: str
    ) -> UsedIdentificatie | None:
        return self.receipts.get((afzender, bericht_code, identificatie))

    def store(self, receipt: Receipt | None, deliveries: dict[str, CareDeliveries]) -> None:
        if receipt is not None:
            key = (receipt.afzender, receipt.bericht_code, receipt.identificatie)
            self.receipts[key] = UsedIdentificatie(receipt.digest, receipt.retour, receipt.accepted)
        self.records.update(deliveries)


def hub_state() -> MemoryState:
    """A hub that issued the example client's two assignments to the example provider."""
    return MemoryState(
        assignments={
            26000311: assignment(),
            26000312: assignment("26000312", product=ProductRef("06", "06A01")),
        }
    )


def context(day: str = "2026-11-29T10:15:00+01:00") -> ReceiptContext:
    """A receipt by the example provider at ``day``."""
    return ReceiptContext(
        received_at=datetime.fromisoformat(day),
        source=PROVIDER_SOURCE,
        gemeentecode=GEMEENTECODE,
        pseudonymise=pseudonymise,
    )
