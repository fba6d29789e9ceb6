"""LagMonitor against a real broker: every recipient's backlog lands in its own gauge, read side by side."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.kafka.lag import LagReader
from hub.monitor import LagMonitor
from hub.observability import metrics
from hub.testing import many_webhook_partners
from hub.topics import TopicLayout

from .hubtest import isolated_settings

PARTNERS = 12  # more than the monitor reads at once


async def test_each_partners_backlog_lands_in_its_own_gauge(kafka_bootstrap: str) -> None:
    """Partner n has n + 1 deliveries waiting (in transactions): its backlog gauge reads n + 1, its parked 0."""
    kafka = isolated_settings(kafka_bootstrap, partitions=2).kafka
    layout = TopicLayout(kafka.topic_prefix)
    registry = many_webhook_partners(PARTNERS)
    gps = registry.with_role("gp")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        topics = [layout.inbound(p.id) for p in registry] + [layout.disclosures]
        topics += [layout.deliveries(p) for p in gps] + [layout.parked(p.id) for p in gps]
        await admin.create_topics([NewTopic(t, 2, 1) for t in topics])
    finally:
        await admin.close()
    writer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"lag-monitor-{uuid.uuid4().hex}"
    )
    async with asyncio.timeout(60):
        await writer.start()
        try:
            for n, partner in enumerate(gps):
                async with writer.transaction():
                    for m in range(n + 1):
                        await writer.send(
                            layout.deliveries(partner),
                            b"{}",
                            key=f"REF-{m}".encode(),
                            headers=[("ce_type", b"nl.sociaaldomein.referrals.submitted.v1")],
                        )
        finally:
            await writer.stop()

    monitor = LagMonitor(kafka=kafka, layout=layout, registry=registry, interval_seconds=15)
    reader = LagReader(kafka)
    await reader.start()
    try:
        async with asyncio.timeout(60):
            await monitor.check(reader)
    finally:
        await reader.close()

    backlog = {p.id: metrics.DELIVERY_BACKLOG.labels(p.id)._value.get() for p in gps}
    parked = {p.id: metrics.WEBHOOK_PARKED.labels(p.id)._value.get() for p in gps}
    assert backlog == {p.id: float(n + 1) for n, p in enumerate(gps)}
    assert parked == dict.fromkeys(backlog, 0.0)
