"""The disclosure log's records: today's JSON reads back, and what the hub builds writes it unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hub.audit.chain import record_hash
from hub.audit.record import (
    AttemptResult,
    DeliveryAttempt,
    DisclosureOutcome,
    DisclosureRecord,
    disclosure_record,
    read_log_record,
)

SUBJECT_A, SUBJECT_B = "03" + "a" * 62, "4f" + "b" * 62

POLICY = "9f" + "0" * 62

# As the router wrote it to the disclosure topic before records named their table's version.
BEFORE_POLICY_VERSION = (
    b'{"disclosure_id":"fa66f718-4e31-5411-94c3-dca018dba6a3",'
    b'"event_id":"46353c21-8c1b-55e2-aae5-e98bd607ae35",'
    b'"event_type":"nl.sociaaldomein.referrals.submitted.v1","source":"gp-de-linde",'
    b'"recipient":"swt-zwolle","assignment_number":null,'
    b'"delivery_id":"298eb069-df05-55ee-8927-9b255dd2531e",'
    b'"decided_at":"2026-01-05T09:30:00Z","outcome":"delivered","reason":null,'
    b'"fields_disclosed":["client.bsn","referral_id"],"fields_withheld":[],'
    b'"legal_basis":"Explicit consent of the client (AVG art. 6(1)(a) and art. 9(2)(a))",'
    b'"processing_activity":"referral-intake",'
    b'"data_subjects":["' + SUBJECT_A.encode() + b'","' + SUBJECT_B.encode() + b'"],'
    b'"data_subject_id_type":"BSN","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",'
    b'"span_id":"0442582307852f43","parent_span_id":"00f067aa0ba902b7"}'
)
CHAIN = "sociaaldomein.inbound.gp-de-linde:0"
PREV = "5e" + "1" * 62
# As the router writes it today (model_dump, then compact JSON), linked into its chain.
TODAY = BEFORE_POLICY_VERSION[:-1] + (
    b',"policy_version":"' + POLICY.encode() + b'","pseudonym_key":"k2",'
    b'"chain":"' + CHAIN.encode() + b'","seq":7,"prev_hash":"' + PREV.encode() + b'"}'
)


def built() -> DisclosureRecord:
    return disclosure_record(
        disclosure_id="fa66f718-4e31-5411-94c3-dca018dba6a3",
        event_id="46353c21-8c1b-55e2-aae5-e98bd607ae35",
        event_type="nl.sociaaldomein.referrals.submitted.v1",
        source="gp-de-linde",
        recipient="swt-zwolle",
        assignment_number=None,
        delivery_id="298eb069-df05-55ee-8927-9b255dd2531e",
        decided_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        outcome=DisclosureOutcome.DELIVERED,
        reason=None,
        fields_disclosed=["referral_id", "client.bsn", "referral_id"],
        fields_withheld=(),
        legal_basis="Explicit consent of the client (AVG art. 6(1)(a) and art. 9(2)(a))",
        processing_activity="referral-intake",
        data_subjects=[SUBJECT_B, SUBJECT_A, SUBJECT_B],
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="0442582307852f43",
        parent_span_id="00f067aa0ba902b7",
        policy_version=POLICY,
        pseudonym_key="k2",
    )


def linked() -> DisclosureRecord:
    """The built record as the pipeline links it into its chain."""
    return built().model_copy(update={"chain": CHAIN, "seq": 7, "prev_hash": PREV})


def test_a_built_record_writes_todays_json() -> None:
    """The hub's own record (not validated again) sorts its lists and writes today's bytes."""
    assert linked().to_json() == TODAY


def test_a_built_record_is_what_model_construct_would_build() -> None:
    """Built without model_construct's loop, the record has the same values, order and set fields."""
    record = built()
    constructed = DisclosureRecord.model_construct(**record.model_dump())
    assert record == constructed
    assert list(vars(record)) == list(DisclosureRecord.model_fields)
    assert record.model_fields_set == constructed.model_fields_set
    assert record.model_copy(update={"reason": "x"}).reason == "x"
    assert record.model_dump() == constructed.model_dump()


def test_todays_json_reads_back_into_an_equal_record() -> None:
    """The audit feed's validating read of today's JSON gives the record the hub built."""
    record = DisclosureRecord.model_validate_json(TODAY)
    assert record == linked()
    assert record.to_json() == TODAY


def test_a_record_written_before_table_versions_reads_back_without_one() -> None:
    """Older records in the topic and the store stay readable: their version is null."""
    record = DisclosureRecord.model_validate_json(BEFORE_POLICY_VERSION)
    assert record.policy_version is None
    assert record == built().model_copy(update={"policy_version": None, "pseudonym_key": None})
    assert (record.chain, record.seq, record.prev_hash) == (None, None, None)


def test_a_record_without_a_pseudonym_key_hashes_as_it_was_written() -> None:
    """A record written before records named their pseudonym key reads back with none, and
    its chain hash is that of its bytes as written: the null field is left out."""
    record = DisclosureRecord.model_validate_json(BEFORE_POLICY_VERSION)
    assert record.pseudonym_key is None
    written = json.loads(BEFORE_POLICY_VERSION)
    assert record_hash(record.model_dump(mode="json")) == record_hash(written)


# As the webhook deliverer has written attempts to the disclosure topic.
ATTEMPT = (
    b'{"record_type":"delivery-attempt","attempt_id":"0b7d4a66-3f0e-5a57-9d0e-6c1f7f5a2b10",'
    b'"disclosure_id":"fa66f718-4e31-5411-94c3-dca018dba6a3","attempt":2,'
    b'"attempted_at":"2026-01-05T09:30:01.250000Z","result":"failed","status":503,'
    b'"reason":"HTTP_503"}'
)


def test_an_attempt_reads_and_writes_todays_json() -> None:
    """A delivery attempt of today's format reads as one (not a disclosure) and writes the same bytes."""
    record = read_log_record(json.loads(ATTEMPT))
    assert isinstance(record, DeliveryAttempt)
    assert (record.attempt, record.result, record.status) == (2, AttemptResult.FAILED, 503)
    assert record.to_json() == ATTEMPT


def test_a_log_record_without_record_type_is_a_disclosure() -> None:
    """A value without ``record_type`` reads as a (validated) disclosure record."""
    assert read_log_record(json.loads(TODAY)) == linked()
