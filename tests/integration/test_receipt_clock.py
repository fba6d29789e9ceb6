"""Memory counts from receipt, never from the sender's clock (issue finding 6)."""

from __future__ import annotations

import uuid

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub.app import build_hub
from hub.router import ensure_topics

from .hubtest import isolated_settings, running_hub
from .test_pipeline import STATUS, event_of, referral

_OLD = "2024-06-03T09:00:00+02:00"  # more than the two-year state retention ago


async def test_events_dated_years_back_are_remembered_across_a_restart(
    kafka_bootstrap: str,
) -> None:
    """A referral and status dated 2024 survive the start-up sweep: a resent status is a duplicate, a new one reaches the GP."""
    settings = isolated_settings(kafka_bootstrap)
    referral_id = f"REF-{uuid.uuid4().hex[:8]}"
    sent = referral(referral_id)
    sent["data"]["consent"]["recorded_on"] = "2024-06-01"
    first = event_of(STATUS, referral_id=referral_id, status="received", status_on="2024-06-03")
    second = event_of(STATUS, referral_id=referral_id, status="in-progress", status_on="2024-06-04")
    for event in (sent, first, second):
        event["time"] = _OLD
        event["data"].pop("case_id", None)

    async with running_hub(settings) as hub:
        await hub.send("gp-de-linde", [sent])
        await hub.send("swt-zwolle", [first])
        await hub.wait_for_status([sent, first])

    # A restart sweeps the state at start: nothing here is past retention counted from receipt.
    async with running_hub(settings) as hub:
        await hub.send("swt-zwolle", [first, second])
        await hub.wait_for_status([second])
        gp = await hub.settle([hub.deliveries_topic("gp-de-linde")], idle_seconds=2.0)
        status = await hub.settle([hub.layout.status], idle_seconds=0.5)

    assert [r.event()["data"]["status"] for r in gp] == ["received", "in-progress"]
    latest = {r.key: r.json() for r in status if r.value is not None}
    assert latest[f"{first['source']} {first['id']}".encode()]["status"] == "delivered"


async def test_inbound_topics_the_hub_creates_take_the_brokers_time_and_old_ones_are_named(
    kafka_bootstrap: str,
) -> None:
    """New inbound topics are LogAppendTime; an existing CreateTime one is named in a warning."""
    settings = isolated_settings(kafka_bootstrap)
    hub = build_hub(settings)
    layout = hub.layout
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        old = layout.inbound("gp-de-linde")
        await admin.create_topics([NewTopic(old, 1, 1)])  # as a 0.1.0 hub made it
        with structlog.testing.capture_logs() as logs:
            await ensure_topics(settings.kafka, layout, hub.registry)
        (described,) = await admin.describe_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    layout.inbound("swt-zwolle"),
                    {"message.timestamp.type": None},
                )
            ]
        )
    finally:
        await admin.close()
    assert described.resources[0][4][0][1] == "LogAppendTime"
    warnings = [e for e in logs if e["event"] == "inbound_topics_create_time"]
    assert [w["topics"] for w in warnings] == [[old]]
