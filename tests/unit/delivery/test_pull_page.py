"""A pull page skips what it cannot send, so the partner's cursor always moves on."""

from __future__ import annotations

import json

from aiokafka.structs import ConsumerRecord

from hub.connectors.registry import Partner, PullDelivery
from hub.delivery.pull import _batch
from hub.envelope import to_kafka

PARTNER = Partner(id="p", role="backoffice", source="urn:nld:oin:p", delivery=PullDelivery())
EVENT = {
    "specversion": "1.0",
    "id": "d-1",
    "source": "urn:nld:oin:00000001234567890000:systeem:wijkteam",
    "type": "nl.sociaaldomein.referrals.submitted.v1",
    "time": "2025-03-03T09:15:00Z",
    "subject": "S",
    "datacontenttype": "application/json",
    "data": {"a": 1},
}


def record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    key, headers, _ = to_kafka({**EVENT, "id": f"d-{offset}"})
    return ConsumerRecord("t.deliveries.p", 0, offset, 0, 0, key, value, None, 0, 0, headers)


def test_a_record_whose_data_has_no_utf_8_is_skipped_not_a_failing_page() -> None:
    """A lone surrogate decodes from JSON but cannot be sent: skipped, and the others are sent."""
    body, count = _batch(
        [record(1, b'{"a":1}'), record(3, b'{"a":"\\ud800"}'), record(5, b'{"a":2}')], PARTNER
    )
    assert count == 2
    assert [e["id"] for e in json.loads(body)] == ["d-1", "d-5"]
