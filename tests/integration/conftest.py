"""Broker fixtures for tests/integration: every test here runs against a real Kafka broker.

The broker is the one named by ``HUB_KAFKA__BOOTSTRAP_SERVERS``, else the local broker
of ``hub.ops.localkafka`` (``make kafka``), started or reused, and left running so the
next run reuses it. Tests isolate themselves by topic prefix and group id.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.ops.localkafka import LocalKafka

TopicFactory = Callable[..., Awaitable[str]]

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration as ``integration``."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of the broker this test session uses (see the module docstring)."""
    # The same code as `make kafka`, `make demo` and bench/: a broker named in the
    # environment, else the local broker, started or reused.
    return os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS") or LocalKafka().ensure_running(
        timeout=300
    )


@pytest.fixture
async def topic_factory(kafka_bootstrap: str) -> AsyncIterator[TopicFactory]:
    """Create uniquely named topics, ready for use; delete them after the test.

    Call as ``await topic_factory(partitions=1, prefix="test", config=None)``.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=15000)
    await admin.start()
    created: list[str] = []

    async def create(
        partitions: int = 1,
        *,
        prefix: str = "test",
        replication_factor: int = 1,
        config: dict[str, str] | None = None,
    ) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        new_topic = NewTopic(name, partitions, replication_factor, topic_configs=config or {})
        response = await admin.create_topics([new_topic])
        failed = [error for error in response.topic_errors if error[1] != 0]
        assert failed == [], f"creating topic {name} failed: {failed}"
        created.append(name)
        await _wait_for_leaders(admin, name, partitions)
        return name

    try:
        yield create
    finally:
        try:
            if created:
                await admin.delete_topics(created)
        finally:
            await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topic: str, partitions: int) -> None:
    async with asyncio.timeout(15):
        while True:
            (described,) = await admin.describe_topics([topic])
            leaders = [p["leader"] for p in described["partitions"]]
            if described["error_code"] == 0 and len(leaders) == partitions and min(leaders) >= 0:
                return
            await asyncio.sleep(0.1)
