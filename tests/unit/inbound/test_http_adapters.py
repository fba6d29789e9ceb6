"""The HTTP adapters: structured, batch and binary mode as a partner's SDK sends them, and every way a request fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.connectors.registry import load_registry
from hub.errors import ErrorCode, InvalidEvent
from hub.inbound import (
    HTTP_ADAPTERS,
    HttpBatch,
    HttpBinary,
    HttpMessage,
    HttpStructured,
    Reading,
    choose_http,
)
from hub.schemas import validate_event
from hub.testing import make_event
from tests.sdk import API, APIS, http_batch, http_binary, http_structured

REGISTRY = load_registry()
ID = "8a6a6a34-9c2f-4d8a-9f0e-0c9d3b1a2b3c"


def message(headers: dict[str, str], body: bytes = b"") -> HttpMessage:
    """The request as the gateway hands it over: names in lower case."""
    return HttpMessage(tuple((name.lower(), value) for name, value in headers.items()), body)


def read(headers: dict[str, str], body: bytes) -> list[Reading]:
    request = message(headers, body)
    adapter = choose_http(HTTP_ADAPTERS, request)
    assert adapter is not None
    return adapter.read(request)


def binary_headers(event: dict[str, Any]) -> dict[str, str]:
    headers = {f"ce-{name}": str(value) for name, value in event.items() if name != "data"}
    headers.pop("ce-datacontenttype", None)
    return headers | {"content-type": "application/json"}


def errors(reading: Reading) -> list[tuple[str, ErrorCode]]:
    return [(e.path, e.code) for e in reading.errors]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("partitionkey", [True, False])
@pytest.mark.parametrize("mode", [http_binary, http_structured])
def test_what_the_sdk_sends_is_read_and_validates(api: API, partitionkey: bool, mode: Any) -> None:
    """Binary and structured mode from either SDK API give the event the hub would have read structured."""
    event = make_event("referrals.submitted")
    if partitionkey:
        event["partitionkey"] = event["subject"]
    (reading,) = read(*mode(event, api))
    assert reading.event is not None
    valid = validate_event(reading.event, sender=REGISTRY.by_source(event["source"]))
    assert valid.to_cloud_event() == validate_event(event, sender=None).to_cloud_event()


@pytest.mark.parametrize("api", APIS)
def test_an_sdk_batch_is_read_in_order(api: API) -> None:
    """A batch of SDK-written events gives one reading per event, in order."""
    events = [make_event("cases.closed"), make_event("cases.closed")]
    readings = read(*http_batch(events, api))
    assert [r.event["id"] for r in readings if r.event is not None] == [e["id"] for e in events]


@pytest.mark.parametrize(
    ("headers", "adapter"),
    [
        ({"content-type": "application/cloudevents+json"}, HttpStructured),
        ({"content-type": "application/cloudevents+json", "ce-id": "x"}, HttpStructured),
        ({"content-type": 'Application/JSON; charset="UTF-8"'}, HttpStructured),
        ({"content-type": "application/cloudevents-batch+json"}, HttpBatch),
        ({"content-type": "application/json", "ce-specversion": "1.0"}, HttpBinary),
        ({"content-type": "application/json; charset=utf-8", "CE-ID": "x"}, HttpBinary),
        ({"content-type": "text/plain", "ce-id": "x"}, None),
        ({"content-type": "application/json; charset=latin-1", "ce-id": "x"}, None),
        ({"content-type": "application/cloudevents+json;"}, HttpStructured),  # empty: none
        ({"content-type": "application/cloudevents+json; charset=utf-8;"}, HttpStructured),
        ({"content-type": "application/json;", "ce-id": "x"}, HttpBinary),
        ({"content-type": "application/json; ; x=1", "ce-id": "x"}, None),
        ({"content-type": "application/cloudevents+xml"}, None),
        ({"ce-id": "x"}, HttpBinary),  # no Content-Type: datacontenttype's default, JSON
        ({"content-type": "", "ce-id": "x"}, HttpBinary),
        ({}, None),
    ],
)
def test_the_content_type_and_ce_headers_choose_the_mode(
    headers: dict[str, str], adapter: type | None
) -> None:
    """cloudevents types are structured or batch; application/json with ce- headers binary, without structured."""
    chosen = choose_http(HTTP_ADAPTERS, message(headers))
    assert type(chosen) is adapter if adapter else chosen is None


def test_binary_header_values_are_percent_decoded_as_utf8() -> None:
    """ce- header values are percent-decoded (HTTP binding 3.1.3.2), and raw UTF-8 is read as such."""
    event = make_event("cases.closed")
    headers = binary_headers(event) | {
        "ce-dataschema": "https://schemas.example/%C3%A9v%C3%A9nement%20v1",
        "ce-source": event["source"].replace(":", "%3A"),
    }
    (reading,) = read(headers, json.dumps(event["data"]).encode())
    assert reading.event is not None
    assert reading.event["dataschema"] == "https://schemas.example/événement v1"
    assert reading.event["source"] == event["source"]
    assert reading.event["datacontenttype"] == "application/json"
    raw = "https://schemas.example/é".encode().decode("latin-1")  # as the server hands it over
    (reading,) = read(headers | {"ce-dataschema": raw}, json.dumps(event["data"]).encode())
    assert reading.event is not None
    assert reading.event["dataschema"] == "https://schemas.example/é"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ce-subject": "%FF%FE"}, [("subject", ErrorCode.ENVELOPE_INVALID)]),
        ({"ce-subject": "\xff"}, [("subject", ErrorCode.ENVELOPE_INVALID)]),
        ({"ce-data": "{}"}, [("data", ErrorCode.ENVELOPE_INVALID)]),
        ({"ce-data_base64": "e30="}, [("data_base64", ErrorCode.ENVELOPE_INVALID)]),
        (
            {"ce-datacontenttype": "application/json"},
            [("datacontenttype", ErrorCode.ENVELOPE_INVALID)],
        ),
    ],
)
def test_binary_headers_that_cannot_be_read(
    headers: dict[str, str], expected: list[tuple[str, ErrorCode]]
) -> None:
    """A header value that is not UTF-8, data in a header, or an attribute twice: ENVELOPE_INVALID at it, id kept."""
    event = make_event("cases.closed", envelope={"id": ID})
    (reading,) = read(binary_headers(event) | headers, json.dumps(event["data"]).encode())
    assert reading.event is None
    assert errors(reading) == expected
    assert reading.event_id == ID


def test_a_binary_attribute_sent_twice_is_refused() -> None:
    """Two ce-id headers are ENVELOPE_INVALID, and neither id is reported: which one counts would be a guess."""
    event = make_event("cases.closed")
    request = message(binary_headers(event), json.dumps(event["data"]).encode())
    twice = HttpMessage((*request.headers, ("ce-id", "other")), request.body)
    (reading,) = HttpBinary().read(twice)
    assert errors(reading) == [("id", ErrorCode.ENVELOPE_INVALID)]
    assert reading.event_id is None


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"content-type": "application/cloudevents+json"}, b"{", [("", ErrorCode.MALFORMED_JSON)]),
        (
            {"content-type": "application/cloudevents+json"},
            b'{"a":1,"a":2}',
            [("", ErrorCode.MALFORMED_JSON)],
        ),
        (
            {"content-type": "application/cloudevents-batch+json"},
            b"{}",
            [("", ErrorCode.ENVELOPE_INVALID)],
        ),
        (
            {"content-type": "application/cloudevents-batch+json"},
            b"[]",
            [("", ErrorCode.ENVELOPE_INVALID)],
        ),
        (
            {"content-type": "application/cloudevents-batch+json"},
            b"[",
            [("", ErrorCode.MALFORMED_JSON)],
        ),
        (
            {"content-type": "application/json", "ce-id": "x"},
            b"{",
            [("data", ErrorCode.MALFORMED_JSON)],
        ),
        (
            {"content-type": "application/json", "ce-id": "x"},
            b"",
            [("data", ErrorCode.MALFORMED_JSON)],
        ),
        (
            {"content-type": "application/json", "ce-id": "x"},
            b'{"a":NaN}',
            [("data", ErrorCode.MALFORMED_JSON)],
        ),
    ],
)
def test_bodies_that_cannot_be_read_at_all(
    headers: dict[str, str], body: bytes, expected: list[tuple[str, ErrorCode]]
) -> None:
    """A body that is not the mode's JSON raises InvalidEvent with its path and code."""
    with pytest.raises(InvalidEvent) as raised:
        read(headers, body)
    assert [(e.path, e.code) for e in raised.value.errors] == expected


def test_a_structured_body_or_batch_element_that_is_no_object_is_envelope_invalid() -> None:
    """A JSON value that is not an object is ENVELOPE_INVALID for that event only."""
    (reading,) = read({"content-type": "application/cloudevents+json"}, b"[1]")
    assert errors(reading) == [("", ErrorCode.ENVELOPE_INVALID)]
    first, second = read({"content-type": "application/cloudevents-batch+json"}, b'[{"id":"a"},7]')
    assert first.event == {"id": "a"}
    assert errors(second) == [("", ErrorCode.ENVELOPE_INVALID)]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda h: h.pop("ce-id"), [("id", ErrorCode.FIELD_REQUIRED)]),
        (
            lambda h: h.update({"ce-specversion": "0.3"}),
            [("specversion", ErrorCode.SPECVERSION_UNSUPPORTED)],
        ),
        (lambda h: h.update({"ce-time": "yesterday"}), [("time", ErrorCode.DATETIME_INVALID)]),
        (lambda h: h.update({"ce-subject": "999900018"}), [("subject", ErrorCode.SUBJECT_IS_BSN)]),
        (
            lambda h: h.update({"ce-partitionkey": "ZWZ-other"}),
            [("partitionkey", ErrorCode.SUBJECT_MISMATCH)],
        ),
        (lambda h: h.update({"ce-bsn": "999900018"}), [("bsn", ErrorCode.EXTENSION_NOT_ALLOWED)]),
        (
            lambda h: h.update({"ce-tracestate": "not a tracestate"}),
            [("tracestate", ErrorCode.FORMAT_INVALID)],
        ),
    ],
)
def test_binary_attributes_break_the_contract_at_their_own_path(
    change: Any, expected: list[tuple[str, ErrorCode]]
) -> None:
    """The contract's attribute rules name the attribute whichever mode carried it."""
    event = make_event("cases.closed")
    headers = binary_headers(event)
    change(headers)
    (reading,) = read(headers, json.dumps(event["data"]).encode())
    assert reading.event is not None
    with pytest.raises(InvalidEvent) as raised:
        validate_event(reading.event, sender=REGISTRY.by_source(event["source"]))
    assert [(e.path, e.code) for e in raised.value.errors] == expected


def test_a_binary_body_that_is_no_object_is_a_data_type_mismatch() -> None:
    """Binary mode's body is data: an array there is TYPE_MISMATCH at data."""
    event = make_event("cases.closed")
    (reading,) = read(binary_headers(event), b"[1, 2]")
    assert reading.event is not None
    with pytest.raises(InvalidEvent) as raised:
        validate_event(reading.event, sender=None)
    assert [(e.path, e.code) for e in raised.value.errors] == [("data", ErrorCode.TYPE_MISMATCH)]
