"""The disclosure record of an operator viewing a dead letter's personal data."""

from __future__ import annotations

import json

from hub.envelope import to_kafka
from hub.errors import ErrorCode, ErrorDetail
from hub.operations import ListedDeadLetter
from hub.operations.viewing import data_paths, viewing_record
from hub.privacy import Pseudonymiser
from hub.records import DeadLetter, RecordCopy
from hub.settings import DeadLetterSettings
from hub.testing import load_example

SECRET = b"s" * 32


class _Record:
    def __init__(self, dead: DeadLetter) -> None:
        self.topic, self.partition, self.offset = "hub.deadletter", 0, 3
        self.key, self.value, self.headers = dead.key, dead.to_json(), list(dead.headers)
        self.timestamp = 1767605400000


def test_the_viewing_names_the_operator_the_fields_and_the_residents_pseudonyms() -> None:
    """Recipient ``operator:<name>``, every data path, and the pseudonym of each BSN in the record."""
    event = load_example("referrals.submitted/valid/poh-ggz-referral.json")
    event["data"]["client"]["nickname"] = "Pietje"
    key, headers, value = to_kafka(event)
    copy = RecordCopy(key, tuple(headers), value)
    dead = DeadLetter(
        errors=(ErrorDetail("data.client.nickname", ErrorCode.FIELD_UNKNOWN, "Unknown field."),),
        unroutable=False,
        partner="gp-de-linde",
        event_id=event["id"],
        topic="hub.inbound.gp-de-linde",
        partition=0,
        offset=7,
        sha256="ab" * 32,
        size=len(value or b""),
        record=copy,
    )
    listed = ListedDeadLetter.of(_Record(dead))  # type: ignore[arg-type]
    record = viewing_record(
        listed,
        copy,
        operator="ops-anna",
        pseudonymise=Pseudonymiser(SECRET),
        settings=DeadLetterSettings(),
    )
    assert (record.recipient, record.source, record.event_id) == (
        "operator:ops-anna",
        "gp-de-linde",
        event["id"],
    )
    assert record.event_type == event["type"]
    assert record.outcome.value == "delivered"
    # The client and the two others the referral names (household members).
    bsns = ("999900018", "999900031", "999900043")
    assert record.data_subjects == tuple(sorted(Pseudonymiser(SECRET)(b) for b in bsns))
    assert "client.bsn" in record.fields_disclosed
    assert "client.nickname" in record.fields_disclosed
    assert record.processing_activity == "hub-operations"
    assert record.pseudonym_key == "k1"  # the current key's id, as the router's records
    assert all(bsn not in record.to_json().decode() for bsn in bsns)
    # It is a record the audit feed reads (validated as every disclosure record).
    assert type(record).model_validate(json.loads(record.to_json())) == record


def test_data_paths_are_generic_over_lists() -> None:
    """Leaf paths, lists as ``[]``, sorted and unique."""
    assert data_paths({"a": {"b": 1}, "goals": [{"id": 1}, {"id": 2, "x": None}]}) == [
        "a.b",
        "goals[].id",
        "goals[].x",
    ]
    assert data_paths("text") == []
