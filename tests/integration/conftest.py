"""Broker fixtures for tests/integration: every test here runs against a real Kafka broker.

The broker is, in order of preference: the one named by ``HUB_KAFKA__BOOTSTRAP_SERVERS``;
a throw-away ``apache/kafka`` container when a Docker engine answers; else the local
broker of ``hub.dev.localkafka``, which is left running so the next run reuses it.

The audit store's PostgreSQL backend runs against a throwaway server (``postgres_url``),
started once per session by ``scripts/local-postgres``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.dev.localkafka import KAFKA_VERSION, LocalKafka

from .hubtest import CREATED_PREFIXES, delete_topics_with_prefixes

KAFKA_IMAGE = f"apache/kafka:{KAFKA_VERSION}"
TopicFactory = Callable[..., Awaitable[str]]

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration as ``integration``."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


def _docker_answers() -> bool:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False
    import docker

    # docker-py leaves the socket of a refused connection to the garbage collector.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=3)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False
        finally:
            gc.collect()


def _kafka_container() -> tuple[Any, str]:
    """An apache/kafka KRaft container and the address it advertises to the host.

    testcontainers' KafkaContainer scripts Confluent's cp-kafka image and rejects
    apache/kafka tags for KRaft, so a generic container is configured here, on a host
    port chosen up front so that the advertised listener is known before it starts.
    """
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host_port = sock.getsockname()[1]
    container = DockerContainer(KAFKA_IMAGE)
    address = f"{container.get_container_host_ip()}:{host_port}"
    container.with_bind_ports(9092, host_port).with_envs(
        CLUSTER_ID="R0l2m1tNQ8u5xW9cWk0Ptg",
        KAFKA_NODE_ID="1",
        KAFKA_PROCESS_ROLES="broker,controller",
        KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
        KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
        # The broker reaches itself (transaction markers) on BROKER, inside the container.
        KAFKA_LISTENERS="PLAINTEXT://:9092,CONTROLLER://:9093,BROKER://:9094",
        KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://{address},BROKER://localhost:9094",
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=(
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT"
        ),
        KAFKA_INTER_BROKER_LISTENER_NAME="BROKER",
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
        KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
    ).waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(90))
    return container, address


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of the broker this test session uses (see the module docstring)."""
    configured = os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS")
    if configured:
        yield configured
    elif _docker_answers():
        container, address = _kafka_container()
        try:
            container.start()
            yield address
        finally:
            container.stop()
    else:
        yield LocalKafka().ensure_running()


@pytest.fixture(scope="session", autouse=True)
def _session_topics_removed(kafka_bootstrap: str) -> Iterator[None]:
    """At the end of the session, delete the topics of every hub its tests set up."""
    yield
    if CREATED_PREFIXES:
        try:
            asyncio.run(delete_topics_with_prefixes(kafka_bootstrap, sorted(CREATED_PREFIXES)))
        except Exception as exc:  # tidying up: a failure here must not fail the session
            warnings.warn(f"could not delete this session's topics: {exc!r}", stacklevel=1)


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


_LOCAL_POSTGRES = _HERE.parents[1] / "scripts" / "local-postgres"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh local PostgreSQL 15 server, stopped and removed after the session.

    ``scripts/local-postgres`` installs the server when its binaries are missing (as root);
    a failure to start it fails the tests, it never skips them.
    """
    # Not pytest's tmp_path: as root the server runs as another user, who must reach the dir.
    directory = tempfile.mkdtemp(prefix="hub-pg-")
    started = subprocess.run(
        [str(_LOCAL_POSTGRES), "start", directory],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/local-postgres start failed:\n{started.stderr}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(_LOCAL_POSTGRES), "stop", directory], timeout=120, check=False)
