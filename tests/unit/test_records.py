"""The status record and the dead letter read today's JSON, write it back byte for byte, and fit their schemas."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft7Validator

from hub.errors import ErrorCode, ErrorDetail
from hub.records import (
    DEAD_LETTER_SCHEMA,
    STATUS_RECORD_SCHEMA,
    DeadLetter,
    RecordCopy,
    Replay,
    StatusRecord,
)

# As the router writes them (compact JSON, this key order); before ``errors`` was added,
# the same without it (OLD_STATUS).
OLD_STATUS = (
    b'{"event_id":"46353c21-8c1b-55e2-aae5-e98bd607ae35","source":"urn:nld:agb:01234567",'
    b'"partner":"gp-de-linde","type":"nl.sociaaldomein.referrals.submitted.v1",'
    b'"status":"delivered","codes":[],"recipients":["swt-zwolle"],"withheld":[],'
    b'"at":"2026-01-05T09:30:00+00:00"}'
)
STATUS = OLD_STATUS[:-1] + b',"errors":[]}'
REFUSED_STATUS = (
    b'{"event_id":"bad-1","source":"urn:nld:agb:01234567","partner":"gp-de-linde","type":null,'
    b'"status":"dead-lettered","codes":["PROCESSING_FAILED"],"recipients":[],"withheld":[],'
    b'"at":"2026-01-05T09:30:00+00:00","errors":[{"path":"","code":"PROCESSING_FAILED",'
    b'"message":"The hub could not process this event."}]}'
)
KEY, VALUE = b"DL-2025-0317", b'{"referral_id":"DL-2025-0317"}'
COPIED = (
    b'{"reason":{"code":"BSN_INVALID","errors":[{"path":"data.client.bsn","code":"BSN_INVALID",'
    b'"message":"The BSN fails the 11-proof."}]},"unroutable":false,"partner":"gp-de-linde",'
    b'"event_id":"bad-1","origin":{"topic":"hub.inbound.gp-de-linde","partition":0,"offset":7},'
    b'"digest":{"sha256":"' + b"ab" * 32 + b'","bytes":1641},'
    b'"record":{"key":"REwtMjAyNS0wMzE3","headers":[["ce_id","YmFkLTE="],'
    b'["content-type","YXBwbGljYXRpb24vanNvbg=="]],'
    b'"value":"' + base64.b64encode(VALUE) + b'"}}'
)
BY_REFERENCE = (
    b'{"reason":{"code":"EVENT_TOO_LARGE","errors":[{"path":"","code":"EVENT_TOO_LARGE",'
    b'"message":"The event is larger than 256 KiB."}]},"unroutable":false,'
    b'"partner":"gp-de-linde","event_id":null,'
    b'"origin":{"topic":"hub.inbound.gp-de-linde","partition":2,"offset":70},'
    b'"digest":{"sha256":"' + b"cd" * 32 + b'","bytes":600000},"record":null}'
)


def test_a_status_record_reads_and_writes_todays_json() -> None:
    """A status record of today's format reads into its fields and writes the same bytes."""
    record = StatusRecord.from_json(STATUS)
    assert record == StatusRecord(
        event_id="46353c21-8c1b-55e2-aae5-e98bd607ae35",
        source="urn:nld:agb:01234567",
        partner="gp-de-linde",
        type="nl.sociaaldomein.referrals.submitted.v1",
        status="delivered",
        codes=(),
        recipients=("swt-zwolle",),
        withheld=(),
        at="2026-01-05T09:30:00+00:00",
    )
    assert record.key == b"urn:nld:agb:01234567 46353c21-8c1b-55e2-aae5-e98bd607ae35"
    assert record.to_json() == STATUS


def test_a_status_record_written_before_errors_reads_without_them() -> None:
    """Records on the compacted topic from before ``errors`` read as having none."""
    record = StatusRecord.from_json(OLD_STATUS)
    assert record == StatusRecord.from_json(STATUS)
    assert record is not None
    assert record.errors == ()


def test_a_status_record_of_an_unread_type_keeps_its_null() -> None:
    """A refused event's status (no type known) round-trips with ``type: null``."""
    record = StatusRecord.from_json(REFUSED_STATUS)
    assert record is not None
    assert record.type is None
    assert record.codes == ("PROCESSING_FAILED",)
    assert record.errors == (("", "PROCESSING_FAILED", "The hub could not process this event."),)
    assert record.to_json() == REFUSED_STATUS


def test_a_value_without_a_status_is_no_status_record() -> None:
    """Anything but a JSON object with a string ``status`` reads as None, never raises."""
    for value in (b"", b"[]", b"{}", b'{"status": 3}', b"\xff"):
        assert StatusRecord.from_json(value) is None


def test_a_dead_letter_with_its_copy_reads_and_writes_todays_json() -> None:
    """A dead letter carrying the original record decodes its base64 and writes the same bytes."""
    letter = DeadLetter.from_json(COPIED)
    assert letter is not None
    assert letter.errors == (
        ErrorDetail("data.client.bsn", ErrorCode.BSN_INVALID, "The BSN fails the 11-proof."),
    )
    assert letter.record == RecordCopy(
        key=KEY,
        headers=(("ce_id", b"bad-1"), ("content-type", b"application/json")),
        value=VALUE,
    )
    assert (letter.topic, letter.partition, letter.offset) == ("hub.inbound.gp-de-linde", 0, 7)
    assert letter.key == b"hub.inbound.gp-de-linde:0"
    assert letter.headers == (("hub-reason-code", b"BSN_INVALID"), ("hub-partner", b"gp-de-linde"))
    assert letter.to_json() == COPIED


def test_a_dead_letter_by_reference_has_no_copy() -> None:
    """A dead letter of a record too large to copy keeps origin and digest, ``record: null``."""
    letter = DeadLetter.from_json(BY_REFERENCE)
    assert letter is not None
    assert letter.record is None
    assert letter.event_id is None
    assert (letter.sha256, letter.size) == ("cd" * 32, 600000)
    assert letter.code == "EVENT_TOO_LARGE"
    assert letter.to_json() == BY_REFERENCE


def test_an_unknown_partner_is_named_unknown_in_the_header() -> None:
    """A dead letter of no registered partner has ``partner: null`` and header ``unknown``."""
    value = json.loads(BY_REFERENCE)
    value["partner"] = None
    letter = DeadLetter.from_json(json.dumps(value).encode())
    assert letter is not None
    assert letter.partner is None
    assert dict(letter.headers)["hub-partner"] == b"unknown"


def test_a_value_that_is_no_dead_letter_reads_as_none() -> None:
    """A JSON value missing the reason, origin or digest (or with bad codes) is None."""
    assert DeadLetter.from_json(b"{}") is None
    unknown_code = COPIED.replace(b'"code":"BSN_INVALID","message"', b'"code":"NOPE","message"')
    assert DeadLetter.from_json(unknown_code) is None


# --- The values' JSON Schemas (the AsyncAPI document's payloads) -----------------------------


def schema_errors(schema: Mapping[str, Any], value: bytes) -> list[str]:
    Draft7Validator.check_schema(schema)
    return [e.message for e in Draft7Validator(schema).iter_errors(json.loads(value))]


def test_status_records_as_written_fit_their_schema() -> None:
    """Real ``to_json`` output, delivered and dead-lettered, validates against STATUS_RECORD_SCHEMA."""
    for value in (STATUS, REFUSED_STATUS):
        record = StatusRecord.from_json(value)
        assert record is not None
        assert schema_errors(STATUS_RECORD_SCHEMA, record.to_json()) == []
    bare = StatusRecord(None, None, None, None, "dead-lettered")
    assert schema_errors(STATUS_RECORD_SCHEMA, bare.to_json()) == []


def test_dead_letters_as_written_fit_their_schema() -> None:
    """Real ``to_json`` output, with a copy, by reference and of an unknown partner, fits DEAD_LETTER_SCHEMA."""
    letter = DeadLetter(
        errors=(
            ErrorDetail("", ErrorCode.PROCESSING_FAILED, "The hub failed on this event."),
            ErrorDetail("data.client.bsn", ErrorCode.BSN_INVALID, "The BSN fails the 11-proof."),
        ),
        unroutable=True,
        partner=None,
        event_id=None,
        topic="hub.inbound.gp-de-linde",
        partition=3,
        offset=0,
        sha256="ef" * 32,
        size=0,
        record=RecordCopy(key=None, headers=(("ce_id", None), ("ce_type", b"x")), value=None),
    )
    for value in (COPIED, BY_REFERENCE):
        read = DeadLetter.from_json(value)
        assert read is not None
        assert schema_errors(DEAD_LETTER_SCHEMA, read.to_json()) == []
    assert schema_errors(DEAD_LETTER_SCHEMA, letter.to_json()) == []


def test_the_schemas_refuse_what_the_records_never_write() -> None:
    """A field the writer does not know, or one it always writes left out, is an error."""
    extra = json.loads(STATUS)
    extra["note"] = "free text"
    assert schema_errors(STATUS_RECORD_SCHEMA, json.dumps(extra).encode()) != []
    missing = json.loads(BY_REFERENCE)
    del missing["digest"]
    assert schema_errors(DEAD_LETTER_SCHEMA, json.dumps(missing).encode()) != []


def test_a_dead_letter_of_a_replay_carries_its_count_and_predecessor() -> None:
    """A replay's dead letter adds ``replays`` and ``replay_of`` and reads them back."""
    letter = DeadLetter.from_json(COPIED)
    assert letter is not None
    assert (letter.replays, letter.replay_of) == (0, None)
    again = dataclasses.replace(letter, replays=2, replay_of="dl-1-40")
    value = again.to_json()
    assert value == COPIED[:-1] + b',"replays":2,"replay_of":"dl-1-40"}'
    assert DeadLetter.from_json(value) == again


def test_a_replay_count_that_is_no_count_reads_as_zero() -> None:
    """A ``replays`` that is not a non-negative integer reads as 0 (lenient, as every field)."""
    for bad in (b'"3"', b"-1", b"true", b"null"):
        letter = DeadLetter.from_json(COPIED[:-1] + b',"replays":' + bad + b"}")
        assert letter is not None
        assert letter.replays == 0


def test_replay_headers_round_trip_and_stay_apart_from_the_records_own() -> None:
    """``hub-replay-*`` headers are split off the record's own headers, which keep their order."""
    replay = Replay(
        topic="hub.inbound.gp-de-linde",
        partition=2,
        offset=70,
        count=1,
        of="dl-0-5",
        operator="ops1",
    )
    own = (("ce_id", b"bad-1"), ("content-type", b"application/json"))
    found, rest = Replay.split(own[:1] + replay.headers + own[1:])
    assert found == replay
    assert rest == own


def test_incomplete_replay_headers_are_no_replay() -> None:
    """Headers missing a part of the replay (or with a non-number offset) describe none."""
    replay = Replay(topic="t", partition=0, offset=1, count=1, of="dl-0-1", operator="ops1")
    headers = [h for h in replay.headers if h[0] != "hub-replay-count"]
    assert Replay.split(headers)[0] is None
    bad = [(n, b"x" if n == "hub-replay-offset" else v) for n, v in replay.headers]
    assert Replay.split(bad)[0] is None
