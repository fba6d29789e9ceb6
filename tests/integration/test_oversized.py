"""One event Kafka or the contract cannot take never stops the hub (issue finding 1)."""

from __future__ import annotations

import json
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub.dev.partner_io import binary_mode
from hub.errors import ErrorCode

from .hubtest import HubUnderTest, isolated_settings, running_hub
from .test_pipeline import event_of, referral

OUTCOMES = "nl.sociaaldomein.outcomes.reported.v1"
PROVISION = "nl.sociaaldomein.provisions.requested.v1"


def _huge_outcome_report(indicators: int) -> dict[str, object]:
    """A schema-shaped outcome report made large by thousands of indicators (the finding's 924 KB)."""
    event = event_of(OUTCOMES)
    result = dict(event["data"]["results"][0])  # type: ignore[index]
    result["indicators"] = {f"indicator-{n:06d}-{'x' * 60}": n for n in range(indicators)}
    event["data"]["results"] = [result]  # type: ignore[index]
    return event


async def _produce_raw(hub: HubUnderTest, partner: str, event: dict[str, object]) -> None:
    """Produce as a partner's own Kafka client would, with a producer allowed big records."""
    producer = AIOKafkaProducer(
        bootstrap_servers=hub.kafka.bootstrap_servers, acks="all", max_request_size=2_000_000
    )
    await producer.start()
    try:
        key, headers, value = binary_mode(event)
        await producer.send_and_wait(
            hub.layout.inbound(partner), value=value, key=key, headers=list(headers)
        )
    finally:
        await producer.stop()


async def test_an_oversized_event_is_dead_lettered_by_reference_and_others_keep_flowing(
    kafka_bootstrap: str,
) -> None:
    """A 900 KB event on Kafka is dead-lettered EVENT_TOO_LARGE without a copy; the next partner's referral is delivered."""
    async with running_hub(isolated_settings(kafka_bootstrap)) as hub:
        huge = _huge_outcome_report(indicators=11_000)
        assert len(json.dumps(huge)) > 900_000
        await _produce_raw(hub, "provider-thuiszorg-zwolle", huge)
        ok = referral(f"REF-{uuid.uuid4().hex[:8]}")
        await hub.send("gp-de-linde", [ok])
        delivered = await hub.collect([hub.deliveries_topic("swt-zwolle")], lambda rs: len(rs) >= 1)
        dead = await hub.collect([hub.layout.deadletter], lambda rs: len(rs) >= 1)
        await hub.wait_for_status([huge])
        status = await hub.settle([hub.layout.status], idle_seconds=1.0)

    assert [r.event()["subject"] for r in delivered] == [ok["subject"]]
    letter = dead[0].json()
    assert letter["reason"]["code"] == ErrorCode.EVENT_TOO_LARGE.value
    assert letter["record"] is None
    assert letter["digest"]["bytes"] > 900_000
    assert len(dead[0].value or b"") < 4096
    assert letter["event_id"] == huge["id"]
    (record,) = [r.json() for r in status if r.key == f"{huge['source']} {huge['id']}".encode()]
    assert (record["status"], record["codes"]) == ("dead-lettered", ["EVENT_TOO_LARGE"])


async def test_an_event_whose_delivery_kafka_refuses_is_isolated_and_dead_lettered(
    kafka_bootstrap: str,
) -> None:
    """When Kafka refuses one event's delivery (too large for its topic), that event is dead-lettered and the rest of its batch is delivered."""
    settings = isolated_settings(kafka_bootstrap)
    async with running_hub(settings) as hub:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.alter_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC,
                        hub.deliveries_topic("swt-zwolle"),
                        configs={"max.message.bytes": "512"},
                    )
                ]
            )
        finally:
            await admin.close()
        before = event_of(PROVISION, request_id=f"REQ-{uuid.uuid4().hex[:8]}")
        refused = referral(f"REF-{uuid.uuid4().hex[:8]}")
        after = event_of(PROVISION, request_id=f"REQ-{uuid.uuid4().hex[:8]}")
        # One batch: a request, the referral Kafka will refuse, another request.
        await hub.send("swt-zwolle", [before])
        await hub.send("gp-de-linde", [refused])
        await hub.send("swt-zwolle", [after])
        await hub.wait_for_status([before, refused, after])
        backoffice = await hub.settle([hub.deliveries_topic("backoffice-zwolle")], 2.0)
        swt = await hub.settle([hub.deliveries_topic("swt-zwolle")], idle_seconds=0.5)
        dead = await hub.settle([hub.layout.deadletter], idle_seconds=0.5)
        disclosures = await hub.settle([hub.layout.disclosures], idle_seconds=0.5)

    # Exactly once each: the refusal neither aborted the others nor released them twice.
    assert sorted(r.event()["subject"] for r in backoffice) == sorted(
        [before["subject"], after["subject"]]
    )
    assert swt == []
    assert [r.json()["event_id"] for r in dead] == [refused["id"]]
    letter = dead[0].json()
    assert letter["reason"]["code"] == ErrorCode.PROCESSING_FAILED.value
    assert letter["record"] is None
    # No disclosure record of a release that did not happen; one per real release.
    logged = [r.json() for r in disclosures]
    assert [d["event_id"] for d in logged if d["event_id"] == refused["id"]] == []
    assert sorted(d["event_id"] for d in logged) == sorted([before["id"], after["id"]])
