"""Helpers for integration tests: a hub with its own topics, run in-process or as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from hub.app import Hub, build_hub
from hub.dev.localkafka import LocalKafka
from hub.dev.partner_io import Received, receive, send_events
from hub.router import ensure_topics
from hub.settings import AuditSettings, HubSettings, KafkaSettings, RetrySettings
from hub.topics import TopicLayout


@contextmanager
def private_broker(run_dir: Path, name: str, port: int) -> Iterator[LocalKafka]:
    """A broker of a test's own (ports ``port`` and ``port + 1``, its own run directory).

    For a test that stops or restarts its broker: stopping the shared one would break
    every other test. Removed afterwards.
    """
    kafka = LocalKafka(name=name, port=port, controller_port=port + 1, run_dir=run_dir)
    kafka.ensure_running(timeout=90)
    try:
        yield kafka
    finally:
        kafka.reset()


CREATED_PREFIXES: set[str] = set()
"""The topic prefixes ``isolated_settings`` handed out in this session: removed at its end.

A broker that is reused (the local one is left running) otherwise gathers every test's
topics, run after run, until it fails for the files and memory maps they take.
"""


def isolated_settings(bootstrap: str, audit_dir: Path | None = None, **kafka: Any) -> HubSettings:
    """Settings whose topics, group, transactional id and audit store belong to this test alone."""
    run = uuid.uuid4().hex[:10]
    CREATED_PREFIXES.add(f"t{run}.")
    store = (audit_dir or Path(tempfile.gettempdir())) / f"audit-{run}.sqlite3"
    return HubSettings(
        audit=AuditSettings(store_url=f"sqlite:///{store}"),
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap,
            topic_prefix=f"t{run}",
            group_id=f"router-{run}",
            instance_id="test",
            partitions=kafka.pop("partitions", 3),
            **kafka,
        ),
        retry=RetrySettings(initial_seconds=0.1, max_seconds=1.0),
    )


@dataclass
class HubUnderTest:
    """A hub and what a test needs to talk to it as partners do."""

    hub: Hub

    @property
    def kafka(self) -> KafkaSettings:
        return self.hub.settings.kafka

    @property
    def layout(self) -> TopicLayout:
        return self.hub.layout

    async def create_topics(self) -> None:
        """Create the hub's topics before the hub runs (it would create them itself on start)."""
        await ensure_topics(self.kafka, self.hub.layout, self.hub.registry)

    async def send(self, partner_id: str, events: Iterable[Mapping[str, Any]]) -> int:
        """Send events as this partner (on its inbound topic)."""
        return await send_events(self.kafka, self.hub.layout.inbound(partner_id), events)

    def deliveries_topic(self, partner_id: str) -> str:
        partner = self.hub.registry.get(partner_id)
        assert partner is not None
        return self.hub.layout.deliveries(partner)

    async def collect(
        self,
        topics: list[str],
        until: Callable[[list[Received]], bool],
        *,
        timeout: float = 60.0,
    ) -> list[Received]:
        """Read committed records from topics until ``until(records)`` holds, then return them all."""
        records: list[Received] = []

        async def read() -> None:
            async for record in receive(self.kafka, topics):
                records.append(record)
                if until(records):
                    return

        await asyncio.wait_for(read(), timeout)
        return records

    async def wait_for_status(self, events: list[Mapping[str, Any]], timeout: float = 60.0) -> None:
        """Wait until the hub has recorded what became of each of these events."""
        wanted = {f"{e['source']} {e['id']}".encode() for e in events}
        await self.collect(
            [self.layout.status],
            lambda rs: wanted <= {r.key for r in rs},
            timeout=timeout,
        )

    async def settle(self, topics: list[str], idle_seconds: float = 3.0) -> list[Received]:
        """Everything on topics once nothing new has arrived for idle_seconds."""
        return [r async for r in receive(self.kafka, topics, idle_seconds=idle_seconds)]


@asynccontextmanager
async def running_hub(settings: HubSettings) -> AsyncIterator[HubUnderTest]:
    """Run the hub's router in this event loop for the duration of the block."""
    hub = build_hub(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.router.run(stop))
    try:
        await asyncio.wait_for(hub.router.ready.wait(), timeout=60)
        yield HubUnderTest(hub)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def hub_process(
    settings: HubSettings,
    log_file: Path | None = None,
    *,
    extra_env: Mapping[str, str] | None = None,
    python_args: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Start `hub run` as a separate OS process with these settings (for crash tests).

    Its JSON log lines are appended to ``log_file`` when given, so a test can scan them.
    ``extra_env`` overrides variables (the benchmarks log at WARNING into a file);
    ``python_args`` go before ``-m hub.cli`` (e.g. ``-m cProfile -o FILE``).
    """
    env = {
        **os.environ,
        "HUB_KAFKA__BOOTSTRAP_SERVERS": str(settings.kafka.bootstrap_servers),
        "HUB_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HUB_KAFKA__GROUP_ID": settings.kafka.group_id,
        "HUB_KAFKA__INSTANCE_ID": settings.kafka.instance_id,
        "HUB_KAFKA__PARTITIONS": str(settings.kafka.partitions),
        "HUB_KAFKA__REPLICATION_FACTOR": str(settings.kafka.replication_factor),
        "HUB_KAFKA__MAX_BATCH": str(settings.kafka.max_batch),
        "HUB_LOGGING__LEVEL": "INFO" if log_file else "WARNING",
        "HUB_LOGGING__FORMAT": "json",
        "HUB_AUDIT__STORE_URL": settings.audit.store_url,
        "HUB_OPS__PORT": "0",  # several hubs may run at once (the benchmarks' too)
        **(extra_env or {}),
    }
    with open(log_file or os.devnull, "ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, *python_args, "-m", "hub.cli", "run"],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown hooks, an open transaction is left for the broker to abort."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def hub_cli(settings: HubSettings, *args: str, **env: str) -> tuple[int, str, str]:
    """Run `hub ARGS` as an operator does: its own process, configured by the environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        *args,
        env={
            **os.environ,
            "HUB_KAFKA__BOOTSTRAP_SERVERS": str(settings.kafka.bootstrap_servers),
            "HUB_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
            "HUB_KAFKA__GROUP_ID": settings.kafka.group_id,
            "HUB_ENVIRONMENT": "development",
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def eventually(what: Callable[[], Any], timeout: float, message: str) -> Any:
    """``what()`` once it is truthy, polled every half second; AssertionError(message) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(message)


async def delete_topics_with_prefixes(bootstrap: str, prefixes: Iterable[str]) -> int:
    """Delete every topic whose name starts with one of ``prefixes``; how many were deleted."""
    wanted = tuple(prefixes)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60_000)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(wanted)]
        for start in range(0, len(doomed), 200):  # a request per few hundred, not one huge one
            await admin.delete_topics(doomed[start : start + 200], timeout_ms=60_000)
        return len(doomed)
    finally:
        await admin.close()
