"""The CloudEvent envelope: structured-mode parsing and the Kafka binary-mode codec."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from hub.envelope import (
    CloudEvent,
    compact_size_bound,
    event_size,
    from_kafka,
    parse_structured,
    path_key,
    strict_loads,
    to_kafka,
)
from hub.errors import ErrorCode, InvalidEvent
from hub.schemas import validate_event
from hub.testing import (
    EXAMPLES_DIR,
    load_example,
    make_event,
    personal_values,
    sender_of,
    valid_example,
)

VALID_FILES = sorted(EXAMPLES_DIR.glob("*/valid/*.json"))


def _name(path: Path) -> str:
    return str(path.relative_to(EXAMPLES_DIR))


@pytest.mark.parametrize("path", VALID_FILES, ids=_name)
def test_kafka_round_trip_gives_back_the_same_event(path: Path) -> None:
    """to_kafka then from_kafka gives the event's structured form, and it validates to the same event."""
    raw = load_example(path)
    sender = sender_of(raw)
    event = validate_event(raw, sender=sender)
    cloud_event = event.to_cloud_event()
    key, headers, value = to_kafka(cloud_event)
    structured = from_kafka(key, headers, value)
    assert structured == cloud_event.to_structured()
    assert structured == {**raw, "data": event.canonical_data()}
    again = validate_event(structured, sender=sender)
    assert again == event


@pytest.mark.parametrize("path", VALID_FILES, ids=_name)
def test_no_personal_value_reaches_a_header_or_the_key(path: Path) -> None:
    """No header value and not the key holds any personal value of the example."""
    raw = load_example(path)
    event = validate_event(raw, sender=sender_of(raw))
    key, headers, _ = to_kafka(event.to_cloud_event())
    values = set(personal_values(raw["data"]))
    for _, header in headers:
        text = header.decode()
        assert not [v for v in values if v in text], text
    assert key.decode() == raw["subject"]
    assert key.decode() not in values


def test_binary_mode_headers() -> None:
    """Binary mode: ce_* headers for the attributes present, content-type, key subject, data as value."""
    raw = valid_example("referrals.submitted")
    key, headers, value = to_kafka(validate_event(raw, sender=sender_of(raw)).to_cloud_event())
    assert key == b"DL-2025-0317"
    assert headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", raw["id"].encode()),
        ("ce_source", b"urn:nld:agb:01234567"),
        ("ce_type", b"nl.sociaaldomein.referrals.submitted.v1"),
        ("ce_time", b"2025-03-03T10:42:17+01:00"),
        ("ce_subject", b"DL-2025-0317"),
        ("ce_dataschema", b"https://hub.zwolle.example/schemas/referrals.submitted.v1.json"),
        ("ce_traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("content-type", b"application/json"),
    ]
    assert json.loads(value)["referral_id"] == "DL-2025-0317"


def test_structured_dict_encodes_like_its_cloud_event() -> None:
    """A valid structured-mode dict and its CloudEvent give the same record."""
    raw = valid_example("care.stopped")
    event = validate_event(raw, sender=sender_of(raw))
    assert to_kafka(raw) == to_kafka(event.to_cloud_event())


def test_a_delivery_keeps_the_senders_time_and_offset() -> None:
    """A delivery's time is written as the sender's RFC 3339 text, offset kept, no tracestate."""
    outbound = CloudEvent(
        id="delivery-1",
        source="urn:nld:oin:00000001234567890000:systeem:backoffice",
        type="nl.sociaaldomein.budgets.status-reported.v1",
        time="2025-04-01T07:00:00+02:00",
        subject="Wijkteam Zwolle-Zuid",
        data={"team": "Wijkteam Zwolle-Zuid"},
    )
    key, headers, value = to_kafka(outbound)
    assert key == b"Wijkteam Zwolle-Zuid"
    assert ("ce_time", b"2025-04-01T07:00:00+02:00") in headers
    assert "ce_tracestate" not in dict(headers)  # never forwarded (messages.md, Envelope)
    assert json.loads(value) == {"team": "Wijkteam Zwolle-Zuid"}


def test_to_kafka_refuses_a_bsn_subject() -> None:
    """The codec never writes a BSN into the key and headers."""
    event = CloudEvent(
        id="1",
        source="urn:x",
        type="nl.sociaaldomein.cases.closed.v1",
        time="2025-07-15T14:00:00+00:00",
        subject="999900018",
        data={},
    )
    with pytest.raises(InvalidEvent) as caught:
        to_kafka(event)
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("subject", ErrorCode.SUBJECT_IS_BSN)
    ]
    with pytest.raises(InvalidEvent):
        to_kafka(make_event("cases.closed", envelope={"subject": "999900018"}))


def test_to_kafka_refuses_an_extension_attribute() -> None:
    """A dict with an extension attribute is not encoded: it could carry personal data."""
    raw = make_event("cases.closed", envelope={"clientbsn": "999900018"})
    with pytest.raises(InvalidEvent) as caught:
        to_kafka(raw)
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("clientbsn", ErrorCode.EXTENSION_NOT_ALLOWED)
    ]


def test_to_kafka_encodes_an_invalid_dict_as_it_is() -> None:
    """A tool may send an invalid event: its attributes go as they are, for the hub to reject."""
    raw = make_event("cases.closed", envelope={"specversion": 1.0, "time": "yesterday"})
    structured = from_kafka(*to_kafka(raw))
    assert (structured["specversion"], structured["time"]) == ("1.0", "yesterday")


def _record(**changes: Any) -> tuple[bytes | None, list[tuple[str, bytes]], bytes | None]:
    raw = valid_example("cases.closed")
    key, headers, value = to_kafka(raw)
    headers = [*changes.get("headers", headers), *changes.get("extra", [])]
    return changes.get("key", key), headers, changes.get("value", value)


def test_from_kafka_keeps_unknown_ce_headers_for_validation_to_reject() -> None:
    """An unknown ce_ header becomes an attribute, so validation rejects it as an extension."""
    key, headers, value = _record()
    structured = from_kafka(key, [*headers, ("ce_clientname", b"x"), ("x-trace", b"y")], value)
    assert structured["clientname"] == "x"
    assert "x-trace" not in structured
    with pytest.raises(InvalidEvent) as caught:
        validate_event(structured, sender=None)
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("clientname", ErrorCode.EXTENSION_NOT_ALLOWED)
    ]


@pytest.mark.parametrize(
    ("record", "path", "code"),
    [
        ({"value": b"{not json"}, "data", ErrorCode.MALFORMED_JSON),
        ({"value": b'{"a": NaN}'}, "data", ErrorCode.MALFORMED_JSON),
        ({"value": b'{"a": 1, "a": 2}'}, "data", ErrorCode.MALFORMED_JSON),
        # UTF-8 only, as over HTTP (RFC 8259 8.1): json.loads would guess the others.
        ({"value": '{"a": 1}'.encode("utf-16")}, "data", ErrorCode.MALFORMED_JSON),
        ({"value": '{"a": 1}'.encode("utf-16-le")}, "data", ErrorCode.MALFORMED_JSON),
        ({"value": '{"a": 1}'.encode("utf-32")}, "data", ErrorCode.MALFORMED_JSON),
        ({"value": b'\xef\xbb\xbf{"a": 1}'}, "data", ErrorCode.MALFORMED_JSON),
        ({"value": b'{"a": "\xed\xa0\x80"}'}, "data", ErrorCode.MALFORMED_JSON),
        (
            {"extra": [("ce_datacontenttype", b"application/json")]},
            "datacontenttype",
            ErrorCode.ENVELOPE_INVALID,
        ),
        ({"value": None}, "data", ErrorCode.FIELD_REQUIRED),
        ({"key": b"ZWZ-2025-0057"}, "subject", ErrorCode.SUBJECT_MISMATCH),
        ({"headers": [("ce_id", b"1"), ("ce_id", b"2")]}, "id", ErrorCode.ENVELOPE_INVALID),
        ({"headers": [("ce_source", b"\xff")]}, "source", ErrorCode.ENVELOPE_INVALID),
    ],
)
def test_from_kafka_rejects_unusable_records(
    record: dict[str, Any], path: str, code: ErrorCode
) -> None:
    """A record that cannot be read as a CloudEvent raises InvalidEvent with a path and code."""
    with pytest.raises(InvalidEvent) as caught:
        from_kafka(*_record(**record))
    assert [(e.path, e.code) for e in caught.value.errors] == [(path, code)]


@pytest.mark.parametrize(
    "changes",
    [
        {"value": '{"a": 1}'.encode("utf-16")},
        {"value": b"{not json"},
        {"value": None},
        {"extra": [("ce_datacontenttype", b"application/json")]},
        {"extra": [("ce_data", b"{}")]},
    ],
)
def test_a_bsn_subject_is_named_whatever_else_stops_the_reading(changes: dict[str, Any]) -> None:
    """SUBJECT_IS_BSN comes first, so its dead letter is never replayed with that key again."""
    _key, headers, value = _record(**changes)
    headers = [(n, b"Z-999900018" if n == "ce_subject" else v) for n, v in headers]
    with pytest.raises(InvalidEvent) as caught:
        from_kafka(b"Z-999900018", headers, value)
    assert caught.value.errors[0].code is ErrorCode.SUBJECT_IS_BSN
    assert len(caught.value.errors) == 2


def test_a_bsn_subject_is_reported_with_a_key_that_differs_from_it() -> None:
    """A key unlike the subject stops the record's reading; a BSN in the subject is still named."""
    _key, headers, value = _record()
    headers = [(n, b"Z-999900018" if n == "ce_subject" else v) for n, v in headers]
    with pytest.raises(InvalidEvent) as caught:
        from_kafka(b"another-key", headers, value)
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("subject", ErrorCode.SUBJECT_IS_BSN),
        ("subject", ErrorCode.SUBJECT_MISMATCH),
    ]
    assert "999900018" not in " ".join(e.message for e in caught.value.errors)


@pytest.mark.parametrize(
    "value",
    [
        b'{"a":1,"a":2}',
        b'{"a" :1,"a":2}',  # whitespace before a colon: the count proves nothing
        b'{"a":"\\":","a":1}',  # an escaped quote then a colon inside a string
        b'{"a":"\\u0022:","a":1,"b":"\\":"}',  # counts that would balance without the checks
        b'{":a":1,":a":2}',  # keys opening with a colon
        b'{"a":{"b":1,"b":{}}}',
        b'{"a":[{"x":1},{"x":1,"x":2}]}',
        b'{"\\u0061":1,"a":2}',  # the same key, escaped once
    ],
)
def test_a_repeated_key_is_malformed_however_it_is_written(value: bytes) -> None:
    """The fast parse's key count never lets a repeated key through (docs/validation.md rule 14)."""
    with pytest.raises(InvalidEvent) as caught:
        from_kafka(*_record(value=value))
    assert [(e.path, e.code) for e in caught.value.errors] == [("data", ErrorCode.MALFORMED_JSON)]


@pytest.mark.parametrize(
    "value",
    [
        b'{"a": 1, "b": {"a": 1}}',
        b'{\n  "a": ":",\n  "b": "\\":\\"",\n  "c" : [1e400, -0, 1E2]\n}',
        b'{"a": "\\ud800"}',  # a lone surrogate: read here, rejected by field validation
    ],
)
def test_the_data_is_what_the_stdlib_reads(value: bytes) -> None:
    """Whichever parser reads the value, the data is what strict stdlib JSON gives."""
    assert from_kafka(*_record(value=value))["data"] == json.loads(value)


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        ([("ce_id", b"1")], b"[" + b",".join([b"1e15"] * 500) + b"]"),  # numbers grow most
        ([("ce_", b"\x01" * 300), ("ce_x", b"\x1f")], b"{}"),  # header escapes grow sixfold
        ([("content-type", b"")], b'{"a": "\\u00e9\\/", "b": [1E2, -0, 1e400, 0.1e1]}'),
        ([("ce_subject", b"s")], b'{"a": "\\ud800"}'),  # a lone surrogate is counted too
    ],
)
def test_the_compact_size_bound_holds(headers: list[tuple[str, bytes]], value: bytes) -> None:
    """An event decoded from a record is never over compact_size_bound of the record's bytes."""
    size = len(value) + sum(len(name) + len(v) for name, v in headers)
    assert event_size(from_kafka(None, headers, value)) <= compact_size_bound(size)


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.stem)
def test_the_compact_size_bound_holds_for_the_examples(path: Path) -> None:
    """The examples as Kafka records: the bound holds."""
    key, headers, value = to_kafka(load_example(path))
    size = len(key) + len(value) + sum(len(name) + len(v) for name, v in headers)
    assert event_size(from_kafka(key, headers, value)) <= compact_size_bound(size)


def test_from_kafka_without_key_does_not_compare() -> None:
    """A record without a key is read; the key check needs a key."""
    _, headers, value = _record()
    assert from_kafka(None, headers, value)["subject"] == "ZWZ-2025-0042"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", ErrorCode.MALFORMED_JSON),
        (b"\xff\xfe", ErrorCode.MALFORMED_JSON),
        (b'{"id": "1", "id": "2"}', ErrorCode.MALFORMED_JSON),
        (b'{"data": Infinity}', ErrorCode.MALFORMED_JSON),
        (b"[]", ErrorCode.ENVELOPE_INVALID),
        (b'"event"', ErrorCode.ENVELOPE_INVALID),
    ],
)
def test_parse_structured_rejects(body: bytes, code: ErrorCode) -> None:
    """Only strict JSON holding an object is a structured-mode event."""
    with pytest.raises(InvalidEvent) as caught:
        parse_structured(body)
    assert [(e.path, e.code) for e in caught.value.errors] == [("", code)]


def test_parse_structured_reads_an_example() -> None:
    """An example file parses to the same dict json.loads gives."""
    path = EXAMPLES_DIR / "referrals.submitted" / "valid" / "poh-ggz-referral.json"
    assert parse_structured(path.read_bytes()) == json.loads(path.read_text("utf-8"))
    assert parse_structured(path.read_text("utf-8")) == load_example(path)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("traceparent", "traceparent"),
        ("_private", "_private"),
        ("a_b_c", "a_b_c"),
        ("a_b_c1", "*"),  # no field of the contract has a digit
        ("dalfsen_1986_02_11", "*"),
        ("data_base64", "data_base64"),  # the CloudEvents attribute the hub names
        ("a-b_c", "*"),  # no field of the contract has a "-"
        ("esther-van-dalfsen-1986-02-11", "*"),
        ("1abc", "*"),
        ("abc12345", "*"),
        ("with space", "*"),
        ("Esther", "*"),
        ("ZQ0000A0", "*"),
        ("x" * 64, "x" * 64),
        ("x" * 65, "*"),
        (42, "*"),
    ],
)
def test_path_key(key: object, shown: str) -> None:
    """path_key shows lower-case field-like keys and replaces anything else (or a digit run) by `*`."""
    assert path_key(key) == shown


def test_a_rendered_document_is_the_value_in_binary_mode_and_a_string_in_structured_mode() -> None:
    """Text data: its UTF-8 bytes as the value with its content-type; a JSON string in structured mode."""
    document = '<?xml version="1.0" encoding="UTF-8"?>\r\n<Bericht>é</Bericht>\r\n'
    event = CloudEvent(
        id="delivery-1",
        source="urn:nld:oin:00000001234567890000:systeem:backoffice",
        type="nl.sociaaldomein.assignments.issued.v1",
        time="2026-09-14T10:00:00+02:00",
        subject="26000311",
        data=document,
        datacontenttype="application/xml",
    )
    key, headers, value = to_kafka(event)
    assert value == document.encode("utf-8")
    assert ("content-type", b"application/xml") in headers
    assert from_kafka(key, headers, value, text_data=True) == event.to_structured()
    assert event.to_structured()["data"] == document
    assert event.to_structured()["datacontenttype"] == "application/xml"
    with pytest.raises(InvalidEvent):  # what a partner sends is always read as JSON
        from_kafka(key, headers, value)


def _stdlib_strict(body: bytes) -> Any:
    """What strict JSON was before the fast parse: the stdlib with the duplicate-key hook."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise ValueError("duplicate key")
        return result

    def constant(name: str) -> Any:
        raise ValueError(name)

    return json.loads(body, object_pairs_hook=unique, parse_constant=constant)


def _outcome(parse: Any, body: bytes) -> tuple[str, str]:
    try:
        return "ok", repr(parse(body))
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__name__


def _mutations(body: bytes, rng: random.Random) -> list[bytes]:
    """Variants of a JSON body that the two parsers could read differently."""
    keys = [m.start() for m in re.finditer(rb'"[a-z_]+":', body)]
    out = [body, json.dumps(json.loads(body), indent=1).encode()]
    for start in rng.sample(keys, min(4, len(keys))):
        end = body.index(b":", start) + 1
        key = body[start:end]
        out.append(body[:start] + key + b'"x",' + body[start:])  # the key repeated
        out.append(body[:end] + b'":",' + key + body[end:])  # repeated, a colon in between
        out.append(body[: end - 1] + b" " + body[end - 1 :])  # a space before the colon
        out.append(body[:start] + b'"\\u003a' + body[start + 1 :])  # a colon escaped
        out.append(body[:start] + b'"\\u0022:' + body[start + 1 :])  # a quote escaped
        # Repeated, and a colon escaped elsewhere: the counts balance without the escape check.
        out.append(body[:start] + key + b"1," + body[start:-1] + b',"zz":"\\u003a"}')
    for _ in range(6):
        at = rng.randrange(len(body))
        out.append(body[:at] + bytes([rng.choice(b':"\\,{}[] \xff\x01u0e')]) + body[at + 1 :])
    return out


@pytest.mark.parametrize("path", VALID_FILES, ids=_name)
def test_strict_json_reads_what_the_stdlib_reads(path: Path) -> None:
    """On every example's data and variants of it, strict JSON gives the stdlib's value or error."""
    rng = random.Random(path.name)
    data = json.dumps(load_example(path)["data"], ensure_ascii=False).encode()
    for body in _mutations(data, rng):
        assert _outcome(strict_loads, body) == _outcome(_stdlib_strict, body), body
        assert _outcome(strict_loads, body.decode("utf-8", "replace")) == _outcome(
            _stdlib_strict, body.decode("utf-8", "replace")
        ), body


def test_the_hubs_own_delivery_of_a_rendered_json_document_with_a_bom_reads_back() -> None:
    """text_data (pull, webhook): a connector's JSON document with a byte order mark is read past it, as before."""
    key, headers, _value = _record()
    value = b"\xef\xbb\xbf" + b'{"a": 1}'
    assert from_kafka(key, headers, value, text_data=True)["data"] == {"a": 1}
