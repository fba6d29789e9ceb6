"""Field types and building blocks shared by every v1 message: identifiers, Person, Address, ...

Every model is strict and closed (messages.md, "Conventions"): no coercion, no unknown
field, and an optional field may be omitted but is never ``null``. Format rules run inside
pydantic-core (patterns, lengths, literals); only checks that need arithmetic or the
validation context are Python: the BSN 11-proof, birth dates against the event date, the
municipality's result areas, and one ``model_validator(mode="after")`` per model for its
cross-field rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Final, Literal, NamedTuple, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, PydanticKnownError, core_schema

from hub.envelope import has_bsn_part, passes_eleven_proof
from hub.errors import ErrorCode
from hub.schemas.errors import BLANK_PATTERN, NOT_BLANK, Issue, raise_issues

__all__ = [
    "DEFAULT_RESULT_AREAS",
    "LAW_CATEGORIES",
    "LIFE_DOMAINS",
    "MAX_ENTRIES",
    "MAX_INTEGER",
    "STOP_REASONS",
    "Address",
    "Agb",
    "AssignmentNumber",
    "BirthDate",
    "BoundedPeriod",
    "Bsn",
    "ChangeReason",
    "Client",
    "ClientWithPhone",
    "Contact",
    "ContractModel",
    "Count",
    "DeliveryStatus",
    "Email",
    "Frequency",
    "Identifier",
    "IsoDate",
    "Law",
    "LegalRepresentative",
    "LifeDomain",
    "LongText",
    "Name",
    "Number",
    "Omittable",
    "Period",
    "Person",
    "PersonWithBsn",
    "Phone",
    "PositiveInt",
    "Postcode",
    "Product",
    "ProductCategory",
    "ResultArea",
    "SafetyPerson",
    "Scope",
    "StopReason",
    "Text",
    "TextLimit",
    "Unit",
    "ValidationContext",
    "Variant",
    "age_on",
    "category_issues",
    "duplicate_issues",
    "rule_context",
    "variant_issues",
]

T = TypeVar("T")

# Integers must survive every partner's JSON parser (I-JSON, RFC 7493): at most 2**53 - 1.
MAX_INTEGER: Final = 2**53 - 1
# Lists and maps without a limit of their own hold at most this many entries (messages.md, Envelope).
MAX_ENTRIES: Final = 100
_OLDEST_BIRTH_DATE: Final = date(1900, 1, 1)


# --- Building blocks for field types ------------------------------------------------------


class _NotNull:
    """Drop the ``None`` branch of ``T | None``: the field may be omitted, never ``null``."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        if schema["type"] == "nullable":
            inner: CoreSchema = schema["schema"]
            return inner
        return schema


# An optional field: default None, absent from the canonical dict, and ``null`` is rejected.
Omittable = Annotated[T | None, _NotNull()]


@dataclass(frozen=True, slots=True)
class _Coded:
    """A string format whose failure carries its own error code, checked in pydantic-core.

    A non-string input fails with the same code; ``schemas.errors`` reports it as
    TYPE_MISMATCH (or FIELD_NULL) because it looks at the input's JSON type first.
    """

    pattern: str
    code: ErrorCode
    message: str
    max_length: int | None = None
    min_length: int | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.str_schema(
                strict=True,
                pattern=self.pattern,
                min_length=self.min_length,
                max_length=self.max_length,
            ),
            custom_error_type=self.code.value,
            custom_error_message=self.message,
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        result: JsonSchemaValue = {"type": "string", "pattern": self.pattern}
        if self.min_length is not None:
            result["minLength"] = self.min_length
        if self.max_length is not None:
            result["maxLength"] = self.max_length
        return result


@dataclass(frozen=True, slots=True)
class TextLimit:
    """Free text: 1..max_length code points and not only whitespace (``BLANK_PATTERN``)."""

    max_length: int

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.str_schema(
            strict=True, min_length=1, max_length=self.max_length, pattern=NOT_BLANK
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": self.max_length,
            "pattern": BLANK_PATTERN,
        }


_DATE_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class _IsoDate:
    """A date written ``YYYY-MM-DD`` and nothing else, parsed to ``datetime.date``."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.chain_schema(
            [
                core_schema.custom_error_schema(
                    core_schema.str_schema(strict=True, pattern=_DATE_PATTERN),
                    custom_error_type=ErrorCode.DATE_INVALID.value,
                    custom_error_message="Must be a date written YYYY-MM-DD.",
                ),
                core_schema.date_schema(strict=False),
            ],
            serialization=core_schema.plain_serializer_function_ser_schema(
                date.isoformat, when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The pattern too: "format" only asserts in validators that opt in (2020-12).
        return {"type": "string", "format": "date", "pattern": _DATE_PATTERN}


def _check_integer_range(value: float) -> float:
    # An integer out of I-JSON's range would reach a recipient's parser altered; a
    # number with a fraction is rounded by every parser alike and is not bounded.
    # Raised as pydantic's own range errors, so they read as every integer field's.
    if isinstance(value, int):
        if value > MAX_INTEGER:
            raise PydanticKnownError("less_than_equal", {"le": MAX_INTEGER})
        if value < -MAX_INTEGER:
            raise PydanticKnownError("greater_than_equal", {"ge": -MAX_INTEGER})
    return value


class _Number:
    """A finite JSON number: an int stays an int (within 2**53 - 1), a float a float; booleans are not numbers."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            _check_integer_range,
            core_schema.union_schema(
                [
                    core_schema.int_schema(strict=True),
                    core_schema.float_schema(strict=True, allow_inf_nan=False),
                ],
                custom_error_type=ErrorCode.TYPE_MISMATCH.value,
                custom_error_message="Must be a finite JSON number.",
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "number"}


# --- Validation context ------------------------------------------------------------------


class ValidationContext(NamedTuple):
    """What validation needs beyond the data: the event date and the configured result areas.

    Passed as pydantic's ``context``; a model validated without one checks birth dates only
    against 1900-01-01, skips the age rules and uses the default result areas.
    """

    event_date: date | None
    result_areas: frozenset[str]


def rule_context(info: ValidationInfo) -> ValidationContext:
    """The ValidationContext of this validation run, or the default one."""
    context = info.context
    if isinstance(context, ValidationContext):
        return context
    return _DEFAULT_CONTEXT


# --- Field types -------------------------------------------------------------------------


def _check_bsn(value: str) -> str:
    if not passes_eleven_proof(value):  # the pattern already checked 9 digits
        raise PydanticCustomError(ErrorCode.BSN_INVALID.value, "The BSN fails the 11-proof.")
    return value


def _check_identifier(value: object) -> object:
    # Before the format: an identifier that also breaks the format is still reported as
    # carrying a BSN, the finding that matters (messages.md: "rejected at that path").
    if isinstance(value, str) and has_bsn_part(value):
        raise PydanticCustomError(
            ErrorCode.BSN_IN_IDENTIFIER.value,
            "No part of an identifier between . _ : - may be a BSN.",
        )
    return value


def _normalise_postcode(value: str) -> str:
    return value.replace(" ", "").upper()


def _check_email(value: str) -> str:
    if value.index("@") > 64:
        raise PydanticCustomError(
            ErrorCode.EMAIL_INVALID.value, "The part before @ may have at most 64 characters."
        )
    return value


def _check_birth_date(value: date, info: ValidationInfo) -> date:
    if value < _OLDEST_BIRTH_DATE:
        raise PydanticCustomError(
            ErrorCode.BIRTH_DATE_INVALID.value, "A birth date may not be before 1900-01-01."
        )
    event_date = rule_context(info).event_date
    if event_date is not None and value > event_date:
        raise PydanticCustomError(
            ErrorCode.BIRTH_DATE_INVALID.value, "A birth date may not be after the event date."
        )
    return value


def _check_result_area(value: str, info: ValidationInfo) -> str:
    if value not in rule_context(info).result_areas:
        raise PydanticCustomError(
            ErrorCode.RESULT_AREA_UNKNOWN.value,
            "Not one of the municipality's result areas (see docs/errors.md).",
        )
    return value


Name = Annotated[str, TextLimit(200)]
"""Names, roles, organisations, street, city, team names: at most 200 characters."""
Text = Annotated[str, TextLimit(4000)]
"""Free text without a stated limit: at most 4000 characters."""
LongText = Annotated[str, TextLimit(8000)]
"""Free text the contract allows up to 8000 characters (concern, handover summary)."""

Identifier = Annotated[
    str,
    _Coded(
        r"^[A-Za-z0-9._:-]{1,64}$",
        ErrorCode.IDENTIFIER_INVALID,
        "An identifier is 1 to 64 characters from A-Z a-z 0-9 . _ : -.",
    ),
    BeforeValidator(_check_identifier),
]
Bsn = Annotated[
    str,
    _Coded(r"^[0-9]{9}$", ErrorCode.BSN_INVALID, "A BSN is a string of 9 digits."),
    AfterValidator(_check_bsn),
]
Agb = Annotated[
    str, _Coded(r"^[0-9]{8}$", ErrorCode.AGB_INVALID, "An AGB code is a string of 8 digits.")
]
Postcode = Annotated[
    str,
    _Coded(
        r"^[1-9][0-9]{3} ?[A-Za-z]{2}$",
        ErrorCode.POSTCODE_INVALID,
        "A postcode is 4 digits (the first not 0) and 2 letters, e.g. 8011 AB.",
    ),
    AfterValidator(_normalise_postcode),
]
# At least one digit: a phone of only spaces or punctuation is as blank as an empty
# string ("Strings are non-empty"). The lengths are separate from the pattern because
# pydantic-core's regex engine has no look-ahead.
Phone = Annotated[
    str,
    _Coded(
        r"^[+ ()-]*[0-9][+0-9 ()-]*$",
        ErrorCode.PHONE_INVALID,
        "A phone number is 6 to 20 characters from + digits space ( ) -, with at least one digit.",
        max_length=20,
        min_length=6,
    ),
]
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
Email = Annotated[
    str,
    _Coded(
        rf"^{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})$",
        ErrorCode.EMAIL_INVALID,
        "Must be an e-mail address like name@example.nl (ASCII, at most 254 characters).",
        max_length=254,
    ),
    AfterValidator(_check_email),
]
AssignmentNumber = Annotated[
    str,
    _Coded(r"^[0-9]{1,8}$", ErrorCode.FORMAT_INVALID, "An assignment number is 1 to 8 digits."),
]
ProductCode = Annotated[
    str,
    _Coded(
        r"^[A-Za-z0-9]{1,5}$",
        ErrorCode.FORMAT_INVALID,
        "A product code is 1 to 5 letters or digits.",
    ),
]
ProductCategory = Annotated[
    str,
    _Coded(
        r"^(?:0[1-9]|1[0-8]|4[0-9]|5[0-5]|P[1-9])$",
        ErrorCode.VALUE_NOT_ALLOWED,
        "A category is Wmo 01-18 (WMO020), Jeugdwet 40-55 (JZ020) or Participatiewet P1-P9.",
    ),
]
StopReason = Annotated[
    str,
    _Coded(
        r"^(?:02|19|2[0-3]|3[1-9])$",
        ErrorCode.STOP_REASON_INVALID,
        "A stop reason is a WMO588 or JZ588 code: 02 19 20 21 22 23 31 32 ... 39.",
    ),
]
ChangeReason = Annotated[
    str,
    _Coded(
        r"^(?:0[2-9]|1[0-4])$",
        ErrorCode.VALUE_NOT_ALLOWED,
        "A change reason is a JZ002 code from 02 to 14.",
    ),
]
HouseLetter = Annotated[
    str, _Coded(r"^[A-Za-z]$", ErrorCode.FORMAT_INVALID, "A house letter is one letter.")
]
YearMonth = Annotated[
    str,
    _Coded(
        r"^[0-9]{4}-(?:0[1-9]|1[0-2])$",
        ErrorCode.FORMAT_INVALID,
        "Must be a month written YYYY-MM.",
    ),
]

IsoDate = Annotated[date, _IsoDate()]
BirthDate = Annotated[date, _IsoDate(), AfterValidator(_check_birth_date)]
PositiveInt = Annotated[int, Field(ge=1, le=MAX_INTEGER)]
Count = Annotated[int, Field(ge=0, le=MAX_INTEGER)]
Number = Annotated[float, _Number()]
ResultArea = Annotated[str, TextLimit(64), AfterValidator(_check_result_area)]

Law = Literal["wmo", "jeugdwet", "participatiewet"]
Variant = Literal["inspanningsgericht", "outputgericht", "taakgericht"]
Unit = Literal["01", "04", "14", "16", "82", "83", "84"]
Frequency = Literal["1", "2", "4", "6"]
DeliveryStatus = Literal["new", "deleted"]
LifeDomain = Literal[
    "financien",
    "werk-opleiding",
    "tijdsbesteding",
    "huisvesting",
    "huiselijke-relaties",
    "geestelijke-gezondheid",
    "lichamelijke-gezondheid",
    "middelengebruik",
    "basale-adl",
    "instrumentele-adl",
    "sociaal-netwerk",
    "maatschappelijke-participatie",
    "justitie",
]
LIFE_DOMAINS: Final = frozenset(get_args(LifeDomain))

DEFAULT_RESULT_AREAS: Final = frozenset(
    {
        "regie-eigen-leven",
        "schoon-leefbaar-huis",
        "sociaal-netwerk",
        "financien-op-orde",
        "dagbesteding-participatie",
        "veiligheid",
        "opvoeden-opgroeien",
        "zelfstandig-wonen",
    }
)
_DEFAULT_CONTEXT: Final = ValidationContext(event_date=None, result_areas=DEFAULT_RESULT_AREAS)

LAW_CATEGORIES: Final[dict[str, frozenset[str]]] = {
    "wmo": frozenset(f"{n:02d}" for n in range(1, 19)),
    "jeugdwet": frozenset(f"{n:02d}" for n in range(40, 56)),
    "participatiewet": frozenset(f"P{n}" for n in range(1, 10)),
}
_WMO588: Final = frozenset({"02", "19", "20", "21", "22", "23", "31", "36", "37", "38", "39"})
_JZ588: Final = frozenset({"02", "20", "31", "32", "33", "34", "35", "36", "37", "38", "39"})
STOP_REASONS: Final[dict[str, frozenset[str]]] = {
    "wmo": _WMO588,
    "participatiewet": _WMO588,
    "jeugdwet": _JZ588,
}
TEMPORARY_STOP: Final = "20"
"""The stop reason (WMO588, JZ588) after which the same start may be stopped again (iWmo 9415)."""
_OUTPUT_UNITS: Final = frozenset({"82", "83"})
_EFFORT_UNITS: Final = frozenset({"01", "04", "14", "16", "84"})


# --- Models ------------------------------------------------------------------------------


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """Remove ``"default": null`` from the JSON Schema: an omittable field is never null."""
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict) and "default" in prop and prop["default"] is None:
            del prop["default"]


class ContractModel(BaseModel):
    """Base of every contract object: strict JSON types, closed, immutable, input hidden in errors."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
        validate_default=False,
        json_schema_extra=_drop_null_defaults,
    )


class Address(ContractModel):
    """A Dutch address; the postcode is normalised to ``1234AB``."""

    street: Name
    house_number: PositiveInt
    house_letter: Omittable[HouseLetter] = None
    house_number_addition: Omittable[Annotated[str, TextLimit(4)]] = None
    postcode: Postcode
    city: Name


class Contact(ContractModel):
    """Someone to contact: a name, and optionally a phone number and an e-mail address."""

    name: Name
    phone: Omittable[Phone] = None
    email: Omittable[Email] = None


class Person(ContractModel):
    """A person; ``bsn`` optional, ``birth_date`` required (not after the event date)."""

    bsn: Omittable[Bsn] = None
    initials: Omittable[Name] = None
    given_name: Omittable[Name] = None
    family_name_prefix: Omittable[Name] = None
    family_name: Name
    birth_date: BirthDate


class PersonWithBsn(Person):
    """A person whose BSN is required."""

    bsn: Bsn


class SafetyPerson(ContractModel):
    """A person in a ``safety-*`` type: BSN and birth date both optional (often unknown)."""

    bsn: Omittable[Bsn] = None
    initials: Omittable[Name] = None
    given_name: Omittable[Name] = None
    family_name_prefix: Omittable[Name] = None
    family_name: Name
    birth_date: Omittable[BirthDate] = None


class Client(PersonWithBsn):
    """A client: a person with a BSN and an address."""

    address: Address


class ClientWithPhone(Client):
    """A client with an optional phone number."""

    phone: Omittable[Phone] = None


class LegalRepresentative(Person):
    """A client's legal representative: a person with an optional phone and e-mail."""

    phone: Omittable[Phone] = None
    email: Omittable[Email] = None


class Product(ContractModel):
    """A product: a national category (WMO020, JZ020, Participatiewet) and a municipal code."""

    category: ProductCategory
    code: ProductCode


def _scope_shapes(schema: dict[str, Any]) -> None:
    """State the two shapes of a scope in its JSON Schema (``Scope._one_shape`` checks them)."""
    _drop_null_defaults(schema)
    volume = ["volume", "unit", "frequency"]
    schema["anyOf"] = [
        {"required": volume, "properties": {"budget_cents": False}},
        {"required": ["budget_cents"], "properties": dict.fromkeys(volume, False)},
    ]


class Scope(ContractModel):
    """How much: ``{volume, unit, frequency}`` (WJ756, WMO757) or ``{budget_cents}``."""

    model_config = ConfigDict(json_schema_extra=_scope_shapes)

    volume: Omittable[PositiveInt] = None
    unit: Omittable[Unit] = None
    frequency: Omittable[Frequency] = None
    budget_cents: Omittable[PositiveInt] = None

    @property
    def is_budget(self) -> bool:
        """Whether this is a budget scope rather than a volume scope."""
        return self.budget_cents is not None

    @model_validator(mode="after")
    def _one_shape(self) -> Scope:
        volume_parts = {"volume": self.volume, "unit": self.unit, "frequency": self.frequency}
        given = [name for name, value in volume_parts.items() if value is not None]
        issues: list[Issue] = []
        if self.budget_cents is not None:
            if given:
                issues.append(
                    Issue(
                        (),
                        ErrorCode.SCOPE_INVALID,
                        "A scope is either {volume, unit, frequency} or {budget_cents}, not both.",
                    )
                )
        elif not given:
            issues.append(
                Issue(
                    (),
                    ErrorCode.SCOPE_INVALID,
                    "A scope needs volume, unit and frequency, or budget_cents.",
                )
            )
        else:
            for name, value in volume_parts.items():
                if value is None:
                    issues.append(
                        Issue(
                            (name,),
                            ErrorCode.FIELD_REQUIRED,
                            "A volume scope needs volume, unit and frequency.",
                        )
                    )
        raise_issues(issues)
        return self


class Period(ContractModel):
    """A period whose ``end`` may be omitted (open-ended); when given, end >= start."""

    start: IsoDate
    end: Omittable[IsoDate] = None

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end is not None and self.end < self.start:
            raise_issues(
                [Issue(("end",), ErrorCode.PERIOD_INVALID, "The end may not be before the start.")]
            )
        return self


class BoundedPeriod(ContractModel):
    """A period with both ``start`` and ``end``; end >= start."""

    start: IsoDate
    end: IsoDate

    @model_validator(mode="after")
    def _ordered(self) -> BoundedPeriod:
        if self.end < self.start:
            raise_issues(
                [Issue(("end",), ErrorCode.PERIOD_INVALID, "The end may not be before the start.")]
            )
        return self


# --- Rules shared by several types -------------------------------------------------------


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day`` of someone born on ``birth_date``."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


def category_issues(law: str, product: Product) -> list[Issue]:
    """CATEGORY_LAW_MISMATCH when ``product.category`` does not belong to ``law``."""
    if product.category in LAW_CATEGORIES[law]:
        return []
    return [
        Issue(
            ("product", "category"),
            ErrorCode.CATEGORY_LAW_MISMATCH,
            "The product category does not belong to the law "
            "(Wmo 01-18, Jeugdwet 40-55, Participatiewet P1-P9).",
        )
    ]


def variant_issues(variant: str, scope: Scope | None, result_areas: Sequence[str]) -> list[Issue]:
    """The variant's rules: which scope it allows, and outputgericht needs result areas."""
    issues: list[Issue] = []
    if variant == "outputgericht":
        if scope is None or scope.is_budget or scope.unit not in _OUTPUT_UNITS:
            issues.append(
                Issue(
                    ("scope",),
                    ErrorCode.VARIANT_SCOPE_MISMATCH,
                    "Outputgericht needs a volume scope with unit 82 or 83.",
                )
            )
        if not result_areas:
            issues.append(
                Issue(
                    ("result_areas",),
                    ErrorCode.RESULT_AREAS_REQUIRED,
                    "Outputgericht needs at least one result area.",
                )
            )
    elif variant == "inspanningsgericht":
        if scope is None or not (scope.is_budget or scope.unit in _EFFORT_UNITS):
            issues.append(
                Issue(
                    ("scope",),
                    ErrorCode.VARIANT_SCOPE_MISMATCH,
                    "Inspanningsgericht needs a budget scope or a volume scope "
                    "with unit 01, 04, 14, 16 or 84.",
                )
            )
    elif scope is not None and not scope.is_budget:
        issues.append(
            Issue(
                ("scope",),
                ErrorCode.VARIANT_SCOPE_MISMATCH,
                "Taakgericht allows a budget scope or no scope.",
            )
        )
    return issues


def duplicate_issues(
    path: tuple[str | int, ...], items: Iterable[object], field: str | None = None
) -> list[Issue]:
    """ITEMS_NOT_UNIQUE for each item that repeats an earlier one in the list at ``path``.

    With ``field``, the items are that field of each list element and the path names it.
    """
    items = list(items)
    if len(set(items)) == len(items):
        return []
    seen: set[object] = set()
    issues: list[Issue] = []
    for index, item in enumerate(items):
        if item in seen:
            where = (*path, index) if field is None else (*path, index, field)
            issues.append(
                Issue(where, ErrorCode.ITEMS_NOT_UNIQUE, "This item repeats an earlier one.")
            )
        seen.add(item)
    return issues
