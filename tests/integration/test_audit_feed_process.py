"""The audit feed in a process of its own, as `hub run` runs it: it stores and stops as the feed does, and starts again when it dies."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

from aiokafka import AIOKafkaProducer

from hub.app import build_hub
from hub.audit.feed import AuditFeedProcess
from hub.audit.record import DisclosureRecord
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


def _all_stored(hub: HubUnderTest, records: list[DisclosureRecord]) -> bool:
    """Whether the store holds every record; not while a feed process is still creating it."""
    if not _path(hub).exists():
        return False
    try:
        with open_store(hub.hub.settings.audit.store_url, read_only=True) as store:
            return all(store.get(r.disclosure_id) for r in records)
    except AuditStoreError:  # a child killed, or not yet done, between creating file and tables
        return False


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
            if _all_stored(hub, records):
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


async def test_a_feed_process_that_dies_is_started_again_and_stores_what_came_since(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A killed feed does not stop `hub run`: a new process starts and stores the records logged since."""
    hub = HubUnderTest(build_hub(isolated_settings(kafka_bootstrap, audit_dir=tmp_path)))
    await hub.create_topics()
    stop = asyncio.Event()
    feed = asyncio.create_task(_feed(hub).run(stop))
    try:
        first = await _feed_child()
        os.kill(first, signal.SIGKILL)
        records = [record(n) for n in range(3)]
        await _log(hub, [r.to_json() for r in records])
        second = await _feed_child(other_than=first)
        assert second != first
        for _ in range(300):  # up to a minute: it starts, joins its group, reads
            if _all_stored(hub, records):
                break
            await asyncio.sleep(0.2)
        assert not feed.done()
    finally:
        stop.set()
        await asyncio.wait_for(feed, 60)  # stopped as asked: no error
    with open_store(hub.hub.settings.audit.store_url, read_only=True) as store:
        assert [store.get(r.disclosure_id) for r in records] == records


async def _feed_child(other_than: int | None = None) -> int:
    """The pid of the running feed process (not ``other_than``), once there is one."""
    for _ in range(600):
        pids = [
            c.pid
            for c in multiprocessing.active_children()
            if c.name == "hub-audit-feed" and c.pid is not None and c.pid != other_than
        ]
        if pids:
            return pids[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no feed process")
