"""Field types shared by every message: BSN, postcode, dates, text, strict JSON types, closed objects."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.nl import bsn as stdnum_bsn

from hub.envelope import is_bsn
from hub.errors import ErrorCode, InvalidEvent
from hub.schemas import Person, validate_event
from hub.schemas.common import MAX_INTEGER
from hub.testing import OMIT, make_event, sender_of

REFERRAL = "referrals.submitted"


def errors_of(event: dict[str, Any]) -> list[tuple[str, ErrorCode]]:
    """The (path, code) pairs validation reports for an event; [] when it is valid."""
    try:
        validate_event(event, sender=sender_of(event))
    except InvalidEvent as exc:
        return [(e.path, e.code) for e in exc.errors]
    return []


def referral_with_client(**client: Any) -> dict[str, Any]:
    event = make_event(REFERRAL)
    for name, value in client.items():
        if value is OMIT:
            del event["data"]["client"][name]
        else:
            event["data"]["client"][name] = value
    return event


def _weighted_sum(digits: str) -> int:
    return sum((9 - i) * int(d) for i, d in enumerate(digits[:8])) - int(digits[8])


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_is_bsn_agrees_with_stdnum_and_excludes_a_zero_sum(digits: str) -> None:
    """is_bsn is python-stdnum's 11-proof with the contract's extra rule: the sum is not 0."""
    assert is_bsn(digits) == (stdnum_bsn.is_valid(digits) and _weighted_sum(digits) != 0)


def test_is_bsn_over_the_whole_test_range() -> None:
    """In 999900006-999999990 is_bsn accepts exactly the numbers python-stdnum accepts."""
    numbers = [str(n) for n in range(999900006, 999999991)]
    assert [n for n in numbers if is_bsn(n)] == [n for n in numbers if stdnum_bsn.is_valid(n)]


@pytest.mark.parametrize(
    "value",
    ["000000000", "000000012", "99990001", "9999000060", "99990000a", " 99990006", "٩٩٩٩٠٠٠٠٦"],
)
def test_is_bsn_rejects(value: str) -> None:
    """A zero sum, a wrong length, a non-digit or a non-ASCII digit is not a BSN."""
    assert is_bsn(value) is False


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("999900019", ErrorCode.BSN_INVALID),
        ("000000012", ErrorCode.BSN_INVALID),
        ("99990001", ErrorCode.BSN_INVALID),
        ("9999 0001 8", ErrorCode.BSN_INVALID),
        (999900018, ErrorCode.TYPE_MISMATCH),
        (None, ErrorCode.FIELD_NULL),
    ],
)
def test_bsn_field(value: Any, code: ErrorCode) -> None:
    """A BSN field takes a 9-digit string passing the 11-proof, nothing else."""
    assert errors_of(referral_with_client(bsn=value)) == [("data.client.bsn", code)]


@pytest.mark.parametrize(
    ("value", "normalised"),
    [("8021 pk", "8021PK"), ("8021PK", "8021PK"), ("8021pK", "8021PK"), ("9999 ZZ", "9999ZZ")],
)
def test_postcode_is_normalised(value: str, normalised: str) -> None:
    """A postcode with an optional space and any case is normalised to 1234AB."""
    event = referral_with_client()
    event["data"]["client"]["address"]["postcode"] = value
    valid = validate_event(event, sender=sender_of(event))
    assert valid.canonical_data()["client"]["address"]["postcode"] == normalised


@pytest.mark.parametrize("value", ["0821PK", "8021  PK", "8021-PK", "802 PK", "8021P", "8021 PKK"])
def test_postcode_rejects(value: str) -> None:
    """A postcode not of the form 4 digits (first not 0), optional space, 2 letters is invalid."""
    event = referral_with_client()
    event["data"]["client"]["address"]["postcode"] = value
    assert errors_of(event) == [("data.client.address.postcode", ErrorCode.POSTCODE_INVALID)]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1986-02-30", ErrorCode.DATE_INVALID),
        ("1986-2-11", ErrorCode.DATE_INVALID),
        ("19860211", ErrorCode.DATE_INVALID),
        ("1986-02-11T00:00:00", ErrorCode.DATE_INVALID),
        ("1986-02-11 ", ErrorCode.DATE_INVALID),
        (19860211, ErrorCode.TYPE_MISMATCH),
        ("1899-12-31", ErrorCode.BIRTH_DATE_INVALID),
        ("2025-03-04", ErrorCode.BIRTH_DATE_INVALID),
    ],
)
def test_birth_date(value: Any, code: ErrorCode) -> None:
    """A birth date is YYYY-MM-DD, exists, is not before 1900-01-01 nor after the event date."""
    assert errors_of(referral_with_client(birth_date=value)) == [("data.client.birth_date", code)]


@pytest.mark.parametrize("value", ["1900-01-01", "2024-02-29", "2025-03-03"])
def test_birth_date_accepts_the_bounds(value: str) -> None:
    """1900-01-01, a leap day and the event date itself are valid birth dates."""
    assert errors_of(referral_with_client(birth_date=value)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("client.address.house_number", "14"),
        ("client.address.house_number", 14.0),
        ("client.address.house_number", True),
        ("client.family_name", 7),
        ("consent.status_feedback", 1),
        ("consent.status_feedback", "true"),
        ("request.life_domains", "financien"),
        ("client.address", "Klaproosstraat 14A"),
    ],
)
def test_no_coercion(path: str, value: Any) -> None:
    """Strict JSON types: a string is not an int, a float not an int, 1 not a boolean."""
    event = make_event(REFERRAL)
    *parents, last = path.split(".")
    target = event["data"]
    for name in parents:
        target = target[name]
    target[last] = value
    assert errors_of(event) == [(f"data.{path}", ErrorCode.TYPE_MISMATCH)]


def test_null_is_never_valid() -> None:
    """null for an optional and for a required field is FIELD_NULL, not "missing" or a type error."""
    event = referral_with_client(initials=None, family_name=None)
    event["data"]["household_members"] = None
    assert errors_of(event) == [
        ("data.client.initials", ErrorCode.FIELD_NULL),
        ("data.client.family_name", ErrorCode.FIELD_NULL),
        ("data.household_members", ErrorCode.FIELD_NULL),
    ]


def test_unknown_fields_are_rejected_at_every_depth() -> None:
    """Objects are closed: an unknown field is rejected at the top of data and deep inside it."""
    event = make_event(REFERRAL, priority="high")
    event["data"]["referrer"]["contact"]["fax"] = "038 1234567"
    event["data"]["household_members"][1]["nickname"] = "Lot"
    assert errors_of(event) == [
        ("data.referrer.contact.fax", ErrorCode.FIELD_UNKNOWN),
        ("data.household_members[1].nickname", ErrorCode.FIELD_UNKNOWN),
        ("data.priority", ErrorCode.FIELD_UNKNOWN),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("😀" * 200, []),
        ("é" * 200, []),
        ("😀" * 201, [("data.client.family_name", ErrorCode.TOO_LONG)]),
        ("", [("data.client.family_name", ErrorCode.TOO_SHORT)]),
        (" \t\n", [("data.client.family_name", ErrorCode.TOO_SHORT)]),
        (" Dalfsen ", []),
    ],
)
def test_name_length_counts_code_points(value: str, expected: list[Any]) -> None:
    """A name is 1-200 code points (not bytes) and not only whitespace."""
    assert errors_of(referral_with_client(family_name=value)) == expected


@pytest.mark.parametrize(
    ("value", "blank"),
    [
        ("\ufeff", True),  # ECMA-262 whitespace (ZWNBSP), not Unicode White_Space
        ("\u3000\u2028\xa0", True),
        ("\x0b\x0c", True),
        ("\x85", False),  # Unicode White_Space, not ECMA-262 whitespace
        ("\u180e", False),
        ("\u200b", False),
    ],
)
def test_only_whitespace_means_what_the_published_schema_says(value: str, blank: bool) -> None:
    """Text is blank by the published pattern ``\\S`` as JSON Schema reads it (ECMA-262), not by Rust's."""
    expected = [("data.client.family_name", ErrorCode.TOO_SHORT)] if blank else []
    assert errors_of(referral_with_client(family_name=value)) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("+31 (0)38-421 55 60", True),
        ("14 038", True),
        ("0612345678901234567890", False),
        ("12345", False),
        ("038 421 55 60 ext 3", False),
        ("038.421.55.60", False),
        ("123456", True),
        ("      ", False),
        ("+-() -", False),
        ("+" * 20, False),
    ],
)
def test_phone(value: str, valid: bool) -> None:
    """A phone is 6-20 characters from + digits space ( ) -, at least one of them a digit."""
    expected = [] if valid else [("data.client.phone", ErrorCode.PHONE_INVALID)]
    assert errors_of(referral_with_client(phone=value)) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("m.bosch@delinde-zwolle.example", True),
        ("poh+ggz@praktijk.nl", True),
        ("a@b.co", True),
        ("info@xn--bcher-kva.example", True),
        ("m.bosch@delinde", False),
        ("m..bosch@delinde.nl", False),
        (".bosch@delinde.nl", False),
        ("m bosch@delinde.nl", False),
        ("m.bosch@-delinde.nl", False),
        ("marieke@bücher.nl", False),
        ("m@" + "a" * 250 + ".nl", False),
        ("x" * 65 + "@delinde.nl", False),
        ("m.bosch@delinde.nl\n", False),
    ],
)
def test_email(value: str, valid: bool) -> None:
    """An e-mail address is a dot-atom local part (<= 64) @ a domain with a TLD, ASCII, <= 254."""
    event = make_event(REFERRAL)
    event["data"]["referrer"]["contact"]["email"] = value
    expected = [] if valid else [("data.referrer.contact.email", ErrorCode.EMAIL_INVALID)]
    assert errors_of(event) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [("A" * 64, True), ("a.b_c:d-1", True), ("A" * 65, False), ("DL-2025-03é7", False)],
)
def test_identifier(value: str, valid: bool) -> None:
    """An identifier is 1-64 characters from A-Z a-z 0-9 . _ : -."""
    event = make_event(REFERRAL, referral_id=value, envelope={"subject": value})
    expected = [] if valid else [("data.referral_id", ErrorCode.IDENTIFIER_INVALID)]
    assert errors_of(event) == expected


@pytest.mark.parametrize("value", ["1234567", "123456789", "0123456a"])
def test_agb_is_eight_digits(value: str) -> None:
    """An AGB code is a string of exactly 8 digits."""
    event = make_event("outcomes.reported", provider_agb=value)
    assert errors_of(event) == [("data.provider_agb", ErrorCode.AGB_INVALID)]


def test_integers_stay_within_the_json_safe_range() -> None:
    """An integer up to 2**53 - 1 is accepted; one above is OUT_OF_RANGE."""
    assert errors_of(make_event("budgets.status-reported", budget_cents=MAX_INTEGER)) == []
    assert errors_of(make_event("budgets.status-reported", budget_cents=MAX_INTEGER + 1)) == [
        ("data.budget_cents", ErrorCode.OUT_OF_RANGE)
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, []),
        (2.5, []),
        (-1, []),
        (True, [ErrorCode.TYPE_MISMATCH]),
        ("7", [ErrorCode.TYPE_MISMATCH]),
        (float("nan"), [ErrorCode.TYPE_MISMATCH]),
        (float("inf"), [ErrorCode.TYPE_MISMATCH]),
        (MAX_INTEGER, []),
        (-MAX_INTEGER, []),
        (MAX_INTEGER + 1, [ErrorCode.OUT_OF_RANGE]),
        (-MAX_INTEGER - 1, [ErrorCode.OUT_OF_RANGE]),
        (2**64, [ErrorCode.OUT_OF_RANGE]),
        (1e300, []),
    ],
)
def test_indicator_values_are_finite_numbers(value: Any, expected: list[ErrorCode]) -> None:
    """An indicator value is a finite JSON number, an integer within 2**53 - 1; a boolean or a string is not (its path masks the key)."""
    event = make_event("outcomes.reported")
    event["data"]["results"][0]["indicators"] = {"schuldeisers": value}
    path = "data.results[0].indicators.*"
    assert errors_of(event) == [(path, code) for code in expected]


def test_indicator_integers_stay_integers_in_canonical_data() -> None:
    """An integer indicator stays an integer and a float a float in the canonical data."""
    event = make_event("outcomes.reported")
    valid = validate_event(event, sender=sender_of(event))
    indicators = valid.canonical_data()["results"][0]["indicators"]
    assert indicators == {"schuldeisers_in_beeld": 7, "zelfredzaamheid_financien": 2.5}
    assert type(indicators["schuldeisers_in_beeld"]) is int


def test_safety_persons_may_lack_bsn_and_birth_date() -> None:
    """In a safety report a person needs only a family name; elsewhere the birth date is required."""
    event = make_event("safety-reports.submitted")
    event["data"]["persons"][0]["person"] = {"family_name": "Oosterhof"}
    assert errors_of(event) == []
    referral = make_event(REFERRAL)
    del referral["data"]["household_members"][0]["birth_date"]
    assert errors_of(referral) == [
        ("data.household_members[0].birth_date", ErrorCode.FIELD_REQUIRED)
    ]


def test_models_work_without_a_validation_context() -> None:
    """A model validated directly checks birth dates against 1900-01-01 only."""
    person = Person.model_validate({"family_name": "Jansen", "birth_date": "2999-01-01"})
    assert person.birth_date.year == 2999
