"""Delivery and disclosure ids are the UUIDv5 of (source, id, recipient, assignment), as always."""

from __future__ import annotations

import uuid

import pytest

from hub.routing.ids import delivery_id, disclosure_id

DELIVERY = uuid.UUID("5b0e2f4e-8a43-4a63-9d5c-2f9c1f0a7d11")
DISCLOSURE = uuid.UUID("c7d2a9e1-3f5b-4e8c-b6a0-91d4e2f8a356")


@pytest.mark.parametrize(
    ("source", "event_id", "recipient", "number"),
    [
        ("urn:nld:agb:01234567", "46353c21-8c1b-55e2-aae5-e98bd607ae35", "swt-zwolle", None),
        ("urn:nld:oin:1:swt", "plan-2", "zorg-de-brug", "25000107"),
        ("s", "é-ü", "r", ""),
    ],
)
def test_ids_equal_the_standard_uuid5(
    source: str, event_id: str, recipient: str, number: str | None
) -> None:
    """The hand-built UUIDv5 text is exactly str(uuid.uuid5(namespace, name))."""
    name = "\x1f".join((source, event_id, recipient, number or ""))
    assert delivery_id(source, event_id, recipient, number) == str(uuid.uuid5(DELIVERY, name))
    assert disclosure_id(source, event_id, recipient, number) == str(uuid.uuid5(DISCLOSURE, name))
