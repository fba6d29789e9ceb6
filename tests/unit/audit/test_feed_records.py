"""The audit feed reads the disclosure topic's bytes as the validating read of the decoded JSON did."""

from __future__ import annotations

import json

from hub.audit.feed import RECORDS_INVALID, split_records
from hub.audit.record import AttemptResult, read_log_record

from .store_cases import attempt, record


def test_disclosures_and_attempts_are_told_apart_and_unreadable_values_counted() -> None:
    """Disclosure records and delivery attempts are read back equal; a value that is neither is counted, not kept."""
    one = record(1)
    tried = attempt(1, one, AttemptResult.FAILED, 503)
    before = RECORDS_INVALID._value.get()
    disclosures, attempts, checkpoints = split_records(
        [one.to_json(), tried.to_json(), b"not json", b"", b"[]", b'{"record_type": "x"}']
    )
    assert (disclosures, attempts, checkpoints) == ([one], [tried], [])
    assert RECORDS_INVALID._value.get() - before == 4


def test_the_bytes_read_as_read_log_record_reads_their_json() -> None:
    """The one-call read of a record's bytes gives what read_log_record gives for its decoded JSON."""
    values = [record(2).to_json(), attempt(2, record(2), AttemptResult.SUCCEEDED, 204).to_json()]
    disclosures, attempts, _ = split_records(values)
    assert [*disclosures, *attempts] == [read_log_record(json.loads(v)) for v in values]
