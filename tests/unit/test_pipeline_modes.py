"""The pipeline reads every Kafka mode a partner's SDK writes, and reports what it can of a record it cannot read."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from hub.envelope import MAX_EVENT_BYTES, event_size, to_kafka
from hub.inbound import UNREAD_BYTES
from hub.observability.logging import configure_logging
from hub.pipeline import InboundRecord, OutRecord
from hub.records import DeadLetter, StatusRecord
from hub.testing import EXAMPLES_DIR, InMemoryPipeline, load_example, personal_values
from tests.sdk import API, APIS, kafka_binary, kafka_structured

REFERRAL = "referrals.submitted/valid/poh-ggz-referral.json"
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
GP_SOURCE = "urn:nld:agb:01234567"


@pytest.fixture
def hub() -> InMemoryPipeline:
    return InMemoryPipeline(clock=lambda: NOW)


def inbound(
    hub: InMemoryPipeline, key: bytes | None, headers: Any, value: bytes | None
) -> InboundRecord:
    return InboundRecord(hub.layout.inbound("gp-de-linde"), 0, 7, key, value, tuple(headers))


def status_of(hub: InMemoryPipeline, out: list[OutRecord]) -> StatusRecord:
    [record] = [r for r in out if r.topic == hub.layout.status]
    status = StatusRecord.from_json(record.value or b"")
    assert status is not None
    return status


def letter_of(hub: InMemoryPipeline, out: list[OutRecord]) -> DeadLetter:
    [record] = [r for r in out if r.topic == hub.layout.deadletter]
    letter = DeadLetter.from_json(record.value or b"")
    assert letter is not None
    return letter


def delivery_of(hub: InMemoryPipeline, out: list[OutRecord]) -> OutRecord:
    [record] = [r for r in out if r.topic == hub.layout.deliveries(hub.registry.only("swt"))]
    return record


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("partitionkey", [True, False])
@pytest.mark.parametrize("mode", [kafka_binary, kafka_structured])
def test_every_sdk_mode_is_routed_to_the_same_delivery(
    hub: InMemoryPipeline, api: API, partitionkey: bool, mode: Any
) -> None:
    """Binary or structured, either SDK API, with or without partitionkey: the wijkteam gets the same record."""
    event = load_example(REFERRAL)
    expected = delivery_of(hub, InMemoryPipeline(clock=lambda: NOW).feed(event))
    if partitionkey:
        event["partitionkey"] = event["subject"]
    out = hub.feed(inbound(hub, *mode(event, api)))
    delivered = delivery_of(hub, out)
    assert (delivered.key, delivered.value) == (expected.key, expected.value)
    names = [name for name, _ in delivered.headers if name != "hub-disclosure-id"]
    assert names == [name for name, _ in expected.headers if name != "hub-disclosure-id"]
    assert "ce_partitionkey" not in names
    assert status_of(hub, out).status == "delivered"


def test_an_invalid_structured_event_is_reported_under_its_id(hub: InMemoryPipeline) -> None:
    """A structured-mode event that breaks the contract gets a status under its id."""
    event = load_example(REFERRAL)
    event["data"]["client"]["bsn"] = "999999991"
    out = hub.feed(inbound(hub, *kafka_structured(event, "new")))
    status = status_of(hub, out)
    assert (status.event_id, status.source, status.codes) == (
        event["id"],
        GP_SOURCE,
        ("BSN_INVALID",),
    )
    letter = letter_of(hub, out)
    assert letter.event_id == event["id"]
    assert letter.record is not None  # no partitionkey or tracestate in it: copied for replay


def test_a_structured_record_whose_envelope_cannot_be_read_still_names_its_id(
    hub: InMemoryPipeline,
) -> None:
    """A key that is not the subject: the dead letter and the status record name the value's id."""
    event = load_example(REFERRAL)
    _, headers, value = kafka_structured(event, "new")
    out = hub.feed(inbound(hub, b"another-key", headers, value))
    status = status_of(hub, out)
    assert (status.event_id, status.source, status.codes) == (
        event["id"],
        GP_SOURCE,
        ("SUBJECT_MISMATCH",),
    )
    assert letter_of(hub, out).event_id == event["id"]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("mode", [kafka_binary, kafka_structured])
def test_a_partitionkey_other_than_the_subject_is_reported_where_http_reports_it(
    hub: InMemoryPipeline, api: API, mode: Any
) -> None:
    """The SDK keys the record by partitionkey: a wrong one is SUBJECT_MISMATCH at partitionkey, as over HTTP, not at the key."""
    event = load_example(REFERRAL)
    event["partitionkey"] = "DL-2025-0999"
    out = hub.feed(inbound(hub, *mode(event, api)))
    letter = letter_of(hub, out)
    # The 1.x API's binary mode moves partitionkey into the key and writes no header for
    # it: all the record shows is a key that is not the subject.
    path = "subject" if (mode, api) == (kafka_binary, "old") else "partitionkey"
    assert [(e.path, e.code.value) for e in letter.errors] == [(path, "SUBJECT_MISMATCH")]


def test_a_key_other_than_subject_and_partitionkey_is_reported_at_the_subject(
    hub: InMemoryPipeline,
) -> None:
    """A key that is neither the subject nor the partitionkey is the key's own SUBJECT_MISMATCH."""
    event = load_example(REFERRAL)
    event["partitionkey"] = event["subject"]
    _, headers, value = kafka_binary(event, "new")
    letter = letter_of(hub, hub.feed(inbound(hub, b"another-key", headers, value)))
    assert [(e.path, e.code.value) for e in letter.errors] == [("subject", "SUBJECT_MISMATCH")]


def test_a_binary_record_whose_value_is_not_json_still_names_its_ce_id(
    hub: InMemoryPipeline,
) -> None:
    """A binary record that cannot be read is reported under its ce_id, with the sender's source."""
    event = load_example(REFERRAL)
    key, headers, _ = kafka_binary(event, "new")
    out = hub.feed(inbound(hub, key, headers, b"{not json"))
    status = status_of(hub, out)
    assert (status.event_id, status.source, status.codes) == (
        event["id"],
        GP_SOURCE,
        ("MALFORMED_JSON",),
    )
    assert letter_of(hub, out).event_id == event["id"]


def test_an_unreadable_record_with_no_readable_id_has_no_status(hub: InMemoryPipeline) -> None:
    """Nothing to look up by: a dead letter without an id and no status record."""
    out = hub.feed(inbound(hub, None, [("content-type", b"application/cloudevents+json")], b"{"))
    assert [r.topic for r in out] == [hub.layout.deadletter]
    letter = letter_of(hub, out)
    assert (letter.event_id, letter.code) == (None, "MALFORMED_JSON")


def test_a_structured_event_holding_never_stored_attributes_is_dead_lettered_by_reference(
    hub: InMemoryPipeline,
) -> None:
    """tracestate or partitionkey in the value: the dead letter keeps no copy, only the reference and digest."""
    event = load_example(REFERRAL)
    event["data"]["client"]["bsn"] = "999999991"
    event["tracestate"] = "vendor=zqstate"
    out = hub.feed(inbound(hub, *kafka_structured(event, "new")))
    letter = letter_of(hub, out)
    assert letter.record is None
    assert (letter.topic, letter.offset) == (hub.layout.inbound("gp-de-linde"), 7)
    assert not [
        r for r in out if b"zqstate" in (r.value or b"") + b"".join(v for _, v in r.headers)
    ]


def test_a_too_large_structured_record_with_its_id_after_data_has_no_id_to_report(
    hub: InMemoryPipeline,
) -> None:
    """A structured record over UNREAD_BYTES is not parsed; an id written after its data is not found."""
    value = json.dumps({"data": {"pad": " " * UNREAD_BYTES}, "id": "big-1"}).encode()
    out = hub.feed(inbound(hub, None, [("content-type", b"application/cloudevents+json")], value))
    assert [r.topic for r in out] == [hub.layout.deadletter]
    assert letter_of(hub, out).code == "EVENT_TOO_LARGE"


def test_refused_output_of_a_structured_record_is_reported_under_its_id(
    hub: InMemoryPipeline,
) -> None:
    """When Kafka refuses the output, the status names the structured value's id."""
    event = load_example(REFERRAL)
    record = inbound(hub, *kafka_structured(event, "new"))
    out = hub.pipeline.refused(record, RuntimeError("too large"))
    status = status_of(hub, out)
    assert (status.event_id, status.source, status.codes) == (
        event["id"],
        GP_SOURCE,
        ("PROCESSING_FAILED",),
    )


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """JSON log lines written by the production configuration, captured in memory."""
    buffer = io.StringIO()
    configure_logging(format="json", level="DEBUG")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    yield buffer
    structlog.reset_defaults()


def test_no_personal_value_of_any_example_leaves_a_structured_record(
    hub: InMemoryPipeline, captured: io.StringIO
) -> None:
    """Every example in Kafka structured mode, and again unreadable: no personal value in a reason, status or log."""
    examples = [load_example(path) for path in sorted(EXAMPLES_DIR.glob("*/*/*.json"))]
    values = {v for event in examples for v in personal_values(event)}
    assert len(values) > 100
    said: list[bytes] = []
    for event in examples:
        value = json.dumps(event).encode()
        headers = [("content-type", b"application/cloudevents+json")]
        subject = event.get("subject")
        key = subject.encode() if isinstance(subject, str) else None
        for record in (
            inbound(hub, key, headers, value),
            inbound(hub, b"another-key", headers, value),  # unreadable: key is not the subject
            inbound(hub, key, [("content-type", b"application/cloudevents-batch+json")], value),
        ):
            for out in hub.feed(record):
                if out.topic == hub.layout.deadletter:
                    letter = json.loads(out.value or b"")
                    said.append(json.dumps([letter["reason"], letter["event_id"]]).encode())
                elif out.topic == hub.layout.status:
                    said.append((out.key or b"") + (out.value or b""))
    text = b"\n".join(said).decode() + captured.getvalue()
    assert "event_dead_lettered" in text
    assert sorted(v for v in values if v in text) == []


def _referral_of_size(size: int) -> dict[str, Any]:
    """The example referral, fresh id, padded through its dataschema URI to exactly ``size`` bytes of compact JSON."""
    event = load_example(REFERRAL) | {"id": f"sized-{size}", "dataschema": "urn:x:"}
    event["dataschema"] += "a" * (size - event_size(event))
    assert event_size(event) == size
    return event


def _compact_structured(event: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]], bytes]:
    value = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    return event["subject"].encode(), [("content-type", b"application/cloudevents+json")], value


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_an_event_of_256_kib_is_routed_and_one_byte_more_is_too_large(
    hub: InMemoryPipeline, mode: str
) -> None:
    """Over Kafka, binary or structured, 256 KiB is delivered and 256 KiB + 1 byte is dead-lettered EVENT_TOO_LARGE."""
    encode = to_kafka if mode == "binary" else _compact_structured
    fits, over = _referral_of_size(MAX_EVENT_BYTES), _referral_of_size(MAX_EVENT_BYTES + 1)
    assert status_of(hub, hub.feed(inbound(hub, *encode(fits)))).status == "delivered"
    out = hub.feed(inbound(hub, *encode(over)))
    letter = letter_of(hub, out)
    assert (letter.code, letter.event_id) == ("EVENT_TOO_LARGE", over["id"])


def test_ce_headers_beside_a_structured_value_dead_letter_it_without_their_values(
    hub: InMemoryPipeline,
) -> None:
    """A structured referral with ce_subject and ce_foo headers is EXTENSION_NOT_ALLOWED at each header's name; its sender sees the codes."""
    event = load_example(REFERRAL)
    headers = [
        ("content-type", b"application/cloudevents+json"),
        ("ce_subject", b"999900018"),
        ("ce_foo", b"Esther van Dalfsen"),
    ]
    out = hub.feed(inbound(hub, event["subject"].encode(), headers, json.dumps(event).encode()))
    status = status_of(hub, out)
    assert (status.status, status.codes) == (
        "dead-lettered",
        ("EXTENSION_NOT_ALLOWED", "EXTENSION_NOT_ALLOWED"),
    )
    letter = letter_of(hub, out)
    assert [(e.path, e.code) for e in letter.errors] == [
        ("headers.ce_subject", "EXTENSION_NOT_ALLOWED"),
        ("headers.*", "EXTENSION_NOT_ALLOWED"),  # a header name the partner chose
    ]
    assert letter.event_id == event["id"]
