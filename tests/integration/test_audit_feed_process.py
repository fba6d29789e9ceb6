"""The audit feed in a process of its own, as `hub run` runs it: it stores, stops and fails as the feed does."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from hub.app import build_hub
from hub.audit.feed import AuditFeedProcess
from hub.audit.store import open_store
from hub.errors import AuditStoreError
from hub.kafka.clients import client_options
from tests.unit.audit.store_cases import record

from .hubtest import HubUnderTest, isolated_settings


def _feed(hub: HubUnderTest) -> AuditFeedProcess:
    settings = hub.hub.settings
    return AuditFeedProcess(
        kafka=settings.kafka, audit=settings.audit, layout=hub.layout, logging=settings.logging
    )


def _path(hub: HubUnderTest) -> Path:
    return Path(hub.hub.settings.audit.store_url.removeprefix("sqlite:///"))


async def _log(hub: HubUnderTest, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(**client_options(hub.kafka), acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(hub.layout.disclosures, value)
    finally:
        await producer.stop()


async def test_the_feed_process_stores_the_log_byte_for_byte_and_stops_when_asked(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Records on the disclosure topic reach the store as written, and ``run`` returns once stopped."""
    hub = HubUnderTest(build_hub(isolated_settings(kafka_bootstrap, audit_dir=tmp_path)))
    await hub.create_topics()
    records = [record(n) for n in range(3)]
    await _log(hub, [r.to_json() for r in records] + [b"not json"])
    stop = asyncio.Event()
    feed = asyncio.create_task(_feed(hub).run(stop))
    try:
        for _ in range(300):  # up to a minute: the child starts, joins its group, reads
            if _path(hub).exists():
                with open_store(hub.hub.settings.audit.store_url, read_only=True) as store:
                    if all(store.get(r.disclosure_id) for r in records):
                        break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(feed, 60)
    assert not multiprocessing.active_children()
    with open_store(hub.hub.settings.audit.store_url, read_only=True) as store:
        assert [store.get(r.disclosure_id) for r in records] == records
    with contextlib.closing(sqlite3.connect(_path(hub))) as db:
        stored = db.execute("SELECT record FROM disclosures ORDER BY disclosure_id").fetchall()
    assert [row[0].encode() for row in stored] == [r.to_json() for r in records]


async def test_a_feed_process_that_dies_fails_its_service(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """When the feed's process ends without being asked, ``run`` raises AuditStoreError, so `hub run` stops."""
    hub = HubUnderTest(build_hub(isolated_settings(kafka_bootstrap, audit_dir=tmp_path)))
    stop = asyncio.Event()
    feed = asyncio.create_task(_feed(hub).run(stop))
    for _ in range(100):
        children = [c for c in multiprocessing.active_children() if c.name == "hub-audit-feed"]
        if children:
            break
        await asyncio.sleep(0.05)
    (child,) = children
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(AuditStoreError, match="ended with code -9"):
        await asyncio.wait_for(feed, 30)
