"""The Kafka adapters: binary and structured mode as a partner's SDK writes them, and every way a record fails."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from hub.connectors.registry import load_registry
from hub.envelope import to_kafka
from hub.errors import ErrorCode
from hub.inbound import (
    KAFKA_ADAPTERS,
    UNREAD_BYTES,
    KafkaBinary,
    KafkaStructured,
    Reading,
    choose_kafka,
)
from hub.schemas import validate_event
from hub.testing import make_event
from tests.sdk import API, APIS, kafka_binary, kafka_structured

REGISTRY = load_registry()


@dataclass(frozen=True)
class Record:
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    value: bytes | None


def record(key: bytes | None, headers: list[tuple[str, bytes]], value: bytes | None) -> Record:
    return Record(key, tuple(headers), value)


def read(message: Record) -> Reading:
    adapter = choose_kafka(KAFKA_ADAPTERS, message.headers)
    assert adapter is not None
    return adapter.read(message)


def event_with(**attributes: Any) -> dict[str, Any]:
    return make_event("cases.closed") | attributes


def structured(event: dict[str, Any], **headers: bytes) -> Record:
    return record(
        event["subject"].encode(),
        [("content-type", b"application/cloudevents+json"), *headers.items()],
        json.dumps(event).encode(),
    )


def errors(reading: Reading) -> list[tuple[str, ErrorCode]]:
    return [(e.path, e.code) for e in reading.errors]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("partitionkey", [True, False])
@pytest.mark.parametrize("mode", [kafka_binary, kafka_structured])
def test_what_the_sdk_writes_is_read_and_validates(api: API, partitionkey: bool, mode: Any) -> None:
    """Binary and structured mode from either SDK API, with or without partitionkey, give the same valid event."""
    event = make_event("referrals.submitted")
    if partitionkey:
        event["partitionkey"] = event["subject"]
    reading = read(record(*mode(event, api)))
    assert reading.errors == ()
    assert reading.event is not None
    valid = validate_event(reading.event, sender=REGISTRY.by_source(event["source"]))
    assert (
        valid.to_cloud_event().to_structured()
        == validate_event(event, sender=None).to_cloud_event().to_structured()
    )


def test_the_content_type_chooses_the_mode() -> None:
    """cloudevents content types and records without ce_ headers are structured; the rest binary."""
    structured_mode, binary_mode = KAFKA_ADAPTERS
    assert isinstance(structured_mode, KafkaStructured)
    assert isinstance(binary_mode, KafkaBinary)
    cases = {
        (("content-type", b"application/cloudevents+json"),): structured_mode,
        (("Content-Type", b"Application/CloudEvents+JSON; charset=utf-8"),): structured_mode,
        (("ce_id", b"x"), ("content-type", b"application/cloudevents+json")): structured_mode,
        (("content-type", b"application/json"),): structured_mode,  # no ce_ header at all
        (): structured_mode,
        (("ce_id", b"x"), ("content-type", b"application/json")): binary_mode,
        (("CE_ID", b"x"),): binary_mode,
        (("ce_id", b"x"), ("content-type", b"text/plain")): binary_mode,
    }
    for headers, adapter in cases.items():
        assert choose_kafka(KAFKA_ADAPTERS, headers) is adapter, headers


def test_a_hub_binary_record_reads_as_before() -> None:
    """The hub's own binary-mode encoding reads back to the structured dict, partitionkey included."""
    event = event_with(partitionkey=make_event("cases.closed")["subject"])
    reading = read(record(*to_kafka(event)))
    assert reading.event == event


ID = "8a6a6a34-9c2f-4d8a-9f0e-0c9d3b1a2b3c"


@pytest.mark.parametrize(
    ("message", "expected", "event_id"),
    [
        pytest.param(
            record(b"k", [("content-type", b"application/cloudevents+json")], None),
            [("", ErrorCode.FIELD_REQUIRED)],
            None,
            id="no value",
        ),
        pytest.param(
            record(None, [("content-type", b"application/cloudevents+json")], b"{not json"),
            [("", ErrorCode.MALFORMED_JSON)],
            None,
            id="not json",
        ),
        pytest.param(
            record(None, [("content-type", b"application/cloudevents+json")], b'{"a": NaN}'),
            [("", ErrorCode.MALFORMED_JSON)],
            None,
            id="NaN",
        ),
        pytest.param(
            record(
                None,
                [("content-type", b"application/cloudevents+json")],
                b'{"id": "a", "id": "b"}',
            ),
            [("", ErrorCode.MALFORMED_JSON)],
            None,
            id="duplicate keys",
        ),
        pytest.param(
            record(None, [("content-type", b"application/cloudevents+json")], b"\xff\xfe{}"),
            [("", ErrorCode.MALFORMED_JSON)],
            None,
            id="not utf-8",
        ),
        pytest.param(
            record(None, [("content-type", b"application/cloudevents+json")], b"[1]"),
            [("", ErrorCode.ENVELOPE_INVALID)],
            None,
            id="an array",
        ),
        pytest.param(
            record(
                None,
                [("content-type", b"application/cloudevents-batch+json")],
                json.dumps({"id": ID}).encode(),
            ),
            [("", ErrorCode.CONTENT_TYPE_UNSUPPORTED)],
            ID,
            id="a batch content type",
        ),
        pytest.param(
            record(
                None,
                [("content-type", b"application/cloudevents+json; charset=latin-1")],
                json.dumps({"id": ID}).encode(),
            ),
            [("", ErrorCode.CONTENT_TYPE_UNSUPPORTED)],
            ID,
            id="another charset",
        ),
        pytest.param(
            record(
                None,
                [("content-type", b"application/cloudevents+xml")],
                b"<event/>",
            ),
            [("", ErrorCode.CONTENT_TYPE_UNSUPPORTED)],
            None,
            id="another event format",
        ),
        pytest.param(
            record(
                None,
                [
                    ("content-type", b"application/cloudevents+json"),
                    ("content-type", b"application/cloudevents+json"),
                ],
                json.dumps({"id": ID}).encode(),
            ),
            [("datacontenttype", ErrorCode.ENVELOPE_INVALID)],
            ID,
            id="content-type twice",
        ),
        pytest.param(
            record(
                b"ZWZ-other",
                [("content-type", b"application/cloudevents+json")],
                json.dumps({"id": ID, "subject": "ZWZ-2025-0042"}).encode(),
            ),
            [("subject", ErrorCode.SUBJECT_MISMATCH)],
            ID,
            id="key is not the subject",
        ),
        pytest.param(
            record(
                b"\xff",
                [("content-type", b"application/cloudevents+json")],
                json.dumps({"id": ID, "subject": "ZWZ-2025-0042"}).encode(),
            ),
            [("subject", ErrorCode.SUBJECT_MISMATCH)],
            ID,
            id="key not utf-8",
        ),
        pytest.param(
            record(
                None,
                [("content-type", b"text/plain")],
                json.dumps({"id": ID, "datacontenttype": "application/json"}).encode(),
            ),
            [("datacontenttype", ErrorCode.ENVELOPE_INVALID)],
            ID,
            id="content-type and datacontenttype differ",
        ),
        pytest.param(
            record(None, [("content-type", b"\xffjson")], json.dumps({"id": ID}).encode()),
            [("datacontenttype", ErrorCode.ENVELOPE_INVALID)],
            ID,
            id="content-type not utf-8",
        ),
    ],
)
def test_structured_records_that_cannot_be_read(
    message: Record, expected: list[tuple[str, ErrorCode]], event_id: str | None
) -> None:
    """Each unreadable structured record has its path and code, and the id where one could be read."""
    reading = read(message)
    assert reading.event is None
    assert errors(reading) == expected
    assert reading.event_id == event_id


@pytest.mark.parametrize(
    "event_id",
    ["999900018", "REF-999900018", "Esther van Dalfsen 1986-02-11", "x" * 129, 7, None],
)
def test_an_id_outside_the_contract_is_never_reported(event_id: object) -> None:
    """An unreadable record's id is reported only when it keeps the contract's rules (no BSN, no name)."""
    value = json.dumps({"id": event_id, "subject": "ZWZ-2025-0042"}).encode()
    reading = read(record(b"other", [("content-type", b"application/cloudevents+json")], value))
    assert errors(reading) == [("subject", ErrorCode.SUBJECT_MISMATCH)]
    assert reading.event_id is None


def test_a_binary_record_that_cannot_be_read_names_its_ce_id() -> None:
    """A binary record whose value is not JSON is MALFORMED_JSON at data, with its ce_id to report."""
    key, headers, _ = to_kafka(event_with(id=ID))
    reading = read(record(key, headers, b"{oops"))
    assert errors(reading) == [("data", ErrorCode.MALFORMED_JSON)]
    assert reading.event_id == ID
    bsn_id = [(n, b"999900018" if n == "ce_id" else v) for n, v in headers]
    assert read(record(key, bsn_id, b"{oops")).event_id is None


@pytest.mark.parametrize("name", ["ce_data", "CE_DATA"])
def test_a_ce_data_header_is_refused_not_overwritten(name: str) -> None:
    """In binary mode data is the value: a ce_data header (which could hold anything) is ENVELOPE_INVALID at data, as ce-data over HTTP."""
    key, headers, value = to_kafka(event_with(id=ID))
    reading = read(record(key, [*headers, (name, b'{"bsn": "999900018"}')], value))
    assert errors(reading) == [("data", ErrorCode.ENVELOPE_INVALID)]
    assert reading.event_id == ID


def test_a_structured_record_with_ce_headers_beside_its_value_is_rejected() -> None:
    """In structured mode the value holds every attribute; each ce_ header beside it is EXTENSION_NOT_ALLOWED at its name, never its value."""
    event = event_with(id=ID)
    reading = read(
        structured(event, ce_subject=b"999900018", ce_foo=b"Esther van Dalfsen", CE_Esther=b"x")
    )
    assert reading.event is None
    assert errors(reading) == [
        ("headers.ce_subject", ErrorCode.EXTENSION_NOT_ALLOWED),
        ("headers.ce_foo", ErrorCode.EXTENSION_NOT_ALLOWED),
        ("headers.*", ErrorCode.EXTENSION_NOT_ALLOWED),
    ]
    assert reading.event_id == ID
    text = json.dumps([e.as_dict() for e in reading.errors])
    assert "999900018" not in text
    assert "Esther" not in text


def test_sdk_1_structured_mode_takes_its_datacontenttype_from_the_header() -> None:
    """The old API's structured record (content-type = datacontenttype, no ce_ header) reads whole."""
    event = event_with(id=ID)
    value = {k: v for k, v in event.items() if k != "datacontenttype"}
    reading = read(
        record(
            event["subject"].encode(),
            [("content-type", b"application/json")],
            json.dumps(value).encode(),
        )
    )
    assert reading.event == value | {"datacontenttype": "application/json"}


def test_identify_reads_what_it_can_without_trusting_the_record() -> None:
    """identify: binary from one ce_id header, structured from the value unless it is too large to read."""
    binary, structured_mode = KafkaBinary(), KafkaStructured()
    assert binary.identify(record(None, [("CE_ID", ID.encode())], None)) == ID
    assert binary.identify(record(None, [("ce_id", ID.encode()), ("ce_id", b"x")], None)) is None
    assert binary.identify(record(None, [("ce_id", b"\xff")], None)) is None
    assert binary.identify(record(None, [], None)) is None
    value = json.dumps({"id": ID}).encode()
    assert structured_mode.identify(record(None, [], value)) == ID
    assert structured_mode.identify(record(None, [], b" " * 600_000 + value)) == ID
    assert structured_mode.identify(record(None, [], b" " * (UNREAD_BYTES + 1) + value)) is None
    assert structured_mode.identify(record(None, [], b"{")) is None


def _unread(start: bytes) -> Record:
    """A structured record over UNREAD_BYTES: ``start``, then data filling it up."""
    filler = b'"data": {"text": "' + b"a" * UNREAD_BYTES + b'"}}'
    return record(None, [("content-type", b"application/cloudevents+json")], start + filler)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (b'{"specversion": "1.0", "id": "' + ID.encode() + b'", ', ID),
        (b'\n{ "id" :"' + ID.encode() + b'" ,"type":{"a":[1,"}"]},', ID),
        (b'{"id": "' + ID.encode() + b'", "id": "other", ', None),
        (b'{"specversion": "1.0", ', None),
        (b'{"id": "REF-999900018", ', None),
        (b'{"id": 7, ', None),
        (b'{"id": "a\xffb", ', None),
        (b'{"source": "\xff", "id": "' + ID.encode() + b'", ', None),
        (b'["id", ', None),
        (b'{"type": "' + b"x" * 20_000 + b'", "id": "' + ID.encode() + b'", ', None),
    ],
)
def test_a_value_too_large_to_read_names_the_id_before_its_data(
    start: bytes, expected: str | None
) -> None:
    """Over UNREAD_BYTES only the members before data in the value's first 16 KiB are read; the id once there is reported."""
    assert KafkaStructured().identify(_unread(start)) == expected


def test_never_stored_attributes_keep_a_record_out_of_its_dead_letter_copy() -> None:
    """tracestate and partitionkey are cut from binary headers (any case); a structured value holding them is not copied."""
    binary, structured_mode = KafkaBinary(), KafkaStructured()
    headers = [("ce_id", b"1"), ("CE_TRACESTATE", b"v=1"), ("ce_partitionkey", b"k")]
    assert binary.stored_headers(record(None, headers, b"{}")) == (("ce_id", b"1"),)
    event = event_with(id=ID)
    plain = structured(event, ce_tracestate=b"v=1", tracestate=b"v=1")
    assert structured_mode.stored_headers(plain) == (
        ("content-type", b"application/cloudevents+json"),
    )
    assert structured_mode.stored_headers(structured(event | {"tracestate": "v=1"})) is None
    assert structured_mode.stored_headers(structured(event | {"partitionkey": "x"})) is None
    assert structured_mode.stored_headers(record(None, [], b"{unreadable")) is None


def test_null_header_values_are_read_as_absent_or_refused() -> None:
    """A header with a null value (Kafka allows it) never makes an adapter raise."""
    event = event_with(id=ID)
    value = json.dumps(event).encode()
    nulls: list[tuple[str, Any]] = [("content-type", None), ("ce_id", None)]
    for headers in (nulls[:1], nulls, nulls[1:]):
        message = Record(event["subject"].encode(), tuple(headers), value)
        for adapter in KAFKA_ADAPTERS:
            adapter.read(message)
            adapter.identify(message)
            adapter.stored_headers(message)
    assert read(Record(None, tuple(nulls[:1]), value)).event == event


def test_a_copy_keeps_only_the_headers_the_hub_reads() -> None:
    """Binary: the accepted attributes' ce_ headers (any case, repeats kept) and content-type; no plain tracestate, x- header, ce_data or unknown ce_ header."""
    key, headers, value = to_kafka(event_with(id=ID))
    others = [
        ("tracestate", b"vendor=v"),
        ("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"),
        ("x-client-bsn", b"999900018"),
        ("ce_foo", b"Esther"),
        ("ce_data", b"{}"),
        ("CE_ID", b"again"),
    ]
    kept = KafkaBinary().stored_headers(record(key, [*headers, *others], value))
    assert kept == (*headers, ("CE_ID", b"again"))
    assert {name for name, _ in headers} >= {"ce_id", "ce_subject", "content-type"}
