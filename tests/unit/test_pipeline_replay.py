"""A replayed dead letter in the pipeline: routed after a stateful rejection, never delivered twice."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from hub.pipeline import InboundRecord, OutRecord
from hub.records import DeadLetter, Replay
from hub.router import _inbound
from hub.testing import InMemoryPipeline, load_example

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
REQUESTED = "provisions.requested/valid/begeleiding-outputgericht.json"
DECIDED = "provisions.decided/valid/begeleiding-granted.json"


@pytest.fixture
def hub() -> InMemoryPipeline:
    """The demo hub's pipeline with in-memory state and a fixed clock."""
    return InMemoryPipeline(clock=lambda: NOW)


def replayed(record: InboundRecord, count: int = 1, of: str = "dl-0-0") -> InboundRecord:
    """The record as the router reads it back from the replay topic."""
    return dataclasses.replace(record, replays=count, replay_of=of)


def on(out: list[OutRecord], topic: str) -> list[OutRecord]:
    return [r for r in out if r.topic == topic]


def test_a_stateful_rejection_marks_its_seen_marker_rejected(hub: InMemoryPipeline) -> None:
    """A decision on an unknown request is dead-lettered; its seen marker says it was rejected."""
    out = hub.feed(load_example(DECIDED))
    [marker] = [r for r in out if (r.key or b"").startswith(b"seen:")]
    assert json.loads(marker.value or b"") == {"received_on": "2026-01-05", "rejected": True}
    assert len(on(out, hub.layout.deadletter)) == 1


def test_a_partners_resend_of_a_rejected_event_stays_a_duplicate(hub: InMemoryPipeline) -> None:
    """Without a replay, the same (source, id) again writes nothing, also after the request arrived."""
    decision = load_example(DECIDED)
    hub.feed(decision)
    hub.feed(load_example(REQUESTED))
    assert hub.feed(decision) == []


def test_a_replay_routes_a_rejected_event_once_its_request_is_known(hub: InMemoryPipeline) -> None:
    """The replayed decision is delivered, its status says so, and a second replay writes nothing."""
    record = hub.record(load_example(DECIDED))
    hub.feed(record)
    hub.feed(load_example(REQUESTED))
    out = hub.feed(replayed(record))
    swt = hub.layout.deliveries(hub.registry.only("swt"))
    assert len(on(out, swt)) == 1
    assert on(out, hub.layout.deadletter) == []
    [marker] = [r for r in out if (r.key or b"").startswith(b"seen:")]
    assert json.loads(marker.value or b"") == {"received_on": "2026-01-05"}
    assert hub.feed(replayed(record, of="dl-0-1")) == []


def test_a_replay_of_a_routed_event_is_a_duplicate(hub: InMemoryPipeline) -> None:
    """An event that was delivered is never delivered again by a replay."""
    record = hub.record(load_example(REQUESTED))
    assert hub.feed(record) != []
    assert hub.feed(replayed(record)) == []


def test_a_replay_dead_lettered_again_counts_and_keeps_its_origin(hub: InMemoryPipeline) -> None:
    """Still unroutable: the new dead letter has the original origin, the count and its predecessor."""
    record = hub.record(load_example(DECIDED))
    hub.feed(record)
    [dead] = on(hub.feed(replayed(record, count=2, of="dl-0-7")), hub.layout.deadletter)
    letter = DeadLetter.from_json(dead.value or b"")
    assert letter is not None
    assert (letter.topic, letter.partition, letter.offset) == (record.topic, 0, record.offset)
    assert (letter.replays, letter.replay_of) == (2, "dl-0-7")


class _Record:
    """What the router's consumer hands over (the fields ``_inbound`` reads)."""

    def __init__(self, topic: str, headers: list[tuple[str, bytes]]) -> None:
        self.topic, self.partition, self.offset = topic, 3, 11
        self.key, self.value, self.headers = b"k", b"v", headers
        self.timestamp, self.timestamp_type = 1767605400000, 1


def test_the_router_reads_a_replay_record_as_its_senders_original() -> None:
    """On the replay topic, ``hub-replay-*`` headers give origin and count and are taken off."""
    replay = Replay(
        topic="p.inbound.gp-de-linde", partition=1, offset=5, count=1, of="dl-0-9", operator="ops1"
    )
    own = [("ce_id", b"x")]
    read = _inbound(_Record("p.replay", [*own, *replay.headers]), "p.replay")  # type: ignore[arg-type]
    assert (read.topic, read.partition, read.offset) == ("p.inbound.gp-de-linde", 1, 5)
    assert (read.replays, read.replay_of, read.headers) == (1, "dl-0-9", tuple(own))


def test_replay_headers_on_an_inbound_topic_are_the_partners_and_ignored() -> None:
    """A partner cannot claim a replay: on its inbound topic the headers are kept as they are."""
    replay = Replay(topic="t", partition=0, offset=0, count=1, of="dl-0-0", operator="x")
    headers = list(replay.headers)
    read = _inbound(_Record("p.inbound.gp-de-linde", headers), "p.replay")  # type: ignore[arg-type]
    assert (read.topic, read.replays, read.replay_of) == ("p.inbound.gp-de-linde", 0, None)
    assert read.headers == tuple(headers)


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_a_replay_from_the_copy_routes_without_the_headers_the_hub_does_not_keep(
    hub: InMemoryPipeline, mode: str
) -> None:
    """The copy keeps only the headers the hub reads (no x-client-bsn, no plain tracestate), and replaying it routes the event."""
    event = load_example(DECIDED)
    record = hub.record(event)
    if mode == "structured":
        record = dataclasses.replace(
            record,
            headers=(("content-type", b"application/cloudevents+json"),),
            value=json.dumps(event).encode(),
        )
    extra = (("x-client-bsn", b"999900018"), ("tracestate", b"vendor=zqstate"))
    record = dataclasses.replace(record, headers=record.headers + extra)
    out = hub.feed(record)
    [letter_record] = on(out, hub.layout.deadletter)
    letter = DeadLetter.from_json(letter_record.value or b"")
    assert letter is not None
    assert letter.record is not None
    assert letter.record.headers == record.headers[: -len(extra)]
    assert b"999900018" not in (letter_record.value or b"")
    assert b"zqstate" not in (letter_record.value or b"")
    hub.feed(load_example(REQUESTED))
    copy = dataclasses.replace(
        record, headers=letter.record.headers, key=letter.record.key, value=letter.record.value
    )
    out = hub.feed(replayed(copy))
    assert len(on(out, hub.layout.deliveries(hub.registry.only("swt")))) == 1
