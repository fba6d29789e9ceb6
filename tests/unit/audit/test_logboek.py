"""The disclosure log as Logboek Dataverwerkingen records, and their OTLP JSON lines."""

from __future__ import annotations

import json
import re

from hub.audit import DisclosureOutcome
from hub.audit.logboek import activity_uri, logboek_records, otlp_lines
from tests.unit.audit.store_cases import ALICE, BOB, T0, record

BASE = "https://register.zwolle.example/verwerkingsactiviteiten/"


def test_one_record_per_data_subject_sharing_the_disclosures_trace_and_span() -> None:
    """privacy.md/Logboek: a record refers to at most one subject; the operation is one."""
    disclosure = record(1, subjects=(ALICE, BOB))

    [alice, bob] = logboek_records(disclosure, BASE)

    assert alice.attributes["dpl.core.data_subject_id"] == ALICE
    assert bob.attributes["dpl.core.data_subject_id"] == BOB
    assert {alice.attributes["dpl.core.data_subject_id_type"]} == {"BSN"}
    assert (alice.trace_id, alice.span_id) == (disclosure.trace_id, disclosure.span_id)
    assert (bob.trace_id, bob.span_id) == (disclosure.trace_id, disclosure.span_id)
    assert alice.attributes["dpl.core.processing_activity_id"] == (
        BASE + "care-delivery-and-outcomes"
    )
    assert alice.name == "disclose care.started"
    assert alice.start_time == alice.end_time == T0
    assert alice.status_code == 1
    assert alice.attributes["hub.disclosure_id"] == disclosure.disclosure_id


def test_a_disclosure_about_nobody_is_one_record_without_a_subject() -> None:
    [only] = logboek_records(record(1, subjects=()), BASE)

    assert "dpl.core.data_subject_id" not in only.attributes
    assert "dpl.core.data_subject_id_type" not in only.attributes


def test_status_is_ok_for_release_and_withholding_and_error_for_a_failed_release() -> None:
    withheld = record(
        2,
        outcome=DisclosureOutcome.WITHHELD,
        reason="NO_STATUS_FEEDBACK_CONSENT",
        delivery_id=None,
    )
    failed = record(3, outcome=DisclosureOutcome.FAILED, reason="PARKED")

    [kept_back] = logboek_records(withheld, BASE)
    [refused] = logboek_records(failed, BASE)

    assert (kept_back.name, kept_back.status_code) == ("withhold care.started", 1)
    assert kept_back.attributes["hub.reason"] == "NO_STATUS_FEEDBACK_CONSENT"
    assert (refused.name, refused.status_code) == ("disclose care.started", 2)


def test_the_senders_span_is_a_foreign_operation_not_a_parent() -> None:
    """The sender's traceparent names another organisation's operation."""
    disclosure = record(4, parent_span_id="00f067aa0ba902b7")

    [one] = logboek_records(disclosure, BASE)

    assert one.attributes["dpl.core.foreign_operation.span_id"] == "00f067aa0ba902b7"
    assert one.attributes["dpl.core.foreign_operation.trace_id"] == disclosure.trace_id
    assert one.attributes["dpl.core.foreign_operation.processor"] == disclosure.source
    assert "parent_span_id" not in one.as_dict()
    [without] = logboek_records(record(5), BASE)
    assert not any(key.startswith("dpl.core.foreign_operation") for key in without.attributes)


def test_activity_uris_escape_the_name_and_keep_a_uri_as_it_is() -> None:
    assert activity_uri(BASE, "care assignment/2") == BASE + "care%20assignment%2F2"
    assert activity_uri(BASE, "urn:nld:register:act:7") == "urn:nld:register:act:7"


def test_otlp_lines_are_export_requests_with_hex_ids_and_nanosecond_times() -> None:
    """One ExportTraceServiceRequest per line, as OpenTelemetry's file exporter writes."""
    records = [each for n in range(3) for each in logboek_records(record(n, at=T0), BASE)]

    lines = list(otlp_lines(records, {"service.name": "sociaal-domein-hub"}))

    assert len(lines) == 1
    assert lines[0].endswith(b"\n")
    request = json.loads(lines[0])
    [resource_spans] = request["resourceSpans"]
    assert resource_spans["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "sociaal-domein-hub"}}
    ]
    [scope] = resource_spans["scopeSpans"]
    spans = scope["spans"]
    assert len(spans) == 3
    for span in spans:
        assert re.fullmatch(r"[0-9a-f]{32}", span["traceId"])
        assert re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
        assert span["startTimeUnixNano"] == str(int(T0.timestamp()) * 10**9)
        assert span["status"] == {"code": 1}
        keys = [attribute["key"] for attribute in span["attributes"]]
        assert "dpl.core.processing_activity_id" in keys
        assert "dpl.core.data_subject_id" in keys


def test_long_exports_are_split_over_lines() -> None:
    records = [each for n in range(501) for each in logboek_records(record(n), BASE)]

    lines = list(otlp_lines(records, {}))

    counts = [len(json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]) for line in lines]
    assert counts == [500, 1]
