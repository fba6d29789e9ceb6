"""Tamper evidence on the real broker: the router chains the disclosure log; verify reads the topic.

The example chain goes through `hub run`'s router in two runs (the chain heads come back
from the state changelog after a restart); ``hub audit verify --topic``'s check finds the
topic intact, with signed checkpoints, and names a record forged onto the topic.
"""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer

from hub.audit.verify import public_keys, verify_topic
from hub.kafka.clients import client_options
from hub.settings import AuditSettings
from hub.testing import scenario, sender_of

from .hubtest import isolated_settings, running_hub


async def test_the_chain_survives_a_restart_and_a_forged_record_is_named(
    kafka_bootstrap: str,
) -> None:
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    settings.audit = AuditSettings(store_url=settings.audit.store_url, checkpoint_every=3)
    events = scenario()
    half = len(events) // 2
    for part in (events[:half], events[half:]):
        async with running_hub(settings) as hub:
            for event in part:
                await hub.send(sender_of(event, hub.hub.registry).id, [event])
            await hub.wait_for_status(part)
    keys = public_keys(settings.audit)

    intact = await verify_topic(settings.kafka, keys)

    assert intact.breaks == ()
    assert intact.records > 20
    assert intact.checkpoints > 3
    assert intact.chains >= 3  # one per sending partner's inbound partition

    async with running_hub(settings) as hub:
        [record] = [
            r
            for r in await hub.settle([hub.layout.disclosures], idle_seconds=2)
            if b'"seq":2,' in (r.value or b"") and b"record_type" not in (r.value or b"")
        ][:1]
    forged = json.loads(record.value or b"")
    forged["disclosure_id"] = "00000000-0000-5000-8000-00000000f0f0"
    producer = AIOKafkaProducer(**client_options(settings.kafka), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            hub.layout.disclosures, json.dumps(forged).encode(), key=b"forged"
        )
    finally:
        await producer.stop()

    tampered = await verify_topic(settings.kafka, keys)

    assert [(b.kind, b.chain, b.seq) for b in tampered.breaks] == [("inserted", forged["chain"], 2)]
