"""The pipeline's delivery guarantees, against a real Kafka broker."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

import hub.router as router_module
from hub.app import build_hub
from hub.routing.ids import delivery_id, disclosure_id
from hub.schemas import TYPES, validate_event
from hub.testing import valid_example

from .hubtest import HubUnderTest, hub_process, isolated_settings, kill_hard, running_hub

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
STATUS = "nl.sociaaldomein.referrals.status-changed.v1"


def event_of(type_: str, **data: Any) -> dict[str, Any]:
    """The shared valid example of a type, with a fresh id and the given data fields replaced."""
    event = copy.deepcopy(valid_example(type_))
    event["id"] = str(uuid.uuid4())
    event["data"].update(data)
    event["subject"] = str(event["data"][TYPES[type_].subject_field])
    return event


def referral(referral_id: str, **data: Any) -> dict[str, Any]:
    """A GP referral that consents to status and content feedback."""
    consent = {"status_feedback": True, "content_feedback": True, "recorded_on": "2026-11-02"}
    return event_of(REFERRAL, referral_id=referral_id, consent=consent, **data)


def ids(records: list[Any]) -> list[str]:
    return [r.event()["id"] for r in records]


def delivered_id(event: dict[str, Any], recipient: str) -> str:
    """The id a recipient sees: derived from the event's (source, id) and the recipient."""
    return delivery_id(event["source"], event["id"], recipient, None)


async def test_referral_from_a_gp_reaches_the_wijkteam(kafka_bootstrap: str) -> None:
    """A GP's referral sent on Kafka appears, validated and unchanged, on the wijkteam's topic."""
    async with running_hub(isolated_settings(kafka_bootstrap)) as hub:
        sent = referral("REF-flow-1")
        await hub.send("gp-de-linde", [sent])
        got = await hub.collect([hub.deliveries_topic("swt-zwolle")], lambda rs: len(rs) >= 1)

    delivered = got[0].event()
    assert delivered["type"] == REFERRAL
    assert delivered["source"] == sent["source"]
    assert delivered["subject"] == "REF-flow-1"
    assert delivered["data"] == validate_event(sent, sender=None).canonical_data()
    assert delivered["data"]["client"]["address"]["postcode"] == "8021PK"  # normalised
    assert got[0].key == b"REF-flow-1"
    headers = dict(got[0].headers)
    assert headers["hub-disclosure-id"].decode() == disclosure_id(
        sent["source"], sent["id"], "swt-zwolle", None
    )
    assert headers["hub-subject-kind"] == b"referrals.referral_id"
    header_names = set(headers)
    assert header_names <= {
        "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject",
        "ce_dataschema", "ce_traceparent", "ce_tracestate", "content-type", "hub-disclosure-id",
        "hub-subject-kind",
    }  # fmt: skip


async def test_invalid_event_is_dead_lettered_and_does_not_block_its_partition(
    kafka_bootstrap: str,
) -> None:
    """An invalid event goes to the dead-letter topic with codes only; the next event behind it is delivered."""
    async with running_hub(isolated_settings(kafka_bootstrap)) as hub:
        bad = referral("REF-dl-1")
        bad["data"]["client"]["bsn"] = "999999991"  # fails the 11-proof
        good = referral("REF-dl-1")  # same subject, so same partition, right behind it
        await hub.send("gp-de-linde", [bad, good])
        delivered = await hub.collect([hub.deliveries_topic("swt-zwolle")], lambda rs: len(rs) >= 1)
        dead = await hub.collect([hub.layout.deadletter], lambda rs: len(rs) >= 1)

    assert ids(delivered) == [delivered_id(good, "swt-zwolle")]
    letter = dead[0].json()
    assert letter["reason"]["code"] == "BSN_INVALID"
    assert [e["path"] for e in letter["reason"]["errors"]] == ["data.client.bsn"]
    assert letter["event_id"] == bad["id"]
    assert "999999991" not in json.dumps(letter["reason"])
    assert dict(dead[0].headers) == {
        "hub-reason-code": b"BSN_INVALID",
        "hub-partner": b"gp-de-linde",
    }
    assert b"999999991" not in dead[0].key  # type: ignore[operator]


async def test_a_duplicate_source_and_id_is_delivered_once(kafka_bootstrap: str) -> None:
    """The same (source, id) sent twice reaches the recipient once."""
    async with running_hub(isolated_settings(kafka_bootstrap)) as hub:
        event = referral("REF-dup-1")
        await hub.send("gp-de-linde", [event, event])
        await hub.collect([hub.deliveries_topic("swt-zwolle")], lambda rs: len(rs) >= 1)
        everything = await hub.settle([hub.deliveries_topic("swt-zwolle"), hub.layout.deadletter])

    assert ids(everything) == [delivered_id(event, "swt-zwolle")]


async def test_order_per_subject_is_kept_across_1000_events(kafka_bootstrap: str) -> None:
    """1,000 events over 6 partitions reach their recipients in the order sent, per subject."""
    subjects = [f"REF-order-{n:03d}" for n in range(100)]
    async with running_hub(isolated_settings(kafka_bootstrap, partitions=6)) as hub:
        await hub.send("gp-de-linde", [referral(s) for s in subjects])
        await hub.collect([hub.deliveries_topic("swt-zwolle")], lambda rs: len(rs) >= 100)
        # Nine status changes per referral, interleaved across subjects: 900 more events.
        updates = [
            event_of(STATUS, referral_id=s, note=f"step {step}") | {"subject": s}
            for step in range(9)
            for s in subjects
        ]
        await hub.send("swt-zwolle", updates)
        got = await hub.collect([hub.deliveries_topic("gp-de-linde")], lambda rs: len(rs) >= 900)

    steps: dict[str, list[int]] = defaultdict(list)
    for record in got:
        data = record.event()["data"]
        steps[data["referral_id"]].append(int(data["note"].removeprefix("step ")))
    assert sorted(steps) == subjects
    assert all(seen == list(range(9)) for seen in steps.values())
    assert len({r.partition for r in got}) > 1


async def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(
    kafka_bootstrap: str,
) -> None:
    """A hub killed with SIGKILL mid-stream and restarted delivers every event exactly once."""
    # Small transactions, so the kill lands between many commits and inside one.
    settings = isolated_settings(kafka_bootstrap, max_batch=5)
    sent = [referral(f"REF-kill-{n:04d}") for n in range(1000)]
    hub = HubUnderTest(build_hub(settings))
    swt = hub.deliveries_topic("swt-zwolle")
    await hub.create_topics()
    await hub.send("gp-de-linde", sent)

    process = hub_process(settings)
    try:
        await hub.collect([swt], lambda rs: len(rs) >= 50, timeout=90)
    finally:
        kill_hard(process)
    partial = await hub.settle([swt], idle_seconds=1.0)
    assert 50 <= len(partial) < len(sent), "the kill must land mid-stream"

    process = hub_process(settings)
    try:
        await hub.collect([swt], lambda rs: len(rs) >= len(sent), timeout=120)
        everything = await hub.settle([swt], idle_seconds=3.0)
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)

    assert sorted(ids(everything)) == sorted(delivered_id(e, "swt-zwolle") for e in sent)
    assert len(everything) == len(sent)


async def _write_values(bootstrap: str, topic: str, values: dict[str, Any]) -> None:
    """Changelog values written behind the router's back, as an earlier version left them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in values.items():
            await producer.send_and_wait(topic, key=key.encode(), value=json.dumps(value).encode())
    finally:
        await producer.stop()


async def test_routing_state_past_its_retention_is_tombstoned_on_the_changelog(
    kafka_bootstrap: str,
) -> None:
    """At start the router writes a tombstone for state past its retention, and for nothing else."""
    settings = isolated_settings(kafka_bootstrap)
    hub = HubUnderTest(build_hub(settings))
    await hub.create_topics()
    today = datetime.now(UTC).date().isoformat()
    await _write_values(
        kafka_bootstrap,
        hub.layout.state,
        {
            "seen:old": {"received_on": "2020-01-01"},
            "seen:recent": {"received_on": today},
            "case:C-1": {
                "closed_on": "2020-01-01",
                "ended_on": "2020-01-01",
                "received_on": "2020-01-01",
            },
            "case:C-2": {"received_on": "2020-01-01"},  # open: kept however old
            # Written before receipt dates: stamped with today, not swept by its old date.
            "seen:legacy": {"seen_on": "2020-01-01"},
        },
    )

    async with running_hub(settings) as running:
        records = await running.collect(
            [running.layout.state], lambda rs: sum(r.value is None for r in rs) >= 2
        )
        records += await running.settle([running.layout.state], idle_seconds=1.0)

    assert {r.key for r in records if r.value is None} == {b"seen:old", b"case:C-1"}
    legacy = [json.loads(r.value) for r in records if r.key == b"seen:legacy" and r.value]
    assert legacy[-1] == {"received_on": datetime.now(UTC).date().isoformat()}


async def test_a_held_plan_past_the_personal_data_retention_is_tombstoned(
    kafka_bootstrap: str,
) -> None:
    """Held plans hold goal texts: the sweep forgets them after the personal-data retention, counted from receipt."""
    settings = isolated_settings(kafka_bootstrap)
    hub = HubUnderTest(build_hub(settings))
    await hub.create_topics()
    today = datetime.now(UTC).date().isoformat()
    plan = {"event_id": "p", "plan_version": 1, "data": {"goals": []}}
    await _write_values(
        kafka_bootstrap,
        hub.layout.held,
        {
            "plan:OLD": {**plan, "received_on": "2020-01-01"},
            "plan:RECENT": {**plan, "received_on": today},
            "plan:LEGACY": plan,  # held before plans were stamped: stamped today
        },
    )

    async with running_hub(settings) as running:
        records = await running.collect(
            [running.layout.held], lambda rs: any(r.value is None for r in rs)
        )
        records += await running.settle([running.layout.held], idle_seconds=1.0)

    assert {r.key for r in records if r.value is None} == {b"plan:OLD"}
    legacy = [json.loads(r.value) for r in records if r.key == b"plan:LEGACY" and r.value]
    assert legacy[-1] == {**plan, "received_on": today}


async def test_a_later_sweep_forgets_in_steps_between_batches(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the sweep at start, the next ones go a few keys per step and still forget every expired key."""
    monkeypatch.setattr(router_module, "_SWEEP_STEP", 2)
    settings = isolated_settings(kafka_bootstrap)
    settings = settings.model_copy(
        update={"privacy": settings.privacy.model_copy(update={"retention_sweep_seconds": 0.5})}
    )
    hub = HubUnderTest(build_hub(settings))
    await hub.create_topics()
    today = datetime.now(UTC).date().isoformat()
    async with running_hub(settings) as running:
        # Written behind the router's back after its first sweep: read by the next one.
        old = {f"seen:old-{n}".encode(): {"received_on": "2020-01-01"} for n in range(7)}
        recent = {b"seen:recent": {"received_on": today}}
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in {**old, **recent}.items():
                await producer.send_and_wait(
                    running.layout.state, key=key, value=json.dumps(value).encode()
                )
        finally:
            await producer.stop()
        records = await running.collect(
            [running.layout.state], lambda rs: sum(r.value is None for r in rs) >= len(old)
        )
        records += await running.settle([running.layout.state], idle_seconds=1.0)

    assert {r.key for r in records if r.value is None} == set(old)


async def test_two_routers_share_state(kafka_bootstrap: str) -> None:
    """With two routers in one group, a status change handled by one finds the referral the other recorded."""
    settings = isolated_settings(kafka_bootstrap)
    second = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"instance_id": "test-b"})}
    )
    first_hub, second_hub = build_hub(settings), build_hub(second)
    hub = HubUnderTest(first_hub)
    await hub.create_topics()
    stop = asyncio.Event()
    routers = [asyncio.create_task(h.router.run(stop)) for h in (first_hub, second_hub)]
    subjects = [f"REF-two-{n:02d}" for n in range(24)]
    try:
        ready = [h.router.ready.wait() for h in (first_hub, second_hub)]
        await asyncio.wait_for(asyncio.gather(*ready), timeout=60)
        referrals = [referral(s) for s in subjects]
        await hub.send("gp-de-linde", referrals)
        await hub.wait_for_status(referrals)
        changes = [event_of(STATUS, referral_id=s) | {"subject": s} for s in subjects]
        await hub.send("swt-zwolle", changes)
        got = await hub.collect(
            [hub.deliveries_topic("gp-de-linde")], lambda rs: len(rs) >= len(subjects)
        )
        dead = await hub.settle([hub.layout.deadletter], idle_seconds=1.0)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*routers), timeout=30)

    assert sorted(ids(got)) == sorted(delivered_id(e, "gp-de-linde") for e in changes)
    assert dead == []
