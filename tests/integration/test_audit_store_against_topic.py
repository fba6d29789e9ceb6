"""``hub audit verify --topic`` holds the store to the topic, on the real broker.

The chains alone cannot tell a store whose last records were cut off, or one that gained a
record outside every chain: the router's heads are the topic's. The example chain goes
through the router, the audit feed stores it (and commits where it got to), and copies of
that store are tampered with as someone with write access to the database could.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

from hub.audit import open_store
from hub.audit.feed import AuditFeed, audit_group
from hub.audit.verify import (
    TopicCopy,
    compare_store,
    feed_positions,
    public_keys,
    verify_store,
    verify_topic,
)
from hub.kafka import TopicPartition
from hub.kafka.inspection import committed_offsets, topic_offsets
from hub.settings import HubSettings
from hub.testing import scenario, sender_of
from hub.topics import TopicLayout

from .hubtest import isolated_settings, running_hub


async def test_the_store_is_held_to_the_topic(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path, partitions=1)
    events = scenario()
    async with running_hub(settings) as hub:
        for event in events:
            await hub.send(sender_of(event, hub.hub.registry).id, [event])
        await hub.wait_for_status(events)
        layout = hub.layout
    await _store_everything(settings, layout.disclosures)
    keys = public_keys(settings.audit, development=True)
    path = Path(settings.audit.store_url.removeprefix("sqlite:///"))

    async def check(url: str) -> tuple[list[tuple[str, str | None]], TopicCopy]:
        copy = await feed_positions(settings.kafka)
        with open_store(url, read_only=True) as store:
            stored, purges = store.stored_rows(), store.purges()
            own = verify_store(store, keys, stored)
        await verify_topic(settings.kafka, keys, copy=copy)
        against = compare_store(stored, purges, copy)
        return [(b.kind, b.disclosure_id) for b in own.breaks + against.breaks], copy

    breaks, copy = await check(settings.audit.store_url)
    assert breaks == []
    assert len(copy.records) > 20
    last = max((v for _, _, v in copy.records.values()), key=lambda v: (str(v["chain"]), v["seq"]))
    victim = str(last["disclosure_id"])
    unchained = "00000000-0000-5000-8000-00000000f0f0"

    def tampered(name: str, *statements: str) -> str:
        target = tmp_path / f"{name}.sqlite3"
        with sqlite3.connect(path) as source, sqlite3.connect(target) as copy_db:
            source.backup(copy_db)
        with sqlite3.connect(target) as db:
            for trigger in ("disclosures_no_update", "disclosures_no_delete"):
                db.execute(f"DROP TRIGGER {trigger}")
            for statement in statements:
                db.execute(statement)
        return f"sqlite:///{target}"

    cases: dict[str, tuple[str, Callable[[], str]]] = {
        # The chain's last record: the chain in the store still checks.
        "missing": (
            victim,
            lambda: tampered("cut", f"DELETE FROM disclosures WHERE disclosure_id = '{victim}'"),
        ),
        "differs": (
            victim,
            lambda: tampered(
                "rewritten",
                "UPDATE disclosures SET record = json_remove(json_set(record, '$.recipient',"
                " 'veilig-thuis-ijsselland'), '$.chain', '$.seq', '$.prev_hash'),"
                f" recipient = 'veilig-thuis-ijsselland' WHERE disclosure_id = '{victim}'",
            ),
        ),
        "unlogged": (
            unchained,
            lambda: tampered(
                "forged",
                "INSERT INTO disclosures (disclosure_id, event_id, event_type, source, recipient,"
                " outcome, decided_at, record) SELECT"
                f" '{unchained}', event_id, event_type, source, recipient, outcome, decided_at,"
                f" json_remove(json_set(record, '$.disclosure_id', '{unchained}'), '$.chain',"
                f" '$.seq', '$.prev_hash') FROM disclosures WHERE disclosure_id = '{victim}'",
            ),
        ),
    }
    for kind, (named, make) in cases.items():
        found, _ = await check(make())
        assert (kind, named) in found, (kind, found)


async def _store_everything(settings: HubSettings, topic: str) -> None:
    """Run the audit feed until it has committed past every record on the disclosure topic."""
    stop = asyncio.Event()
    layout = TopicLayout(settings.kafka.topic_prefix)
    feed = AuditFeed(kafka=settings.kafka, audit=settings.audit, layout=layout)
    task = asyncio.create_task(feed.run(stop))
    try:
        end = (await topic_offsets(settings.kafka, [topic]))[topic].end
        for _ in range(300):  # up to a minute: it joins its group, reads, stores, commits
            done = await committed_offsets(settings.kafka, audit_group(settings.kafka))
            if all(done.get(TopicPartition(topic, p), -1) >= at for p, at in end.items()):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the audit feed did not commit past the topic's end")
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
