"""Property tests of the v1 models: events varied within the contract validate; one mutation makes them fail.

Valid events start from the valid examples and vary every value the contract leaves free
(BSNs through the 11-proof, postcodes, identifiers, texts up to their limit, dates, numbers,
code lists, optional fields present or absent, list lengths), driven by the exported JSON
Schema of each type. Values that take part in a cross-field rule (law, variant, scope
unit, periods, consent, ages, ...) keep the example's value, so every event stays valid by
construction. Mutations then break one location and the error must name it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from hub.envelope import ATTRIBUTES, has_bsn_part, is_bsn, passes_eleven_proof
from hub.errors import ErrorCode, InvalidEvent
from hub.schemas import TYPES, TypeSpec, validate_event
from hub.schemas.common import MAX_ENTRIES
from hub.schemas.errors import BLANK_PATTERN, render_path
from hub.schemas.export import data_schema
from hub.schemas.validation import AMSTERDAM
from hub.testing import examples_for, make_event, sender_of

# Deterministic and fast: the same examples on every run, no example database.
PROPERTIES = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SPECS: Final = sorted(TYPES.values(), key=lambda spec: spec.type)
SCHEMAS: Final = {spec.type: data_schema(spec) for spec in SPECS}
VALIDATORS: Final = {
    spec.type: Draft202012Validator(
        SCHEMAS[spec.type], format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for spec in SPECS
}

# Values that take part in a cross-field rule keep the example's value; by field name...
TIED_VALUES: Final = frozenset(
    {
        "law",
        "variant",
        "category",
        "unit",
        "result_area",
        "result_areas",
        "acute_danger",
        "household_informed",
        "status_feedback",
        "content_feedback",
        "youth_care",
        "meldcode_steps_completed",
        "start",
        "end",
        "decided_on",
        "objection_deadline",
        "issued_on",
        "outcome",
    }
)
# ... or by (model, field): the assignment status, referrer type, safety roles, client ages.
TIED_MODEL_VALUES: Final = frozenset(
    {
        ("AssignmentIssued", "status"),
        ("AssignmentReferrer", "type"),
        ("InvolvedPerson", "role"),
        ("Client", "birth_date"),
        ("ClientWithPhone", "birth_date"),
    }
)
# Optional fields whose presence a rule decides are neither dropped nor added.
TIED_PRESENCE: Final = frozenset(
    {
        "scope",
        "change_reason",
        "not_informed_reason",
        "recorded_on",
        "period",
        "product",
        "end",
        "content_feedback",
        "youth_care",
        "result_area",
    }
)
TIED_MODEL_PRESENCE: Final = frozenset(
    {("AssignmentIssued", "legal_representative"), ("AssignmentReferrer", "agb")}
    | {("Scope", name) for name in ("volume", "unit", "frequency", "budget_cents")}
)
# Lists whose length a rule decides (a victim or child, one result per area, ...).
TIED_LENGTH: Final = frozenset({"persons", "results", "result_areas", "meldcode_steps_completed"})

OLDEST: Final = date(1900, 1, 1)
LONGEST_PATTERNED: Final = 300  # longer than every patterned string of the contract
# Short values are not checked for echoes: "A." or "12" occur in any sentence.
ECHO_MIN_LENGTH: Final = 5


def _vocabulary(node: Any) -> Iterator[str]:
    """Every code of every code list: errors may quote the contract's codes."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "enum":
                yield from (item for item in value if isinstance(item, str))
            elif key == "const" and isinstance(value, str):
                yield value
            else:
                yield from _vocabulary(value)
    elif isinstance(node, list):
        for item in node:
            yield from _vocabulary(item)


def _field_names(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            yield from properties
        for value in node.values():
            yield from _field_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _field_names(item)


# Codes and field names: an error may quote the contract, only never the sender's values.
VOCABULARY: Final = frozenset(
    word for schema in SCHEMAS.values() for word in (*_vocabulary(schema), *_field_names(schema))
) | frozenset(ATTRIBUTES)


# --- Field values ---------------------------------------------------------------------------


def _with_check_digit(first_eight: str) -> str:
    weighted = sum(
        weight * int(digit) for weight, digit in zip(range(9, 1, -1), first_eight, strict=True)
    )
    return first_eight + str(weighted % 11 % 10)


@cache
def bsns() -> st.SearchStrategy[str]:
    """Random valid BSNs: eight random digits and the digit that makes the 11-proof hold."""
    return (
        st.integers(0, 99_999_999)
        .map(lambda n: _with_check_digit(f"{n:08d}"))
        .filter(passes_eleven_proof)
    )


@cache
def invalid_bsns() -> st.SearchStrategy[str]:
    """Nine digits failing the 11-proof: a valid BSN with its last digit moved by 1 to 9."""
    return st.tuples(bsns(), st.integers(1, 9)).map(
        lambda pair: pair[0][:8] + str((int(pair[0][8]) + pair[1]) % 10)
    )


_ALPHABET: Final = st.characters(exclude_categories=("Cs", "Cc"))


@cache
def texts(max_length: int) -> st.SearchStrategy[str]:
    """Free text of 1..max_length code points with a non-whitespace character; often at the limit."""
    short = st.text(_ALPHABET, min_size=1, max_size=min(max_length, 24))
    at_limit = short.map(lambda text: (text * (max_length // len(text) + 1))[:max_length])
    return st.one_of(short, at_limit).filter(lambda text: re.search(r"\S", text) is not None)


@cache
def _patterned(pattern: str, limit: int | None, least: int | None = None) -> st.SearchStrategy[str]:
    strategy = st.from_regex(pattern, fullmatch=True)
    if limit is not None:
        strategy = strategy.filter(lambda value: len(value) <= limit)
    if least is not None:  # a phone: the pattern asks for a digit, the length is separate
        strategy = strategy.filter(lambda value: len(value) >= least)
    if "@" in pattern:  # e-mail: the 64-character local part is a model-only rule
        strategy = strategy.filter(lambda value: value.index("@") <= 64)
    if pattern.startswith("^[A-Za-z0-9._:-]"):  # an identifier: no part may be a BSN (model-only)
        strategy = strategy.filter(lambda value: not has_bsn_part(value))
    return strategy


@cache
def _dates(first: date, last: date) -> st.SearchStrategy[str]:
    return st.dates(first, last).map(date.isoformat)


@dataclass(frozen=True, slots=True)
class _Context:
    """What building one event needs: its schema document, event date and sender's AGB field."""

    document: Mapping[str, Any]
    event_date: date
    sender_agb_field: tuple[str, ...] | None


def _resolve(
    context: _Context, node: Mapping[str, Any], owner: str
) -> tuple[Mapping[str, Any], str]:
    """Follow a $ref; the owner of an object's fields is its model's name."""
    while "$ref" in node:
        owner = node["$ref"].rsplit("/", 1)[1]
        node = context.document["$defs"][owner]
    return node, owner


def _leaf(context: _Context, node: Mapping[str, Any], name: str) -> st.SearchStrategy[Any]:
    """Any valid value of a field that no cross-field rule involves."""
    kind = node.get("type")
    if name == "bsn":
        return bsns()
    if name == "birth_date":
        return _dates(OLDEST, context.event_date)
    if node.get("format") == "date":
        return _dates(OLDEST, date(2100, 12, 31))
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if kind == "string" and node.get("pattern") == BLANK_PATTERN:
        return texts(node["maxLength"])
    if kind == "string":
        return _patterned(node["pattern"], node.get("maxLength"), node.get("minLength"))
    if kind == "integer":
        low, high = node.get("minimum", 0), node.get("maximum", 10**9)
        return st.one_of(st.integers(low, min(high, 10**9)), st.just(high))
    if kind == "number":
        return st.one_of(
            st.integers(-(10**9), 10**9), st.floats(allow_nan=False, allow_infinity=False)
        )
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"no strategy for {node}")


def _is_tied(context: _Context, owner: str, name: str, path: tuple[str | int, ...]) -> bool:
    names = tuple(part for part in path if isinstance(part, str))
    return (
        name in TIED_VALUES
        or (owner, name) in TIED_MODEL_VALUES
        or (context.sender_agb_field is not None and names == context.sender_agb_field)
    )


def _value(
    context: _Context,
    node: Mapping[str, Any],
    owner: str,
    name: str,
    path: tuple[str | int, ...],
    example: Any,
) -> st.SearchStrategy[Any]:
    """A valid value for a field: varied from ``example``, or built anew when it is None."""
    node, owner = _resolve(context, node, owner)
    if example is not None and _is_tied(context, owner, name, path):
        return st.just(copy.deepcopy(example))
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        return _object(context, node, owner, path, example)
    if kind == "object":  # a map: indicator name -> number
        names = node["propertyNames"]
        return st.dictionaries(
            texts(names["maxLength"]), _leaf(context, node["additionalProperties"], ""), max_size=3
        )
    if kind == "array":
        return _array(context, node, owner, name, path, example)
    return _leaf(context, node, name)


def _object(
    context: _Context,
    node: Mapping[str, Any],
    owner: str,
    path: tuple[str | int, ...],
    example: Mapping[str, Any] | None,
) -> st.SearchStrategy[dict[str, Any]]:
    required = set(node.get("required", ()))
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, child in node["properties"].items():
        present = example is not None and name in example
        strategy = _value(
            context, child, owner, name, (*path, name), example.get(name) if example else None
        )
        tied = name in TIED_PRESENCE or (owner, name) in TIED_MODEL_PRESENCE
        if name in required or (tied and present):
            fields[name] = strategy.map(lambda value: (True, value))
        elif not tied:
            fields[name] = st.tuples(st.booleans(), strategy)
    return st.fixed_dictionaries(fields).map(
        lambda drawn: {name: value for name, (keep, value) in drawn.items() if keep}
    )


def _distinct_goal_ids(goals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rename repeated goal ids (a plan's goal ids are distinct)."""
    seen: set[str] = set()
    for index, goal in enumerate(goals):
        if goal["goal_id"] in seen:
            goal["goal_id"] = f"{goal['goal_id'][:50]}-{index}"
        seen.add(goal["goal_id"])
    return goals


def _array(
    context: _Context,
    node: Mapping[str, Any],
    owner: str,
    name: str,
    path: tuple[str | int, ...],
    example: list[Any] | None,
) -> st.SearchStrategy[list[Any]]:
    items, _ = _resolve(context, node["items"], owner)
    low = node.get("minItems", 0)
    if "enum" in items and node.get("uniqueItems"):  # a set of codes
        return st.lists(
            st.sampled_from(items["enum"]), min_size=low, max_size=len(items["enum"]), unique=True
        )
    examples = example or []
    if name in TIED_LENGTH:
        return st.tuples(
            *(
                _value(context, node["items"], owner, name, (*path, i), item)
                for i, item in enumerate(examples)
            )
        ).map(list)

    # Up to a limit of its own (household_members: 20), or two items more than the example;
    # varied copies of its items. The contract's general 100 is the limits' tests' concern.
    limit = node.get("maxItems", MAX_ENTRIES)
    longest = limit if limit < MAX_ENTRIES else max(len(examples), 1) + 2
    items = [
        _value(
            context,
            node["items"],
            owner,
            name,
            (*path, index),
            examples[index % len(examples)] if examples else None,
        )
        for index in range(longest)
    ]
    lists = st.integers(low, longest).flatmap(lambda length: st.tuples(*items[:length]).map(list))
    return lists.map(_distinct_goal_ids) if name == "goals" else lists


@dataclass(frozen=True, slots=True)
class _Example:
    """A valid example and the strategy that varies its data."""

    spec: TypeSpec
    event: dict[str, Any]
    data: st.SearchStrategy[dict[str, Any]]


@cache
def _examples() -> tuple[_Example, ...]:
    """Every valid example with its data strategy, built once (building them is the slow part)."""
    examples: list[_Example] = []
    for spec in SPECS:
        for event in examples_for(spec.type):
            time = validate_event(event, sender=None).time
            context = _Context(
                SCHEMAS[spec.type], time.astimezone(AMSTERDAM).date(), spec.sender_agb_field
            )
            data = _object(context, context.document, spec.model.__name__, (), event["data"])
            examples.append(_Example(spec, event, data))
    return tuple(examples)


def _assemble(example: _Example, data: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The example's envelope around new data: a fresh id, the subject kept equal to data."""
    event = copy.deepcopy(example.event)
    event["data"] = data = copy.deepcopy(data)  # drawn values may be shared with the example
    event["id"] = event_id
    subject_field = example.spec.subject_field
    if has_bsn_part(data[subject_field]):  # the identifier values a subject may not take
        data[subject_field] = re.sub(r"[0-9]", "x", data[subject_field])
    event["subject"] = data[subject_field]
    return event


def valid_events(spec: TypeSpec | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid structured-mode events: an example (of ``spec``, or any) with its free values varied."""
    examples = [example for example in _examples() if spec is None or example.spec is spec]
    return st.sampled_from(examples).flatmap(
        lambda example: st.builds(_assemble, st.just(example), example.data, st.uuids().map(str))
    )


def _validate(event: dict[str, Any]) -> None:
    validate_event(event, sender=sender_of(event))


@settings(PROPERTIES, max_examples=200)
@given(valid_events())
def test_varied_events_validate(event: dict[str, Any]) -> None:
    """An example with every free value varied within its limits still validates, and fits its JSON Schema."""
    try:
        _validate(event)
    except InvalidEvent as exc:
        raise AssertionError(exc.errors) from None
    assert list(VALIDATORS[event["type"]].iter_errors(event["data"])) == []


@settings(PROPERTIES, max_examples=200)
@given(bsns(), invalid_bsns())
def test_bsn_strategies_follow_the_11_proof(valid: str, invalid: str) -> None:
    """The BSN strategies give 9 digits that pass, and 9 digits that fail, the 11-proof."""
    assert is_bsn(valid)
    assert re.fullmatch(r"[0-9]{9}", invalid)
    assert not is_bsn(invalid)


@settings(PROPERTIES, max_examples=30)
@given(valid_events(spec=TYPES["nl.sociaaldomein.referrals.submitted.v1"]))
def test_referrals_vary_persons_and_lists(event: dict[str, Any]) -> None:
    """Generated referrals validate with any household size up to the limit and any set of domains."""
    _validate(event)
    assert len(event["data"].get("household_members", [])) <= 20
    domains = event["data"]["request"]["life_domains"]
    assert len(domains) == len(set(domains)) >= 1


# --- Mutations ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Location:
    """One place in an event's data, with the (resolved) schema of what belongs there."""

    path: tuple[str | int, ...]
    node: Mapping[str, Any]
    required: bool


def _locations(
    document: Mapping[str, Any],
    node: Mapping[str, Any],
    value: Any,
    path: tuple[str | int, ...],
    required: bool,
) -> Iterator[_Location]:
    while "$ref" in node:
        node = document["$defs"][node["$ref"].rsplit("/", 1)[1]]
    yield _Location(path, node, required)
    if isinstance(value, dict) and "properties" in node:
        needed = set(node.get("required", ()))
        for name, item in value.items():
            yield from _locations(
                document, node["properties"][name], item, (*path, name), name in needed
            )
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _locations(
                document, node["additionalProperties"], item, (*path, name), False
            )
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _locations(document, node["items"], item, (*path, index), False)


def _parent(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


_WRONG_TYPES: Final[dict[str, list[Any]]] = {
    "string": [42, 1.5, True, [], {}],
    "integer": ["wrong-type-value", 1.5, True, [], {}],
    "number": ["wrong-type-value", True, [], {}],
    "boolean": ["wrong-type-value", 1, 0, [], {}],
    "array": ["wrong-type-value", 7, False, {}],
    "object": ["wrong-type-value", 7, True, []],
}


@st.composite
def mutations(draw: st.DrawFn) -> tuple[dict[str, Any], str, ErrorCode | None]:
    """(a valid event broken at one place, the path that must be named, the code if it is fixed)."""
    event = draw(valid_events())
    spec = TYPES[event["type"]]
    document = SCHEMAS[spec.type]
    locations = list(_locations(document, document, event["data"], (), True))
    places = {
        "unknown-field": [loc for loc in locations if "properties" in loc.node],
        "null": [loc for loc in locations if loc.path],
        "wrong-type": [loc for loc in locations if loc.path],
        "drop-required": [loc for loc in locations if loc.path and loc.required],
        "over-long": [loc for loc in locations if loc.path and loc.node.get("type") == "string"],
        "invalid-bsn": [loc for loc in locations if loc.path and loc.path[-1] == "bsn"],
    }
    kind = draw(st.sampled_from([kind for kind, where in places.items() if where]))
    candidates = places[kind]
    location = draw(st.sampled_from(candidates))
    data = event["data"]
    path = location.path
    if kind == "unknown-field":
        key = draw(
            st.one_of(
                st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True),
                st.text(min_size=1, max_size=12),
            ).filter(lambda key: key not in location.node["properties"] and key != "[key]")
        )
        target = data
        for part in path:
            target = target[part]
        target[key] = draw(st.sampled_from(["x", 1, True, None, [], {"a": 1}]))
        return event, render_path("data", (*path, key)), ErrorCode.FIELD_UNKNOWN
    parent = _parent(data, path)
    if kind == "drop-required":
        del parent[path[-1]]
        return event, render_path("data", path), ErrorCode.FIELD_REQUIRED
    if kind == "over-long":
        limit = location.node.get("maxLength")
        parent[path[-1]] = "x" * (limit + 1 if limit else LONGEST_PATTERNED)
        plain_text = location.node.get("pattern") == BLANK_PATTERN
        return event, render_path("data", path), ErrorCode.TOO_LONG if plain_text else None
    if kind == "invalid-bsn":
        parent[path[-1]] = draw(invalid_bsns())
        return event, render_path("data", path), ErrorCode.BSN_INVALID
    if kind == "wrong-type":
        parent[path[-1]] = draw(st.sampled_from(_WRONG_TYPES[location.node["type"]]))
        return event, render_path("data", path), ErrorCode.TYPE_MISMATCH
    parent[path[-1]] = None
    return event, render_path("data", path), ErrorCode.FIELD_NULL


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@settings(PROPERTIES, max_examples=300)
@given(mutations())
def test_one_mutation_fails_at_its_path_without_echoing_values(
    mutation: tuple[dict[str, Any], str, ErrorCode | None],
) -> None:
    """A valid event broken at one place fails with an error at that path, and no message repeats a value."""
    event, path, code = mutation
    try:
        _validate(event)
    except InvalidEvent as exc:
        errors = exc.errors
    else:
        raise AssertionError(f"mutation at {path} was accepted")
    at_path = [error for error in errors if error.path == path]
    assert at_path, (path, errors)
    if code is not None:
        assert [error.code for error in at_path] == [code], (path, errors)
    # Only the mutated place is named, and the subject when the mutated field was it.
    assert {error.path for error in errors} <= {path, "subject"}, (path, errors)
    values = {
        value
        for value in _strings(event)
        if len(value) >= ECHO_MIN_LENGTH and value not in VOCABULARY
    }
    for error in errors:
        # A value counts as repeated when it stands whole in the sentence: a generated
        # "objec" inside the fixed "objects are closed" is chance, not an echo.
        echoed = [value for value in values if _stands_in(value, error.message)]
        assert not echoed, (error, values)


def _stands_in(value: str, sentence: str) -> bool:
    """Whether ``value`` occurs in ``sentence`` not as part of a longer word or number."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", sentence) is not None


def test_an_unknown_field_sent_as_null_is_unknown() -> None:
    """An unknown field is FIELD_UNKNOWN whatever its value, null included."""
    event = make_event("cases.closed", remark=None)
    with pytest.raises(InvalidEvent) as caught:
        _validate(event)
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("data.remark", ErrorCode.FIELD_UNKNOWN)
    ]
