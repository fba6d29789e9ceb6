"""What the pipeline writes for one record: state, status, deliveries, disclosures, dead letters."""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from hub import pipeline as pipeline_module
from hub.audit.chain import record_hash
from hub.envelope import MAX_EVENT_BYTES, event_size
from hub.errors import ErrorCode
from hub.inbound import UNREAD_BYTES
from hub.pipeline import InboundRecord, OutRecord
from hub.records import DeadLetter, StatusRecord
from hub.testing import InMemoryPipeline, load_example

REFERRAL = "referrals.submitted/valid/poh-ggz-referral.json"
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def hub() -> InMemoryPipeline:
    """The demo hub's pipeline with in-memory state and a fixed clock."""
    return InMemoryPipeline(clock=lambda: NOW)


def topics(out: list[OutRecord]) -> list[str]:
    return [r.topic for r in out]


def only(out: list[OutRecord], topic: str) -> OutRecord:
    [record] = [r for r in out if r.topic == topic]
    return record


def test_a_referral_writes_state_status_delivery_and_disclosure(hub: InMemoryPipeline) -> None:
    """A routed referral: its state entry and seen marker, a status, the delivery, the record, the chain head."""
    out = hub.feed(load_example(REFERRAL))
    layout = hub.layout
    assert topics(out) == [
        layout.state,
        layout.state,
        layout.status,
        layout.deliveries(hub.registry.only("swt")),
        layout.disclosures,
        layout.state,  # the chain's head: once per batch, after it (Pipeline.handle_batch)
    ]
    assert out[0].key == b"referral:DL-2025-0317"
    assert (out[1].key or b"").startswith(b"seen:")
    assert json.loads(out[1].value or b"") == {"received_on": "2026-01-05"}
    chain = "sociaaldomein.inbound.gp-de-linde:0"
    assert out[-1].key == f"audit-chain:{chain}".encode()
    disclosure = json.loads(only(out, layout.disclosures).value or b"")
    assert (disclosure["chain"], disclosure["seq"], disclosure["prev_hash"]) == (chain, 1, None)
    assert json.loads(out[-1].value or b"") == {
        "seq": 1,
        "hash": record_hash(disclosure),
        "received_on": "2026-01-05",
    }
    status = StatusRecord.from_json(only(out, layout.status).value or b"")
    assert status is not None
    assert (status.status, status.recipients, status.withheld, status.codes) == (
        "delivered",
        ("swt-zwolle",),
        (),
        (),
    )
    assert status.at == NOW.isoformat()


def test_a_redelivered_event_writes_nothing(hub: InMemoryPipeline) -> None:
    """The same (source, id) again is a duplicate: no record at all."""
    event = load_example(REFERRAL)
    hub.feed(event)
    assert hub.feed(event) == []


def test_an_invalid_event_is_dead_lettered_with_its_copy(hub: InMemoryPipeline) -> None:
    """An invalid event: a status with its code, a dead letter carrying the original record."""
    event = load_example(REFERRAL)
    event["data"]["client"]["bsn"] = "999999991"
    record = hub.record(event)
    out = hub.feed(record)
    assert topics(out) == [hub.layout.status, hub.layout.deadletter]
    letter_record = out[1]
    assert letter_record.key == f"{record.topic}:0".encode()
    assert dict(letter_record.headers) == {
        "hub-reason-code": b"BSN_INVALID",
        "hub-partner": b"gp-de-linde",
    }
    letter = DeadLetter.from_json(letter_record.value or b"")
    assert letter is not None
    assert letter.event_id == event["id"]
    assert letter.record is not None
    assert letter.record.value == record.value
    assert letter.record.headers == record.headers
    assert "999999991" not in json.dumps([e.as_dict() for e in letter.errors])


def test_a_stateful_rejection_shows_its_sender_the_path_code_and_sentence(
    hub: InMemoryPipeline,
) -> None:
    """messages.md: a rejection names the field path, a stable code and a sentence; GET /events/{id} reads them."""
    status_changed = load_example("referrals.status-changed/valid/received.json")
    out = hub.feed(status_changed)  # no such referral: unroutable
    status = StatusRecord.from_json(only(out, hub.layout.status).value or b"")
    letter = DeadLetter.from_json(only(out, hub.layout.deadletter).value or b"")
    assert status is not None
    assert letter is not None
    assert status.errors == tuple((e.path, e.code.value, e.message) for e in letter.errors)
    assert status.errors[0][:2] == ("data.referral_id", "UNKNOWN_REFERENCE")


def test_a_broken_resend_of_a_routed_event_leaves_its_status_alone(hub: InMemoryPipeline) -> None:
    """A resend under a routed (source, id) that fails validation is dead-lettered, and the status stays "delivered"."""
    event = load_example(REFERRAL)
    hub.feed(event)
    broken = json.loads(json.dumps(event))
    broken["data"]["typo"] = "x"
    out = hub.feed(broken)
    assert topics(out) == [hub.layout.deadletter]
    letter = DeadLetter.from_json(out[0].value or b"")
    assert letter is not None
    assert [e.code for e in letter.errors] == [ErrorCode.FIELD_UNKNOWN]


def test_a_broken_resend_of_a_rejected_event_gets_its_own_status(hub: InMemoryPipeline) -> None:
    """After a stateful rejection the (source, id) was never routed: a broken resend's status says why it fails now."""
    status_changed = load_example("referrals.status-changed/valid/received.json")
    first = hub.feed(status_changed)  # no such referral: unroutable, dead-lettered
    assert topics(first)[-2:] == [hub.layout.status, hub.layout.deadletter]
    broken = json.loads(json.dumps(status_changed))
    broken["data"]["typo"] = "x"
    assert topics(hub.feed(broken)) == [hub.layout.status, hub.layout.deadletter]


def test_a_too_large_record_is_dead_lettered_by_reference(hub: InMemoryPipeline) -> None:
    """A record over UNREAD_BYTES (the broker's default limit) is refused unread, kept by reference and digest."""
    event = load_example(REFERRAL)
    good = hub.record(event)
    huge = InboundRecord(good.topic, 3, 41, good.key, b" " * UNREAD_BYTES + b"{}", good.headers)
    out = hub.feed(huge)
    assert topics(out) == [hub.layout.status, hub.layout.deadletter]
    letter = DeadLetter.from_json(out[1].value or b"")
    assert letter is not None
    assert letter.record is None
    assert letter.code == ErrorCode.EVENT_TOO_LARGE.value
    assert (letter.partition, letter.offset, letter.size) == (3, 41, huge.size)


def _escaped_plan() -> dict[str, Any]:
    """A plan of 100 goals in Arabic: about 190 KiB compact, over 512 KiB written with \\u escapes."""
    event = load_example("cases.plan-updated/valid/first-plan.json")
    goal = event["data"]["goals"][0]
    text = ("مساعدة في الشؤون المالية والتربية " * 40)[:1000]
    event["data"]["goals"] = [goal | {"goal_id": f"G{n}", "description": text} for n in range(100)]
    return event


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_an_event_within_256_kib_is_taken_whatever_its_escapes_cost(
    hub: InMemoryPipeline, mode: str
) -> None:
    """The CNCF SDK's \\u-escaped value of an event under 256 KiB is over 512 KiB of record, and delivered."""
    hub.feed(load_example(REFERRAL), load_example("cases.opened/valid/after-referral.json"))
    event = _escaped_plan()
    record = hub.record(event)
    if mode == "structured":
        value = json.dumps(event).encode()
        record = dataclasses.replace(
            record, headers=(("content-type", b"application/cloudevents+json"),), value=value
        )
    else:
        record = dataclasses.replace(record, value=json.dumps(event["data"]).encode())
    assert event_size(event) < MAX_EVENT_BYTES < 2 * MAX_EVENT_BYTES < record.size
    out = hub.feed(record)
    status = StatusRecord.from_json(only(out, hub.layout.status).value or b"")
    assert status is not None
    assert status.status == "delivered"


def test_a_larger_escaped_event_is_too_large_and_not_copied(hub: InMemoryPipeline) -> None:
    """Over 256 KiB compact it is EVENT_TOO_LARGE with its id, and its dead letter keeps no copy."""
    event = _escaped_plan()
    event["data"]["goals"] = [
        goal | {"description": goal["description"] * 2} for goal in event["data"]["goals"]
    ]
    record = dataclasses.replace(hub.record(event), value=json.dumps(event["data"]).encode())
    out = hub.feed(record)
    letter = DeadLetter.from_json(only(out, hub.layout.deadletter).value or b"")
    assert letter is not None
    assert (letter.code, letter.event_id, letter.record) == (
        ErrorCode.EVENT_TOO_LARGE.value,
        event["id"],
        None,
    )


def test_an_event_just_over_the_limit_is_not_copied_though_its_record_would_fit(
    hub: InMemoryPipeline,
) -> None:
    """The record's bytes leave out what the structured size counts: EVENT_TOO_LARGE is kept by reference anyway."""
    event = load_example(REFERRAL)
    event["data"]["request"]["summary"] = "x"
    event["data"]["request"]["summary"] = "x" * (MAX_EVENT_BYTES + 1 - event_size(event) + 1)
    assert event_size(event) > MAX_EVENT_BYTES
    record = hub.record(event)
    assert len(record.value or b"") <= MAX_EVENT_BYTES  # small enough to copy
    letter = DeadLetter.from_json(only(hub.feed(record), hub.layout.deadletter).value or b"")
    assert letter is not None
    assert (letter.code, letter.record) == (ErrorCode.EVENT_TOO_LARGE.value, None)


def test_a_structured_record_refused_unread_gets_a_status_under_its_id(
    hub: InMemoryPipeline,
) -> None:
    """A structured record over UNREAD_BYTES is dead-lettered with the id written before its data, and its sender sees a status."""
    event = load_example(REFERRAL)
    event["data"]["request"]["summary"] = "a" * UNREAD_BYTES
    good = hub.record(event)
    record = dataclasses.replace(
        good,
        headers=(("content-type", b"application/cloudevents+json"),),
        value=json.dumps(event).encode(),
    )
    out = hub.feed(record)
    assert topics(out) == [hub.layout.status, hub.layout.deadletter]
    status = StatusRecord.from_json(out[0].value or b"")
    letter = DeadLetter.from_json(out[1].value or b"")
    assert status is not None
    assert letter is not None
    assert (status.status, status.codes) == ("dead-lettered", ("EVENT_TOO_LARGE",))
    assert out[0].key == f"{event['source']} {event['id']}".encode()
    assert (letter.event_id, letter.record) == (event["id"], None)


def test_a_record_on_the_topic_of_no_registered_partner_is_dead_lettered(
    hub: InMemoryPipeline,
) -> None:
    """An inbound topic of no partner: SOURCE_MISMATCH, partner unknown, no status (no sender)."""
    record = hub.record(load_example(REFERRAL), topic=hub.layout.inbound("nobody"))
    out = hub.feed(record)
    assert topics(out) == [hub.layout.deadletter]
    assert dict(out[0].headers)["hub-partner"] == b"unknown"
    letter = DeadLetter.from_json(out[0].value or b"")
    assert letter is not None
    assert (letter.partner, letter.code) == (None, ErrorCode.SOURCE_MISMATCH.value)


def test_another_partners_source_is_the_dead_letters_code_whatever_else_is_wrong(
    hub: InMemoryPipeline,
) -> None:
    """An event with another partner's source and an invalid id is dead-lettered SOURCE_MISMATCH, the code HTTP answers 403 with."""
    event = load_example(REFERRAL)
    event["id"] = "not a valid id"
    event["source"] = "urn:nld:agb:01765432"
    out = hub.feed(hub.record(event, topic=hub.layout.inbound("gp-de-linde")))
    letter = DeadLetter.from_json(out[0].value or b"")
    assert letter is not None
    assert [(e.path, e.code) for e in letter.errors] == [("source", ErrorCode.SOURCE_MISMATCH)]
    assert dict(out[0].headers)["hub-reason-code"] == b"SOURCE_MISMATCH"


def test_a_bug_in_a_stage_dead_letters_the_event_and_the_next_one_flows(
    hub: InMemoryPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception in the rules is PROCESSING_FAILED for that event; the partition goes on."""
    original = pipeline_module.apply_rules
    calls = 0

    def fails_once(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "apply_rules", fails_once)
    first, second = load_example(REFERRAL), load_example(REFERRAL)
    second["id"] = "second-referral"
    second["data"]["referral_id"] = second["subject"] = "DL-2025-0318"
    out = hub.feed(first, second)
    letters = [r for r in out if r.topic == hub.layout.deadletter]
    assert [dict(r.headers)["hub-reason-code"] for r in letters] == [b"PROCESSING_FAILED"]
    assert hub.layout.disclosures in topics(out)  # the second event was routed
    assert hub.state.get("referral:DL-2025-0318") is not None
    assert hub.state.get("referral:DL-2025-0317") is None  # the failed event changed nothing


def test_refused_output_writes_a_status_and_a_dead_letter_without_copy(
    hub: InMemoryPipeline,
) -> None:
    """When Kafka refuses the output, the event is dead-lettered by reference with its status."""
    record = hub.record(load_example(REFERRAL))
    out = hub.pipeline.refused(record, RuntimeError("too large"))
    assert topics(out) == [hub.layout.status, hub.layout.deadletter]
    status = StatusRecord.from_json(out[0].value or b"")
    assert status is not None
    assert (status.status, status.codes, status.type) == (
        "dead-lettered",
        ("PROCESSING_FAILED",),
        None,
    )
    letter = DeadLetter.from_json(out[1].value or b"")
    assert letter is not None
    assert letter.record is None
    assert letter.code == "PROCESSING_FAILED"


def test_a_batch_writes_each_chain_head_once_after_the_per_record_output() -> None:
    """``handle_batch`` writes what ``handle`` writes per record, but each chain's head once: its last."""
    from hub.testing import scenario

    one_by_one, batched = InMemoryPipeline(clock=lambda: NOW), InMemoryPipeline(clock=lambda: NOW)
    for hub in (one_by_one, batched):  # events without a traceparent start numbered traces
        numbers = itertools.count(1)
        hub.pipeline._ctx = dataclasses.replace(
            hub.pipeline._ctx, new_trace_id=lambda n=numbers: f"{next(n):032x}"
        )
    records = [one_by_one.record(event) for event in scenario()]
    state, held = one_by_one.state.overlay(), one_by_one.held.overlay()
    each = [r for record in records for r in one_by_one.pipeline.handle(record, state, held)]
    out = batched.feed_records(records)

    def is_head(r: OutRecord) -> bool:
        return (r.key or b"").startswith(b"audit-chain:")

    assert [r for r in out if not is_head(r)] == [r for r in each if not is_head(r)]
    last_heads = {r.key: r for r in each if is_head(r)}
    assert len(last_heads) > 1  # the scenario's senders make several chains
    assert out[-len(last_heads) :] == list(last_heads.values())
    assert len([r for r in out if is_head(r)]) == len(last_heads)
    assert {k: v for k, v in batched.state.scan()} == dict(state.scan())


def test_the_dead_letter_and_its_log_line_name_no_unknown_key(hub: InMemoryPipeline) -> None:
    """A key that could be a resident's name is neither in the dead letter's reason nor in the log line (privacy.md, invariant 5); the record copy keeps it."""
    event = load_example(REFERRAL)
    event["data"]["client"]["esther_van_dalfsen"] = True
    with structlog.testing.capture_logs() as logs:
        out = hub.feed(event)
    letter = DeadLetter.from_json(only(out, hub.layout.deadletter).value or b"")
    assert letter is not None
    assert [e.path for e in letter.errors] == ["data.client.*"]
    assert letter.record is not None  # for a replay, and an operator's logged viewing
    [line] = [entry for entry in logs if entry["event"] == "event_dead_lettered"]
    assert line["paths"] == ["data.client.*"]
    assert "dalfsen" not in json.dumps(logs, default=str)


def test_a_status_record_never_keeps_a_key_the_partner_chose(hub: InMemoryPipeline) -> None:
    """The status topic is kept for good: an unknown field's key (a surname, say) is "*" there, as in the dead letter."""
    event = load_example(REFERRAL)
    event["data"]["client"]["dalfsen"] = True
    out = hub.feed(event)
    status = StatusRecord.from_json(only(out, hub.layout.status).value or b"")
    letter = DeadLetter.from_json(only(out, hub.layout.deadletter).value or b"")
    assert status is not None
    assert letter is not None
    assert [(path, code) for path, code, _ in status.errors] == [("data.client.*", "FIELD_UNKNOWN")]
    assert [e.path for e in letter.errors] == ["data.client.*"]
    assert b"dalfsen" not in (only(out, hub.layout.status).value or b"")
