"""Pydantic errors as ErrorDetails: paths into the CloudEvent, stable codes, every code documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.errors import ErrorCode, ErrorDetail
from hub.schemas import CaseClosed, Scope, error_details
from hub.schemas.errors import Issue, raise_issues, render_path
from hub.schemas.paths import loggable_path

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), "data"),
        (("client", "bsn"), "data.client.bsn"),
        (("household_members", 0, "birth_date"), "data.household_members[0].birth_date"),
        (("results", 1, "indicators", "Noah Kamphuis", "[key]"), "data.results[1].indicators.*"),
        (("persons", 2, "person", "Esther"), "data.persons[2].person.*"),
        (("results", 0, "indicators", "esther_van_dalfsen"), "data.results[0].indicators.*"),
        (("results", 0, "indicators", "indicators"), "data.results[0].indicators.*"),
        (("results", 0, "indicators", "x", "[key]"), "data.results[0].indicators.*"),
    ],
)
def test_render_path(loc: tuple[str | int, ...], path: str) -> None:
    """A location renders as dotted fields and [index], with unsafe keys and every map key as `*`."""
    assert render_path("data", loc) == path


def test_render_path_without_prefix() -> None:
    """Without a prefix the path starts at the first field."""
    assert render_path("", ("a", 0, "b")) == "a[0].b"


def test_error_details_from_a_model() -> None:
    """A ValidationError becomes one ErrorDetail per problem, under the given prefix."""
    with pytest.raises(ValidationError) as caught:
        CaseClosed.model_validate({"case_id": "C 1", "closed_on": None, "reason": 3, "x": 1})
    assert error_details(caught.value, "data") == [
        ErrorDetail(
            "data.case_id",
            ErrorCode.IDENTIFIER_INVALID,
            "An identifier is 1 to 64 characters from A-Z a-z 0-9 . _ : -.",
        ),
        ErrorDetail(
            "data.closed_on",
            ErrorCode.FIELD_NULL,
            "null is not allowed; omit an optional field instead.",
        ),
        ErrorDetail("data.reason", ErrorCode.TYPE_MISMATCH, "Must be a JSON string."),
        ErrorDetail(
            "data.x",
            ErrorCode.FIELD_UNKNOWN,
            "This field is not part of the contract; objects are closed.",
        ),
    ]


def test_rule_issues_expand_to_their_own_paths() -> None:
    """Issues raised by a model validator each get the model's path plus their own."""
    with pytest.raises(ValidationError) as caught:
        Scope.model_validate({"volume": 2})
    assert [(e.path, e.code) for e in error_details(caught.value, "data.scope")] == [
        ("data.scope.unit", ErrorCode.FIELD_REQUIRED),
        ("data.scope.frequency", ErrorCode.FIELD_REQUIRED),
    ]


def test_raise_issues_does_nothing_without_issues() -> None:
    """raise_issues([]) returns; with issues it raises a ValueError pydantic collects."""
    raise_issues([])
    with pytest.raises(ValueError, match="contract rule"):
        raise_issues(
            [Issue(("x",), ErrorCode.PERIOD_INVALID, "The end may not be before the start.")]
        )


def test_every_error_code_is_documented() -> None:
    """docs/errors.md has a table row for every ErrorCode, and no row for a code that does not exist."""
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([A-Z_]+)` \|", text, flags=re.MULTILINE))
    assert rows == {code.value for code in ErrorCode}


def _map_fields(node: object, maps: set[str], others: set[str]) -> None:
    """Sort every property name of a JSON Schema node into maps (free keys) and other fields."""
    if isinstance(node, dict):
        properties = node.get("properties")
        for name, sub in (properties if isinstance(properties, dict) else {}).items():
            if not isinstance(sub, dict):
                continue
            options = [sub, *sub.get("anyOf", []), *sub.get("oneOf", [])]
            is_map = any(isinstance(o.get("additionalProperties"), dict) for o in options)
            (maps if is_map else others).add(name)
        for value in node.values():
            _map_fields(value, maps, others)
    elif isinstance(node, list):
        for value in node:
            _map_fields(value, maps, others)


def test_map_fields_name_every_free_key_map_and_nothing_else() -> None:
    """MAP_FIELDS is exactly the contract's maps (from every type's JSON Schema), and no other field shares a name with one."""
    from hub.schemas import TYPES
    from hub.schemas.errors import MAP_FIELDS
    from hub.schemas.export import data_schema

    maps: set[str] = set()
    others: set[str] = set()
    for spec in TYPES.values():
        _map_fields(data_schema(spec), maps, others)
    assert maps == MAP_FIELDS
    assert not maps & others


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("data.client.bsn", "data.client.bsn"),
        ("data.client.esther_van_dalfsen", "data.client.*"),
        ("data.household_members[1].nationality", "data.household_members[1].*"),
        ("data.results[0].indicators.*", "data.results[0].indicators.*"),
        ("headers.ce_extra", "headers.*"),
        ("traceparnet", "*"),
        ("data_base64", "data_base64"),
        ("", ""),
    ],
)
def test_a_logged_path_keeps_only_the_contracts_names(path: str, logged: str) -> None:
    """A log line outlives the partner's answer: an unknown key there prints as ``*``."""
    assert loggable_path(path) == logged
