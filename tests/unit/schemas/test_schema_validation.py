"""validate_event: the envelope, the sender, the type registry, all errors at once, no input echoed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any, get_args

import pytest
from jsonschema import Draft202012Validator

from hub.errors import ErrorCode, InvalidEvent
from hub.schemas import (
    TYPES,
    ReferralSubmitted,
    TypeSpec,
    ValidEvent,
    spec_for,
    type_name,
    validate_event,
    validate_with_registry,
)
from hub.schemas.common import DEFAULT_RESULT_AREAS, LIFE_DOMAINS, LifeDomain
from hub.testing import OMIT, demo_registry, examples_for, make_event, sender_of, valid_example

# Not identifier-like (a space), so even as a key it must never show in a path.
SECRET = "Zz9 SECRET zZ"

SENDERS = {
    "referrals.submitted": "gp",
    "referrals.status-changed": "swt",
    "cases.opened": "swt",
    "cases.plan-updated": "swt",
    "cases.closed": "swt",
    "safety-reports.submitted": "swt",
    "safety-reports.feedback": "veilig-thuis",
    "safety-cases.handed-over": "veilig-thuis",
    "provisions.requested": "swt",
    "provisions.decided": "backoffice",
    "budgets.status-reported": "backoffice",
    "assignments.issued": "backoffice",
    "care.started": "provider",
    "care.stopped": "provider",
    "outcomes.reported": "provider",
    "assignment-requests.submitted": "provider",
}
SUBJECTS = {
    "referrals.submitted": "referral_id",
    "referrals.status-changed": "referral_id",
    "cases.opened": "case_id",
    "cases.plan-updated": "case_id",
    "cases.closed": "case_id",
    "safety-reports.submitted": "report_id",
    "safety-reports.feedback": "report_id",
    "safety-cases.handed-over": "safety_case_id",
    "provisions.requested": "request_id",
    "provisions.decided": "request_id",
    "budgets.status-reported": "team",
    "assignments.issued": "assignment_number",
    "care.started": "assignment_number",
    "care.stopped": "assignment_number",
    "outcomes.reported": "assignment_number",
    "assignment-requests.submitted": "request_id",
}


def errors_of(event: Any, **options: Any) -> list[tuple[str, ErrorCode]]:
    """The (path, code) pairs validation reports; [] when the event is valid."""
    if "sender" not in options:
        options["sender"] = demo_registry().by_source(str(event.get("source")))
    try:
        validate_event(event, **options)
    except InvalidEvent as exc:
        return [(e.path, e.code) for e in exc.errors]
    return []


def test_registry_has_the_16_types_of_the_contract() -> None:
    """TYPES maps each full type to its model, subject field, sending role and family."""
    assert sorted(TYPES) == sorted(type_name(short) for short in SENDERS)
    for full, spec in TYPES.items():
        assert isinstance(spec, TypeSpec)
        assert full == f"nl.sociaaldomein.{spec.short_name}.v1" == spec.type
        assert spec.sender_role == SENDERS[spec.short_name]
        assert spec.subject_field == SUBJECTS[spec.short_name]
        assert spec.subject_field in spec.model.model_fields
        assert spec.family in {"referrals", "cases", "safety", "provisions", "care"}
        assert spec_for(spec.short_name) is spec_for(full) is spec


def test_spec_for_unknown_type() -> None:
    """spec_for raises KeyError for a type the contract does not have."""
    with pytest.raises(KeyError):
        spec_for("referrals.deleted")


def test_life_domains_are_the_13_of_the_zelfredzaamheid_matrix() -> None:
    """The life-domain code list has the 13 ZRM domains."""
    assert len(LIFE_DOMAINS) == 13
    assert frozenset(get_args(LifeDomain)) == LIFE_DOMAINS


def test_valid_event_carries_attributes_spec_data_and_event_date() -> None:
    """A ValidEvent holds the attributes, the TypeSpec, the data model and the Amsterdam event date."""
    raw = valid_example("referrals.submitted")
    event = validate_event(raw, sender=sender_of(raw))
    assert isinstance(event, ValidEvent)
    assert (event.id, event.source, event.type, event.subject) == (
        raw["id"],
        "urn:nld:agb:01234567",
        "nl.sociaaldomein.referrals.submitted.v1",
        "DL-2025-0317",
    )
    assert event.time == datetime(2025, 3, 3, 10, 42, 17, tzinfo=timezone(timedelta(hours=1)))
    assert event.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert not hasattr(event, "tracestate")
    assert event.dataschema == "https://hub.zwolle.example/schemas/referrals.submitted.v1.json"
    assert event.spec is TYPES[event.type]
    assert isinstance(event.data, ReferralSubmitted)
    assert event.event_date == date(2025, 3, 3)


@pytest.mark.parametrize(
    ("time", "event_date"),
    [
        ("2025-03-02T23:30:00Z", date(2025, 3, 3)),
        ("2025-03-02T22:59:59Z", date(2025, 3, 2)),
        ("2025-07-01T22:30:00+00:00", date(2025, 7, 2)),
        ("2025-07-01T23:30:00-05:00", date(2025, 7, 2)),
    ],
)
def test_event_date_is_the_date_in_amsterdam(time: str, event_date: date) -> None:
    """The event date is the date of `time` in Europe/Amsterdam, whatever its offset."""
    raw = make_event("cases.closed", envelope={"time": time})
    assert validate_event(raw, sender=sender_of(raw)).event_date == event_date


def test_birth_date_is_compared_with_the_amsterdam_date() -> None:
    """A client born "today" in Amsterdam is valid although it is still yesterday in UTC."""
    raw = make_event("referrals.submitted", envelope={"time": "2025-03-02T23:30:00Z"})
    raw["data"]["client"]["birth_date"] = "2025-03-03"
    assert errors_of(raw) == []


def test_canonical_data_keeps_absent_fields_absent_and_normalises() -> None:
    """canonical_data leaves omitted fields out (no defaults, no nulls) and normalises the postcode."""
    raw = valid_example("referrals.submitted")
    data = validate_event(raw, sender=sender_of(raw)).canonical_data()
    expected = {**raw["data"]}
    expected["client"] = {
        **raw["data"]["client"],
        "address": {**raw["data"]["client"]["address"], "postcode": "8021PK"},
    }
    assert data == expected
    assert "youth_care" not in data


def test_all_errors_are_reported_together_in_order() -> None:
    """Envelope, sender and data problems come in one InvalidEvent: envelope first, then data."""
    raw = make_event(
        "referrals.submitted",
        envelope={"specversion": "1.1", "time": "yesterday", "subject": "DL-2025-0999", "x": 1},
        youth_care="no",
        urgency="now",
    )
    raw["data"]["client"]["bsn"] = "123456789"
    raw["data"]["referrer"]["agb"] = "01765432"
    assert errors_of(raw) == [
        ("specversion", ErrorCode.SPECVERSION_UNSUPPORTED),
        ("time", ErrorCode.DATETIME_INVALID),
        ("x", ErrorCode.EXTENSION_NOT_ALLOWED),
        ("subject", ErrorCode.SUBJECT_MISMATCH),
        ("data.referrer.agb", ErrorCode.AGB_NOT_SENDER),
        ("data.client.bsn", ErrorCode.BSN_INVALID),
        ("data.youth_care", ErrorCode.TYPE_MISMATCH),
        ("data.urgency", ErrorCode.FIELD_UNKNOWN),
    ]


def test_error_messages_never_echo_input() -> None:
    """No path, code or message of an error holds the values or unknown keys the sender sent."""
    raw = make_event(
        "referrals.submitted",
        envelope={"subject": SECRET, SECRET: SECRET, "id": SECRET * 20},
        referral_id=SECRET + " ",
        youth_care=SECRET,
        household_members=[{"family_name": SECRET * 30, "birth_date": SECRET, SECRET: 1}],
        consent={"status_feedback": SECRET, "recorded_on": SECRET},
    )
    raw["data"]["client"].update(bsn=SECRET, postcode=SECRET, phone=SECRET)
    raw["data"]["referrer"]["contact"]["email"] = SECRET
    raw["data"]["request"]["life_domains"] = [SECRET]
    raw["data"]["request"]["summary"] = SECRET * 500
    with pytest.raises(InvalidEvent) as caught:
        validate_event(raw, sender=sender_of(raw))
    errors = caught.value.errors
    assert len(errors) >= 14
    assert SECRET.lower() not in repr([e.as_dict() for e in errors]).lower()
    assert SECRET.lower() not in str(caught.value).lower()


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("nickname", "data.client.nickname"),
        ("Esther van Dalfsen", "data.client.*"),
        ("999900018", "data.client.*"),
        ("bsn_999900018", "data.client.*"),
        ("x" * 65, "data.client.*"),
        ("roepnaam", "data.client.roepnaam"),
        ("Roepnaam", "data.client.*"),
        ("élan", "data.client.*"),
    ],
)
def test_unknown_keys_show_only_when_they_look_like_identifiers(key: str, path: str) -> None:
    """An unknown key is named in the path only when it looks like a field name, else `*`."""
    raw = make_event("referrals.submitted")
    raw["data"]["client"][key] = True
    assert errors_of(raw) == [(path, ErrorCode.FIELD_UNKNOWN)]


def test_source_must_be_the_senders() -> None:
    """An event whose source is not the authenticated partner's is SOURCE_MISMATCH, alone."""
    raw = valid_example("referrals.submitted")
    other_gp = demo_registry().get("gp-het-anker")
    assert errors_of(raw, sender=other_gp) == [("source", ErrorCode.SOURCE_MISMATCH)]


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        (
            {"id": "a b", "source": "urn:nld:agb:01765432"},
            [("source", ErrorCode.SOURCE_MISMATCH)],
        ),
        (
            {"time": "today", "type": "nl.sociaaldomein.cases.closed.v1"},
            [("type", ErrorCode.TYPE_NOT_ALLOWED)],
        ),
    ],
)
def test_a_forbidden_event_gets_only_its_permission_error(
    envelope: dict[str, str], expected: list[tuple[str, ErrorCode]]
) -> None:
    """Another's source or a type of another role is the only error, as HTTP's 403 answers it, whatever else is wrong."""
    raw = make_event("referrals.submitted", envelope=envelope)
    gp = demo_registry().get("gp-de-linde")
    assert errors_of(raw, sender=gp) == expected


def test_type_must_be_one_the_senders_role_sends() -> None:
    """A partner sending a type of another role gets TYPE_NOT_ALLOWED (and no AGB complaint)."""
    raw = make_event("care.started", envelope={"source": "urn:nld:agb:01234567"})
    assert errors_of(raw) == [("type", ErrorCode.TYPE_NOT_ALLOWED)]


def test_sender_none_skips_sender_checks() -> None:
    """Without a sender neither source, role nor AGB is compared."""
    raw = make_event("care.started", provider_agb="12345678", envelope={"source": "urn:x:y"})
    assert errors_of(raw, sender=None) == []


def test_unknown_type_skips_the_data() -> None:
    """An unknown type is TYPE_UNKNOWN; its data is not checked against any model."""
    raw = make_event("cases.closed", envelope={"type": "nl.sociaaldomein.cases.closed.v2"})
    raw["data"] = {"anything": None}
    assert errors_of(raw) == [("type", ErrorCode.TYPE_UNKNOWN)]


@pytest.mark.parametrize("raw", [[], "event", None, 42])
def test_event_must_be_an_object(raw: Any) -> None:
    """Something other than a JSON object is ENVELOPE_INVALID at the root."""
    assert errors_of(raw, sender=None) == [("", ErrorCode.ENVELOPE_INVALID)]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"specversion": OMIT}, [("specversion", ErrorCode.FIELD_REQUIRED)]),
        ({"specversion": 1.0}, [("specversion", ErrorCode.TYPE_MISMATCH)]),
        ({"id": ""}, [("id", ErrorCode.TOO_SHORT)]),
        ({"id": "x" * 128}, []),
        ({"id": None}, [("id", ErrorCode.FIELD_NULL)]),
        ({"source": OMIT}, [("source", ErrorCode.FIELD_REQUIRED)]),
        ({"type": OMIT}, [("type", ErrorCode.FIELD_REQUIRED)]),
        ({"subject": OMIT}, [("subject", ErrorCode.FIELD_REQUIRED)]),
        ({"time": "2025-03-21T10:00:00.123456789+01:00"}, []),
        ({"time": "2025-03-21t09:00:00z"}, []),
        ({"time": "2025-03-21T10:00:00"}, [("time", ErrorCode.DATETIME_INVALID)]),
        ({"time": "2025-03-21 10:00:00+01:00"}, [("time", ErrorCode.DATETIME_INVALID)]),
        ({"time": "2025-03-21T10:00+01:00"}, [("time", ErrorCode.DATETIME_INVALID)]),
        ({"time": "2025-03-21T10:00:60+01:00"}, [("time", ErrorCode.DATETIME_INVALID)]),
        ({"time": "2025-03-21T10:00:00+0100"}, [("time", ErrorCode.DATETIME_INVALID)]),
        ({"time": 1742547600}, [("time", ErrorCode.TYPE_MISMATCH)]),
        ({"datacontenttype": OMIT}, []),
        ({"datacontenttype": "application/json; charset=utf-8"}, []),
        (
            {"datacontenttype": "text/plain"},
            [("datacontenttype", ErrorCode.CONTENT_TYPE_UNSUPPORTED)],
        ),
        ({"dataschema": "urn:example:schema"}, []),
        ({"dataschema": "/schemas/x.json"}, [("dataschema", ErrorCode.FORMAT_INVALID)]),
        ({"dataschema": "https://u@h.example:8443/s/x.json?v=1#/d"}, []),
        ({"dataschema": "http://[::1]/x.json"}, []),
        ({"dataschema": "urn:nld:%C3%A9"}, []),
        ({"dataschema": 'a:<>{}|^`"'}, [("dataschema", ErrorCode.FORMAT_INVALID)]),
        ({"dataschema": "https://h.example/a b"}, [("dataschema", ErrorCode.FORMAT_INVALID)]),
        ({"dataschema": "https://h.example/é"}, [("dataschema", ErrorCode.FORMAT_INVALID)]),
        ({"dataschema": "https://h.example/%zz"}, [("dataschema", ErrorCode.FORMAT_INVALID)]),
        ({"dataschema": "https://h:8a/x"}, [("dataschema", ErrorCode.FORMAT_INVALID)]),
        ({"dataschema": "urn:x#a#b"}, [("dataschema", ErrorCode.FORMAT_INVALID)]),
        ({"dataschema": "1a:b"}, [("dataschema", ErrorCode.FORMAT_INVALID)]),
        ({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, []),
        (
            {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
            [("traceparent", ErrorCode.FORMAT_INVALID)],
        ),
        (
            {"traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            [("traceparent", ErrorCode.FORMAT_INVALID)],
        ),
        ({"tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}, []),
        ({"tracestate": "tenant@vendor=abc"}, []),
        ({"tracestate": "Upper=1"}, [("tracestate", ErrorCode.FORMAT_INVALID)]),
        ({"tracestate": "a=" + "b" * 600}, [("tracestate", ErrorCode.FORMAT_INVALID)]),
        ({"data": OMIT}, [("data", ErrorCode.FIELD_REQUIRED)]),
        ({"data": None}, [("data", ErrorCode.FIELD_NULL)]),
        ({"data": "{}"}, [("data", ErrorCode.TYPE_MISMATCH)]),
        ({"data_base64": "e30="}, [("data_base64", ErrorCode.CONTENT_TYPE_UNSUPPORTED)]),
        ({"partitionkey": "x"}, [("partitionkey", ErrorCode.SUBJECT_MISMATCH)]),
        ({"client name": "x"}, [("*", ErrorCode.EXTENSION_NOT_ALLOWED)]),
    ],
)
def test_envelope_rules(change: dict[str, Any], expected: list[Any]) -> None:
    """Each envelope attribute follows the NL GOV profile as the contract states it."""
    assert errors_of(make_event("cases.closed", envelope=change)) == expected


def test_subject_must_equal_the_types_subject_field() -> None:
    """The subject must equal the data field the type names (here budgets: the team)."""
    raw = make_event("budgets.status-reported", envelope={"subject": "Wijkteam Zwolle-Noord"})
    assert errors_of(raw) == [("subject", ErrorCode.SUBJECT_MISMATCH)]
    raw = make_event(
        "budgets.status-reported",
        team="Wijkteam Zwolle-Noord",
        envelope={"subject": "Wijkteam Zwolle-Noord"},
    )
    assert errors_of(raw) == []


def test_subject_is_never_a_bsn() -> None:
    """A 9-digit subject passing the 11-proof is rejected even when it matches the data."""
    raw = make_event("cases.closed", case_id="999900018", envelope={"subject": "999900018"})
    assert errors_of(raw) == [
        ("subject", ErrorCode.SUBJECT_IS_BSN),
        ("data.case_id", ErrorCode.BSN_IN_IDENTIFIER),
    ]
    raw = make_event("cases.closed", case_id="999900019", envelope={"subject": "999900019"})
    assert errors_of(raw) == []


def test_validate_with_registry_names_an_unregistered_source_and_goes_on() -> None:
    """An unregistered source is SOURCE_MISMATCH and the rest is still checked, sender-free."""
    raw = make_event("cases.closed", reason="done", envelope={"source": "urn:nld:oin:1:systeem:x"})
    with pytest.raises(InvalidEvent) as caught:
        validate_with_registry(raw, demo_registry())
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("source", ErrorCode.SOURCE_MISMATCH),
        ("data.reason", ErrorCode.VALUE_NOT_ALLOWED),
    ]


def test_validate_with_registry_uses_the_registered_sender() -> None:
    """With a registered source the sender's role and AGB are checked as over HTTP."""
    raw = make_event("care.started", envelope={"source": "urn:nld:agb:01234567"})
    with pytest.raises(InvalidEvent) as caught:
        validate_with_registry(raw, demo_registry())
    assert [(e.path, e.code) for e in caught.value.errors] == [("type", ErrorCode.TYPE_NOT_ALLOWED)]
    valid = validate_with_registry(make_event("care.started"), demo_registry())
    assert valid.spec.short_name == "care.started"


def test_default_result_areas_are_the_contracts() -> None:
    """The default result-area list is the eight of the contract."""
    assert sorted(DEFAULT_RESULT_AREAS) == [
        "dagbesteding-participatie",
        "financien-op-orde",
        "opvoeden-opgroeien",
        "regie-eigen-leven",
        "schoon-leefbaar-huis",
        "sociaal-netwerk",
        "veiligheid",
        "zelfstandig-wonen",
    ]


def test_make_event_gives_a_fresh_id_and_applies_overrides() -> None:
    """make_event starts from the valid example, gives a new id and applies data and envelope changes."""
    first, second = make_event("cases.closed"), make_event("cases.closed")
    assert first["id"] != second["id"] != valid_example("cases.closed")["id"]
    changed = make_event("cases.closed", reason="moved", envelope={"id": "fixed"})
    assert (changed["id"], changed["data"]["reason"]) == ("fixed", "moved")
    assert "origin" not in make_event("cases.opened", origin=OMIT)["data"]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.mark.parametrize("type_", sorted(TYPES))
def test_json_schema_is_closed_and_never_allows_null(type_: str) -> None:
    """Each type's JSON Schema closes every object and has no null type or null default."""
    schema = TYPES[type_].model.model_json_schema()
    nodes = list(_walk(schema))
    assert all(node.get("default", 0) is not None for node in nodes)
    assert all(node.get("type") != "null" for node in nodes)
    objects = [node for node in nodes if node.get("type") == "object" and "properties" in node]
    assert objects
    assert all(node["additionalProperties"] is False for node in objects)


@pytest.mark.parametrize("type_", sorted(TYPES))
def test_valid_examples_match_the_json_schema(type_: str) -> None:
    """The published JSON Schema of a type accepts its valid examples' data."""
    validator = Draft202012Validator(TYPES[type_].model.model_json_schema())
    for example in examples_for(type_):
        assert list(validator.iter_errors(example["data"])) == []
