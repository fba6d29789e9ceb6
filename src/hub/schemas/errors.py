"""Pydantic validation errors turned into the contract's ErrorDetail: path, stable code, sentence.

Sentences are built from the rule (a limit, the allowed codes), never from the input: an
error may be returned to a partner, logged or dead-lettered, and none of those may hold
personal data. Field types that carry their own code raise an error whose type is an
ErrorCode value; cross-field rules raise one ``contract_rules`` error listing their issues.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Final, NamedTuple

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from hub.envelope import path_key
from hub.errors import ErrorCode, ErrorDetail

__all__ = [
    "BLANK_PATTERN",
    "MAP_FIELDS",
    "NOT_BLANK",
    "RULES_ERROR_TYPE",
    "Issue",
    "error_details",
    "raise_issues",
    "render_path",
]

RULES_ERROR_TYPE = "contract_rules"
# Free text must contain a non-whitespace character; a mismatch is reported as TOO_SHORT.
# The published schemas say it as ``\S``, which JSON Schema reads as ECMA-262 does. The
# hub's validator (Rust's regex) reads ``\S`` otherwise (it takes U+0085 for whitespace and
# U+FEFF not), so it checks ECMA-262's whitespace spelled out: both give one verdict.
BLANK_PATTERN = r"\S"
NOT_BLANK = "[^\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"

_CODES = frozenset(code.value for code in ErrorCode)

_TYPE_SENTENCES: dict[str, str] = {
    "string_type": "Must be a JSON string.",
    "int_type": "Must be a JSON integer.",
    "bool_type": "Must be true or false.",
    "float_type": "Must be a JSON number.",
    "list_type": "Must be a JSON array.",
    "dict_type": "Must be a JSON object.",
    "model_type": "Must be a JSON object.",
    "model_attributes_type": "Must be a JSON object.",
}

_DATE_TYPES = frozenset(
    {
        "date_type",
        "date_parsing",
        "date_from_datetime_parsing",
        "date_from_datetime_inexact",
        "date_past",
        "date_future",
    }
)

_RANGE_SENTENCES: dict[str, tuple[str, str]] = {
    "greater_than": ("gt", "Must be greater than {}."),
    "greater_than_equal": ("ge", "Must be at least {}."),
    "less_than": ("lt", "Must be less than {}."),
    "less_than_equal": ("le", "Must be at most {}."),
}


class Issue(NamedTuple):
    """One broken cross-field rule, with its path relative to the model that found it."""

    path: tuple[str | int, ...]
    code: ErrorCode
    message: str


def raise_issues(issues: Sequence[Issue]) -> None:
    """Raise the issues a model validator found as one pydantic error; do nothing when empty."""
    if issues:
        raise PydanticCustomError(
            RULES_ERROR_TYPE, "The event breaks a contract rule.", {"issues": tuple(issues)}
        )


MAP_FIELDS: Final = frozenset({"indicators"})
"""The contract's free-key maps (dict-typed fields): their keys are data, never shown in a path.

A unit test walks every type's JSON Schema and fails when a map is missing here, or when a
name here is also a field that is not a map.
"""


def render_path(prefix: str, loc: Sequence[str | int]) -> str:
    """Render a location as a path into the CloudEvent: ``data.household_members[0].birth_date``.

    A key of a map (``MAP_FIELDS``) always prints as ``*``: it is data, like a value.
    Other string parts pass through ``path_key``: field names print as they are, a key that
    could carry personal data (an unknown field) prints as ``*``.
    """
    path = prefix
    in_map = False
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            in_map = False
        elif part == "[key]":
            continue  # pydantic marks a dict key's own error so; the key is already in the path
        else:
            path += ("." if path else "") + ("*" if in_map else path_key(part))
            in_map = not in_map and part in MAP_FIELDS
    return path


def _items(count: object) -> str:
    return "1 item" if count == 1 else f"{count} items"


def _sentence(error: ErrorDetails) -> tuple[ErrorCode, str]:
    """Choose the code and sentence for one pydantic error (not a None input, not rules)."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind in _CODES:
        if kind != ErrorCode.TYPE_MISMATCH and not isinstance(error.get("input"), str | date):
            # A coded string type (BSN, postcode, date, ...) got another JSON type.
            return ErrorCode.TYPE_MISMATCH, "Must be a JSON string."
        return ErrorCode(kind), error["msg"]
    if kind == "missing":
        return ErrorCode.FIELD_REQUIRED, "This field is required."
    if kind == "extra_forbidden":
        return (
            ErrorCode.FIELD_UNKNOWN,
            "This field is not part of the contract; objects are closed.",
        )
    if kind in _TYPE_SENTENCES:
        return ErrorCode.TYPE_MISMATCH, _TYPE_SENTENCES[kind]
    if kind == "literal_error":
        if not isinstance(error.get("input"), str):  # every code list of the contract is strings
            return ErrorCode.TYPE_MISMATCH, "Must be a JSON string."
        return ErrorCode.VALUE_NOT_ALLOWED, f"Must be one of {ctx.get('expected', 'the codes')}."
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NOT_BLANK:
        return ErrorCode.TOO_SHORT, "Must contain more than whitespace."
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return ErrorCode.TOO_SHORT, "Must not be empty."
        return ErrorCode.TOO_SHORT, f"Must have at least {ctx.get('min_length')} characters."
    if kind == "string_too_long":
        return ErrorCode.TOO_LONG, f"Must have at most {ctx.get('max_length')} characters."
    if kind == "too_short":
        return ErrorCode.TOO_SHORT, f"Must have at least {_items(ctx.get('min_length'))}."
    if kind == "too_long":
        return ErrorCode.TOO_LONG, f"Must have at most {_items(ctx.get('max_length'))}."
    if kind in _RANGE_SENTENCES:
        key, template = _RANGE_SENTENCES[kind]
        return ErrorCode.OUT_OF_RANGE, template.format(ctx.get(key))
    if kind in _DATE_TYPES:
        return ErrorCode.DATE_INVALID, "Must be an existing date written YYYY-MM-DD."
    return ErrorCode.FORMAT_INVALID, "The value is not valid here."


def error_details(exc: ValidationError, prefix: str = "data") -> list[ErrorDetail]:
    """Translate a ValidationError into ErrorDetails, paths under ``prefix``, input never echoed."""
    details: list[ErrorDetail] = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        if error["type"] == RULES_ERROR_TYPE:
            issues: tuple[Issue, ...] = (error.get("ctx") or {}).get("issues", ())
            for issue in issues:
                path = render_path(prefix, (*loc, *issue.path))
                details.append(ErrorDetail(path=path, code=issue.code, message=issue.message))
            continue
        path = render_path(prefix, loc)
        # An unknown field is unknown whatever its value; only a known one can be "null".
        if error["type"] not in ("missing", "extra_forbidden") and error.get("input", ...) is None:
            details.append(
                ErrorDetail(
                    path=path,
                    code=ErrorCode.FIELD_NULL,
                    message="null is not allowed; omit an optional field instead.",
                )
            )
            continue
        code, message = _sentence(error)
        details.append(ErrorDetail(path=path, code=code, message=message))
    return details
