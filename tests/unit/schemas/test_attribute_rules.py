"""The contract's attribute rules and limits: id alphabet, no BSN in ids, trace state, partition key, size, entries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.envelope import MAX_EVENT_BYTES, event_size, from_kafka, to_kafka
from hub.errors import ErrorCode, InvalidEvent
from hub.schemas import validate_event
from hub.schemas.common import MAX_ENTRIES
from hub.testing import demo_registry, make_event

BSN = "999900018"  # passes the 11-proof
NOT_A_BSN = "999900019"  # 9 digits, fails the 11-proof


def errors_of(event: dict[str, Any]) -> list[tuple[str, ErrorCode]]:
    """The (path, code) pairs validation reports with the event's registered sender; [] when valid."""
    sender = demo_registry().by_source(str(event.get("source")))
    try:
        validate_event(event, sender=sender)
    except InvalidEvent as exc:
        return [(e.path, e.code) for e in exc.errors]
    return []


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        ("0b8f5e2c-6a47-4f0e-9d39-3c2d8a1f7e55", []),
        ("abc.DEF_12:3-4", []),
        ("x" * 128, []),
        ("x" * 129, [("id", ErrorCode.TOO_LONG)]),
        ("Esther van Dalfsen 1986-02-11", [("id", ErrorCode.FORMAT_INVALID)]),
        ("a/b", [("id", ErrorCode.FORMAT_INVALID)]),
        ("café-1", [("id", ErrorCode.FORMAT_INVALID)]),
        ("id\n", [("id", ErrorCode.FORMAT_INVALID)]),
    ],
)
def test_id_is_1_to_128_characters_of_the_identifier_alphabet(
    event_id: str, expected: list[tuple[str, ErrorCode]]
) -> None:
    """An id outside A-Z a-z 0-9 . _ : - is FORMAT_INVALID, one over 128 characters TOO_LONG."""
    assert errors_of(make_event("cases.closed", envelope={"id": event_id})) == expected


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        (BSN, [("id", ErrorCode.BSN_IN_IDENTIFIER)]),
        (f"REF-{BSN}", [("id", ErrorCode.BSN_IN_IDENTIFIER)]),
        (f"a.{BSN}:b", [("id", ErrorCode.BSN_IN_IDENTIFIER)]),
        (f"x_{BSN}_y", [("id", ErrorCode.BSN_IN_IDENTIFIER)]),
        (NOT_A_BSN, []),
        (f"REF{BSN}", []),  # no separator: the part is 12 characters, not a BSN
        (f"1{BSN}", []),
    ],
)
def test_no_part_of_the_id_is_a_bsn(event_id: str, expected: list[tuple[str, ErrorCode]]) -> None:
    """An id of which a part between . _ : - is a BSN is BSN_IN_IDENTIFIER at path id."""
    assert errors_of(make_event("cases.closed", envelope={"id": event_id})) == expected


def test_subject_with_a_bsn_part_is_subject_is_bsn_and_the_field_bsn_in_identifier() -> None:
    """Subject R-999900018 is SUBJECT_IS_BSN at subject; the case_id it copies BSN_IN_IDENTIFIER."""
    event = make_event("cases.closed", case_id=f"R-{BSN}", envelope={"subject": f"R-{BSN}"})
    assert errors_of(event) == [
        ("subject", ErrorCode.SUBJECT_IS_BSN),
        ("data.case_id", ErrorCode.BSN_IN_IDENTIFIER),
    ]


@pytest.mark.parametrize("team", [f"Wijkteam {BSN}", f"Wijkteam/{BSN}", f"({BSN})"])
def test_a_free_text_subject_with_a_bsn_after_a_space_or_slash_is_subject_is_bsn(
    team: str,
) -> None:
    """A budget's subject is its team, free text: a BSN there is a part whatever separates it."""
    event = make_event("budgets.status-reported", team=team, envelope={"subject": team})
    assert ("subject", ErrorCode.SUBJECT_IS_BSN) in errors_of(event)
    with pytest.raises(InvalidEvent):
        to_kafka(event)


def test_subject_that_is_a_bsn_is_refused_by_to_kafka_also_as_a_part() -> None:
    """to_kafka never writes a key or header whose subject has a BSN part."""
    event = make_event("cases.closed", case_id=f"R-{BSN}", envelope={"subject": f"R-{BSN}"})
    with pytest.raises(InvalidEvent) as caught:
        to_kafka(event)
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("subject", ErrorCode.SUBJECT_IS_BSN)
    ]


@pytest.mark.parametrize(
    ("type_", "change", "path"),
    [
        ("referrals.status-changed", {"case_id": f"C:{BSN}"}, "data.case_id"),
        ("safety-reports.submitted", {"case_id": f"{BSN}.1"}, "data.case_id"),
        ("provisions.decided", {"decision_id": BSN}, "data.decision_id"),
        ("safety-cases.handed-over", {"report_id": f"VT-{BSN}"}, "data.report_id"),
        ("cases.opened", {"origin": {"referral_id": f"REF_{BSN}"}}, "data.origin.referral_id"),
        ("cases.opened", {"origin": {"safety_case_id": f"VT-{BSN}"}}, "data.origin.safety_case_id"),
    ],
)
def test_identifier_fields_carry_no_bsn_part(type_: str, change: dict[str, Any], path: str) -> None:
    """An identifier field of which a part is a BSN is BSN_IN_IDENTIFIER at its exact path."""
    assert errors_of(make_event(type_, **change)) == [(path, ErrorCode.BSN_IN_IDENTIFIER)]


@pytest.mark.parametrize(
    ("type_", "field"),
    [
        ("referrals.submitted", "referral_id"),
        ("safety-reports.submitted", "report_id"),
        ("provisions.requested", "request_id"),
        ("assignment-requests.submitted", "request_id"),
        ("safety-cases.handed-over", "safety_case_id"),
    ],
)
def test_an_identifier_that_is_the_subject_gets_both_codes(type_: str, field: str) -> None:
    """A subject identifier with a BSN part is SUBJECT_IS_BSN at subject and BSN_IN_IDENTIFIER at the field."""
    value = f"ID-{BSN}"
    event = make_event(type_, **{field: value}, envelope={"subject": value})
    assert errors_of(event) == [
        ("subject", ErrorCode.SUBJECT_IS_BSN),
        (f"data.{field}", ErrorCode.BSN_IN_IDENTIFIER),
    ]


def test_a_goal_id_deep_in_a_list_is_checked_at_its_path() -> None:
    """goals[2].goal_id with a BSN part is reported at data.goals[2].goal_id."""
    event = make_event("cases.plan-updated")
    event["data"]["goals"][2]["goal_id"] = f"G-{BSN}"
    assert errors_of(event) == [("data.goals[2].goal_id", ErrorCode.BSN_IN_IDENTIFIER)]


def test_tracestate_is_checked_accepted_and_never_carried_on() -> None:
    """A well-formed tracestate is accepted, but neither the valid event nor its Kafka record keeps it."""
    event = make_event("cases.closed", envelope={"tracestate": f"bsn={BSN}"})
    valid = validate_event(event, sender=demo_registry().by_source(event["source"]))
    assert not hasattr(valid, "tracestate")
    key, headers, value = to_kafka(valid.to_cloud_event())
    assert "ce_tracestate" not in dict(headers)
    assert BSN.encode() not in key + value + b"".join(v for _, v in headers)


def _members(count: int, value_length: int = 30) -> str:
    return ",".join(f"vendor{n}={'v' * value_length}" for n in range(count))


@pytest.mark.parametrize(
    ("tracestate", "expected"),
    [
        (_members(32), []),  # about 1,300 characters: W3C caps the members, not the length
        (_members(1, 256), []),  # the longest value W3C allows
        (_members(33), [("tracestate", ErrorCode.FORMAT_INVALID)]),
        (_members(1, 257), [("tracestate", ErrorCode.FORMAT_INVALID)]),
    ],
)
def test_tracestate_is_w3c_syntax_of_any_length(
    tracestate: str, expected: list[tuple[str, ErrorCode]]
) -> None:
    """A W3C tracestate of up to 32 members is accepted however long; 33 members or a value over 256 is FORMAT_INVALID."""
    assert len(_members(32)) > 512
    assert errors_of(make_event("cases.closed", envelope={"tracestate": tracestate})) == expected


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("traceparent", "expected"),
    [
        (f"00-{TRACE}", []),
        (f"01-{TRACE}", []),  # a later version in version 00's shape
        (f"01-{TRACE}-more", []),
        (f"cc-{TRACE}-a-b-c", []),
        (f"01-{TRACE}-", []),
        (f"00-{TRACE}-more", [("traceparent", ErrorCode.FORMAT_INVALID)]),
        (f"01-{TRACE}more", [("traceparent", ErrorCode.FORMAT_INVALID)]),
        (f"ff-{TRACE}-more", [("traceparent", ErrorCode.FORMAT_INVALID)]),
        (f"01-{TRACE}-\u00e9", [("traceparent", ErrorCode.FORMAT_INVALID)]),
    ],
)
def test_a_later_traceparent_version_is_read_by_its_first_four_fields(
    traceparent: str, expected: list[tuple[str, ErrorCode]]
) -> None:
    """W3C: version ff is invalid, 00 is exactly four fields, a later version is parsed by its first four and what follows a further dash is ignored."""
    assert errors_of(make_event("cases.closed", envelope={"traceparent": traceparent})) == expected


@pytest.mark.parametrize("traceparent", [f"00-{TRACE}", f"01-{TRACE}", f"7e-{TRACE}-more-fields"])
def test_a_later_traceparent_version_is_kept_as_version_00(traceparent: str) -> None:
    """Only the four fields the hub understands are kept and forwarded, written as version 00."""
    event = make_event("cases.closed", envelope={"traceparent": traceparent})
    valid = validate_event(event, sender=demo_registry().by_source(event["source"]))
    assert valid.traceparent == f"00-{TRACE}"
    _, headers, _ = to_kafka(valid.to_cloud_event())
    assert dict(headers)["ce_traceparent"] == f"00-{TRACE}".encode()


@pytest.mark.parametrize(
    ("partitionkey", "expected"),
    [
        ("same", []),
        ("ZWZ-other", [("partitionkey", ErrorCode.SUBJECT_MISMATCH)]),
        (7, [("partitionkey", ErrorCode.TYPE_MISMATCH)]),
        ("", [("partitionkey", ErrorCode.TOO_SHORT)]),
        (None, [("partitionkey", ErrorCode.FIELD_NULL)]),
    ],
)
def test_partitionkey_must_equal_the_subject(
    partitionkey: object, expected: list[tuple[str, ErrorCode]]
) -> None:
    """The partitionkey extension is accepted only as a string equal to the subject."""
    event = make_event("cases.closed")
    event["partitionkey"] = event["subject"] if partitionkey == "same" else partitionkey
    assert errors_of(event) == expected


def test_partitionkey_from_kafka_is_validated_and_not_written_on() -> None:
    """A ce_partitionkey header (as CloudEvents SDKs write it) is read, checked, and not written again."""
    event = make_event("cases.closed")
    event["partitionkey"] = event["subject"]
    key, headers, value = to_kafka(event)
    assert ("ce_partitionkey", event["subject"].encode()) in headers
    raw = from_kafka(key, headers, value)
    valid = validate_event(raw, sender=demo_registry().by_source(event["source"]))
    _, written, _ = to_kafka(valid.to_cloud_event())
    assert "ce_partitionkey" not in dict(written)


def _padded(size: int) -> dict[str, Any]:
    """A valid event whose compact JSON is exactly ``size`` bytes (padding its dataschema URI)."""
    event = make_event("cases.closed", envelope={"dataschema": "urn:x:"})
    event["dataschema"] += "a" * (size - event_size(event))
    assert event_size(event) == size
    return event


def test_event_of_256_kib_is_accepted_and_one_byte_more_is_too_large() -> None:
    """An event of exactly 256 KiB passes; 256 KiB + 1 byte is EVENT_TOO_LARGE at the event."""
    assert MAX_EVENT_BYTES == 256 * 1024
    assert errors_of(_padded(MAX_EVENT_BYTES)) == []
    assert errors_of(_padded(MAX_EVENT_BYTES + 1)) == [("", ErrorCode.EVENT_TOO_LARGE)]


def test_event_size_counts_compact_utf8_json() -> None:
    """The size is that of the compact UTF-8 JSON: whitespace is not counted, non-ASCII counts its bytes."""
    event = {"data": {"a": "é"}}
    assert event_size(event) == len('{"data":{"a":"é"}}'.encode())
    assert event_size(event) == len(
        json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    )


def test_thousands_of_indicators_over_256_kib_get_only_event_too_large() -> None:
    """A 924-KB outcome is refused as EVENT_TOO_LARGE alone, without checking its fields."""
    event = make_event("outcomes.reported")
    event["data"]["results"][0]["indicators"] = {f"indicator_{n:05d}": n for n in range(30_000)}
    assert event_size(event) > MAX_EVENT_BYTES
    assert errors_of(event) == [("", ErrorCode.EVENT_TOO_LARGE)]


@pytest.mark.parametrize(("count", "expected"), [(100, []), (101, [ErrorCode.TOO_LONG])])
def test_indicators_hold_at_most_100_entries(count: int, expected: list[ErrorCode]) -> None:
    """A result's indicators map holds at most 100 entries (TOO_LONG at its path)."""
    event = make_event("outcomes.reported")
    event["data"]["results"][1]["indicators"] = {f"indicator_{n}": n for n in range(count)}
    assert errors_of(event) == [("data.results[1].indicators", code) for code in expected]


def _repeat(items: list[Any], count: int) -> list[Any]:
    return [items[n % len(items)] for n in range(count)]


@pytest.mark.parametrize(
    ("type_", "field", "path"),
    [
        ("cases.plan-updated", "goals", "data.goals"),
        ("cases.opened", "household", "data.household"),
        ("safety-reports.submitted", "persons", "data.persons"),
        ("safety-reports.feedback", "parties", "data.parties"),
        ("safety-cases.handed-over", "household", "data.household"),
        ("outcomes.reported", "results", "data.results"),
    ],
)
def test_lists_without_a_stated_limit_hold_at_most_100_entries(
    type_: str, field: str, path: str
) -> None:
    """A list the contract gives no limit holds 100 entries; 101 is TOO_LONG at the list's path."""
    event = make_event(type_)
    items = event["data"][field] or ["Gemeente Zwolle"]
    event["data"][field] = _repeat(items, MAX_ENTRIES + 1)
    codes = [(p, c) for p, c in errors_of(event) if c is ErrorCode.TOO_LONG]
    assert codes == [(path, ErrorCode.TOO_LONG)]


def _unbounded(node: Any, path: str = "") -> list[str]:
    """Paths of arrays without maxItems and maps without maxProperties in a JSON Schema node."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "array" and "maxItems" not in node:
            found.append(path)
        if isinstance(node.get("additionalProperties"), dict) and "maxProperties" not in node:
            found.append(path)
        for key, value in node.items():
            found += _unbounded(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _unbounded(value, f"{path}/{index}")
    return found


def test_every_list_and_map_of_every_type_has_an_upper_bound() -> None:
    """Every array and map in the exported JSON Schemas states its most entries (100 unless the contract says less)."""
    from hub.schemas import TYPES
    from hub.schemas.export import data_schema

    assert {spec.type: _unbounded(data_schema(spec)) for spec in TYPES.values()} == {
        spec.type: [] for spec in TYPES.values()
    }


def test_a_lone_surrogate_is_a_field_error_not_a_crash_of_the_size_check() -> None:
    """A string with a lone UTF-16 surrogate is measured and then rejected at its path, never raised."""
    event = make_event("nl.sociaaldomein.referrals.submitted.v1")
    event["data"]["request"]["summary"] = "x\ud800y"
    assert event_size(event) > 0
    with pytest.raises(InvalidEvent) as caught:
        validate_event(event, sender=None)
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("data.request.summary", ErrorCode.FORMAT_INVALID)
    ]


@pytest.mark.parametrize(
    "time",
    ["0001-01-01T00:00:01+06:00", "9999-12-31T23:30:00-01:00", "9999-12-31T23:30:00+00:00"],
)
def test_a_time_at_the_calendar_edge_is_the_senders_error(time: str) -> None:
    """A time with no UTC or Dutch equivalent is DATETIME_INVALID at time, never a hub failure."""
    event = make_event("referrals.submitted")
    event["time"] = time
    assert ("time", ErrorCode.DATETIME_INVALID) in errors_of(event)


@pytest.mark.parametrize(
    "time", ["2025-03-03T10:00:00+01:60", "2025-03-03T10:00:00+00:99", "2025-03-03T10:00:00-24:00"]
)
def test_an_offset_outside_rfc_3339_is_refused(time: str) -> None:
    """RFC 3339's offset has hours 00-23 and minutes 00-59: +01:60 is not read as +02:00."""
    event = make_event("referrals.submitted")
    event["time"] = time
    assert ("time", ErrorCode.DATETIME_INVALID) in errors_of(event)


@pytest.mark.parametrize("time", ["2025-03-03T10:00:00+23:59", "2025-03-03T10:00:00-00:00"])
def test_every_offset_rfc_3339_allows_is_read(time: str) -> None:
    """The edges of RFC 3339's offsets, +23:59 and -00:00, are valid."""
    event = make_event("referrals.submitted")
    event["time"] = time
    assert errors_of(event) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("id", "a/b-999900018"),
        ("id", "x" * 130 + "-999900018"),
        ("data.referral_id", "R/1-999900018"),
        ("data.referral_id", "R" * 70 + "-999900018"),
    ],
)
def test_a_bsn_part_is_reported_even_where_the_format_is_broken_too(path: str, value: str) -> None:
    """BSN_IN_IDENTIFIER at the path, whatever else is wrong with the value: the finding that matters."""
    event = make_event("referrals.submitted")
    if path == "id":
        event["id"] = value
    else:
        event["data"]["referral_id"] = value
    assert [e for e in errors_of(event) if e[0] == path] == [(path, ErrorCode.BSN_IN_IDENTIFIER)]


def test_an_unregistered_source_keeps_the_count_of_the_errors_not_listed() -> None:
    """Tools prepend SOURCE_MISMATCH to a capped list: the count of the rest stays true."""
    from hub.schemas import validate_with_registry

    event = make_event("referrals.submitted")
    event["source"] = "urn:nld:oin:00000001234567890000:systeem:unknown"
    event["data"]["client"].update({f"extra_{n}": n for n in range(2_000)})
    with pytest.raises(InvalidEvent) as caught:
        validate_with_registry(event, demo_registry())
    errors = caught.value.errors
    assert len(errors) == 101
    assert errors[0].path == "source"
    assert errors[100].code is ErrorCode.TOO_MANY_ERRORS
    assert errors[100].message.startswith("1901 more errors")
