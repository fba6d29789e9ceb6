"""A partner's producer may compress its records with any codec Kafka has: the hub reads them all.

A codec the client library could not unpack stopped the router for every partner (the
batch failed on every fetch, nothing was dead-lettered); the codecs are now installed.
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from hub.dev.partner_io import binary_mode
from hub.kafka.clients import client_options
from hub.records import StatusRecord
from hub.testing import make_event

from .hubtest import isolated_settings, running_hub

CODECS = ("gzip", "lz4", "snappy", "zstd")


@pytest.mark.parametrize("codec", CODECS)
async def test_a_compressed_referral_is_routed(kafka_bootstrap: str, codec: str) -> None:
    settings = isolated_settings(kafka_bootstrap)
    async with running_hub(settings) as hub:
        events = [
            make_event("referrals.submitted", envelope={"subject": ref}, referral_id=ref)
            for ref in (f"REF-{codec}-{n}" for n in range(3))
        ]
        writer = AIOKafkaProducer(**client_options(settings.kafka), compression_type=codec)
        await writer.start()
        try:
            batch = [
                await writer.send(
                    hub.layout.inbound("gp-de-linde"), value=v, key=k, headers=list(h)
                )
                for k, h, v in map(binary_mode, events)
            ]
            for sent in batch:
                await sent
        finally:
            await writer.stop()
        await hub.wait_for_status(events)
        routed = await hub.settle([hub.layout.status], idle_seconds=1)
    assert [StatusRecord.from_json(r.value or b"").status for r in routed] == ["delivered"] * 3
