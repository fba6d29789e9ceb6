"""A consumer stops cleanly while its broker is away (aiokafka 0.14's stop cut short).

A broker of its own (own ports and run directory): stopping the shared test broker
would break every other test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.dev.localkafka import LocalKafka
from hub.kafka.clients import (
    faststream_batch_consumer,
    started_consumer,
    stop_consumer,
    stop_faststream,
)
from hub.kafka.types import TopicPartition
from hub.settings import KafkaSettings

from .hubtest import private_broker

_PORT = 29492  # and 29493, its controller
_TOPIC = "outage.records"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    with private_broker(tmp_path / "kafka", "outage", _PORT) as kafka:
        yield kafka


async def _create_topic(broker: LocalKafka) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(_TOPIC, 1, 1)])
    finally:
        await admin.close()


@pytest.mark.timeout(180)
async def test_a_consumer_stops_without_error_while_its_broker_is_away(
    own_broker: LocalKafka,
) -> None:
    """Stopping a consumer during an outage neither raises CancelledError nor leaves its client running.

    aiokafka's fetcher, waiting out its retry back-off after the broker went, made the
    consumer's stop raise CancelledError: a service stopping in an outage then ended as
    failed (`hub run` exited non-zero) with the client's metadata task never stopped.
    """
    await _create_topic(own_broker)
    settings = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers)
    # A long back-off, so that the stop below finds the fetcher waiting it out.
    reader = await started_consumer(
        settings, group_id=None, enable_auto_commit=False, retry_backoff_ms=5000
    )
    reader.assign([TopicPartition(_TOPIC, 0)])
    await reader.getmany(timeout_ms=500)
    await asyncio.to_thread(own_broker.stop)
    await asyncio.sleep(2)  # the next fetch fails at once, then waits 5 s
    await stop_consumer(reader)  # raised CancelledError before
    assert reader._client._sync_task is None  # the client closed too


@pytest.mark.timeout(180)
async def test_a_faststream_consumer_stops_without_error_while_its_broker_is_away(
    own_broker: LocalKafka,
) -> None:
    """The audit feed's FastStream consumer stops through the seam as cleanly as an aiokafka one."""
    await _create_topic(own_broker)
    settings = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers)

    async def handler(values: list[bytes]) -> None:
        return None

    broker = faststream_batch_consumer(
        settings, _TOPIC, group_id="outage-feed", handler=handler, retry_backoff_ms=5000
    )
    await broker.start()
    await asyncio.sleep(3)  # joined, fetching
    [subscriber] = broker.subscribers
    consumer = subscriber.consumer
    await asyncio.to_thread(own_broker.stop)
    await asyncio.sleep(2)  # the next fetch fails at once, then waits 5 s
    await stop_faststream(broker)  # raised CancelledError before
    assert consumer._client._sync_task is None  # the client closed too
