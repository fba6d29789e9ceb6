"""The gateway's producer heals after a broker's controlled shutdown (issue finding 2).

A broker of its own (own ports and run directory): stopping the shared test broker
would break every other test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.dev.localkafka import LocalKafka
from hub.gateway.sink import KafkaEventSink, KafkaRecord
from hub.settings import KafkaSettings

from .hubtest import private_broker

_PORT = 29392  # and 29393, its controller
_PARTITIONS = 3
_KEYS = [f"REF-{n}".encode() for n in range(24)]  # spread over every partition


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    with private_broker(tmp_path / "kafka", "heal", _PORT) as kafka:
        yield kafka


@pytest.fixture
async def topic(own_broker: LocalKafka) -> AsyncIterator[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=own_broker.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("heal.inbound", _PARTITIONS, 1)])
        yield "heal.inbound"
    finally:
        await admin.close()


def _records(topic: str, round_: int) -> list[KafkaRecord]:
    return [
        KafkaRecord(topic, key, (("ce_id", f"{round_}-{key.decode()}".encode()),), b"{}")
        for key in _KEYS
    ]


async def _accepted_everywhere(sink: KafkaEventSink, topic: str, within: float) -> float:
    """Seconds until one round of sends to every partition is acknowledged in full."""
    started = time.monotonic()
    round_ = 1000
    while time.monotonic() - started < within:
        round_ += 1
        if all(await sink.send(_records(topic, round_))) and await sink.probe():
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise AssertionError(f"sends to some partitions still failed after {within} s")


@pytest.mark.timeout(240)
async def test_gateway_producer_sends_to_every_partition_after_a_graceful_broker_restart(
    own_broker: LocalKafka, topic: str
) -> None:
    """After SIGTERM and restart of the broker, every partition accepts the gateway's sends again."""
    sink = KafkaEventSink(
        KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers), timeout_seconds=2.0
    )
    await sink.start()
    try:
        await _accepted_everywhere(sink, topic, within=30)
        sending = True

        async def keep_sending() -> None:
            round_ = 0
            while sending:
                round_ += 1
                await sink.send(_records(topic, round_))
                await asyncio.sleep(0.05)

        sender = asyncio.create_task(keep_sending())
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_broker.stop)  # SIGTERM: a controlled shutdown
        await asyncio.sleep(2.0)
        await asyncio.to_thread(own_broker.ensure_running, 90)
        await asyncio.sleep(3.0)
        sending = False
        await sender
        await _accepted_everywhere(sink, topic, within=60)
    finally:
        await sink.stop()
