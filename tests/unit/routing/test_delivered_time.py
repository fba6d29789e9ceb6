"""A recipient gets the sender's ``time`` as sent (privacy.md: "of the same type, source and time")."""

from __future__ import annotations

import pytest

from hub.envelope import to_kafka

from .routing_helpers import InMemoryHub, example, variant

# Each a valid RFC 3339 time with an offset, written in a way Python's isoformat() would not.
SENT_TIMES = [
    "2025-03-03T09:15:00Z",
    "2025-03-03T10:42:17.000+01:00",
    "2025-03-03T09:15:00.123456789Z",
    "2025-03-03t09:15:00z",
    "2025-03-03T10:42:17+01:00",
]


@pytest.mark.parametrize("sent", SENT_TIMES)
def test_a_delivery_carries_the_time_as_its_sender_wrote_it(hub: InMemoryHub, sent: str) -> None:
    """The same text in structured mode and in the binary-mode ``ce_time`` header: not re-formatted."""
    referral = example("referrals.submitted/valid/poh-ggz-referral.json")
    referral["time"] = sent

    outcome = hub.send(referral)

    assert outcome.decision is not None
    [delivery] = outcome.decision.deliveries
    assert delivery.event.to_structured()["time"] == sent
    _key, headers, _value = to_kafka(delivery.event)
    assert ("ce_time", sent.encode()) in headers


def test_a_held_plan_replayed_later_carries_its_time_as_sent(hub: InMemoryHub) -> None:
    """A plan held until an assignment goes live is delivered then with its own time, as sent."""
    hub.upto("provisions.decided/valid/vervoer-denied.json")
    plan = variant(
        example("cases.plan-updated/valid/first-plan.json"), "plan-with-z-time", plan_version=2
    )
    plan["time"] = "2025-03-10T08:00:00.5Z"
    hub.send(plan)

    outcome = hub.send(example("assignments.issued/valid/new-outputgericht.json"))

    assert outcome.decision is not None
    [replayed] = [d for d in outcome.decision.deliveries if d.event.type == plan["type"]]
    assert replayed.event.to_structured()["time"] == "2025-03-10T08:00:00.5Z"
