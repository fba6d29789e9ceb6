"""The v1 contract as JSON Schema (draft 2020-12): one file per type for ``data``, one for the envelope.

Layout and identifiers (docs/messages.md, "JSON Schemas")::

    <dir>/v1/envelope.json              $id https://schemas.sociaaldomein.example/v1/envelope.json
    <dir>/v1/referrals.submitted.json   $id https://schemas.sociaaldomein.example/v1/referrals.submitted.json
    ...

A type's file describes the CloudEvent's ``data`` (what CloudEvents' ``dataschema`` points
at); ``envelope.json`` describes the attributes and requires ``data`` to be an object. The
``$id`` is ``SCHEMA_BASE_URL`` plus the file's path under the export directory, so a v2 type
gets ``v2/<short>.json`` beside the published v1 files. Output is deterministic: sorted
keys, two-space indent, UTF-8, one trailing newline.

Rules JSON Schema cannot state (the 11-proof, cross-field rules, the configured result
areas, ...) stay in the models; ``MODEL_ONLY_RULES`` lists them, and docs/messages.md shows
them per type. The scope's two shapes are in the schema (``anyOf``, from ``Scope``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

# The envelope's own regular expressions, so the schema cannot drift from read_attributes.
from hub.envelope import (
    _EVENT_ID,
    _ID_MAX_LENGTH,
    _JSON_MEDIA_TYPE,
    _RFC3339,
    _TRACEPARENT,
    _URI,
    SPECVERSION,
)
from hub.errors import ErrorCode
from hub.schemas.common import DEFAULT_RESULT_AREAS
from hub.schemas.compatibility import Change, compare_schemas
from hub.schemas.registry import TYPES, TypeSpec

__all__ = [
    "ENVELOPE_FILE",
    "MODEL_ONLY_RULES",
    "SCHEMA_BASE_URL",
    "SCHEMA_DIALECT",
    "FileDifference",
    "ModelOnlyRule",
    "check_directory",
    "data_schema",
    "envelope_schema",
    "exported_files",
    "model_only_rules_for",
    "render_schema",
    "schema_file",
    "schema_id",
    "version_of",
    "write_schemas",
]

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL: Final = "https://schemas.sociaaldomein.example/"
ENVELOPE_FILE: Final = "envelope.json"
_DATA_ROOT: Final = "data"


# --- Rules that stay in the models ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelOnlyRule:
    """A stateless rule the models check but the exported JSON Schema cannot state.

    ``types`` are the short names it applies to (empty: every type); ``field`` names the
    field it applies to wherever that field occurs, ``json_type`` the JSON type it applies
    to wherever one occurs (both None: a rule across fields or about the envelope).
    """

    code: ErrorCode
    text: str
    types: tuple[str, ...] = ()
    field: str | None = None
    json_type: str | None = None


_PRODUCT_TYPES: Final = (
    "provisions.requested",
    "assignments.issued",
    "assignment-requests.submitted",
)
_PERIOD_TYPES: Final = (
    "provisions.requested",
    "provisions.decided",
    "assignments.issued",
    "outcomes.reported",
    "assignment-requests.submitted",
)

_DEFAULT_AREAS: Final = ", ".join(sorted(DEFAULT_RESULT_AREAS))

MODEL_ONLY_RULES: Final[tuple[ModelOnlyRule, ...]] = (
    ModelOnlyRule(
        ErrorCode.BSN_INVALID,
        "A BSN passes the 11-proof (the schema checks 9 digits only).",
        field="bsn",
    ),
    ModelOnlyRule(
        ErrorCode.BIRTH_DATE_INVALID,
        "A birth date is not before 1900-01-01 and not after the event date.",
        field="birth_date",
    ),
    ModelOnlyRule(
        ErrorCode.EMAIL_INVALID,
        "The part of an e-mail address before @ has at most 64 characters.",
        field="email",
    ),
    ModelOnlyRule(
        ErrorCode.RESULT_AREA_UNKNOWN,
        "A result area is on the municipality's configured list (the schema bounds the "
        f"string only, because the list differs per deployment; default: {_DEFAULT_AREAS}).",
        field="result_area",
    ),
    ModelOnlyRule(
        ErrorCode.RESULT_AREA_UNKNOWN,
        "Each result area is on the municipality's configured list.",
        field="result_areas",
    ),
    ModelOnlyRule(
        ErrorCode.TYPE_MISMATCH,
        "An integer is written without a fraction: JSON Schema counts 2.0 as an integer, "
        "the hub does not (no coercion).",
        json_type="integer",
    ),
    ModelOnlyRule(
        ErrorCode.OUT_OF_RANGE,
        "An indicator written as an integer lies within -(2^53 - 1) and 2^53 - 1 (JSON "
        "Schema counts 1e300 as an integer too, so the schema cannot bound it).",
        field="indicators",
    ),
    ModelOnlyRule(
        ErrorCode.FORMAT_INVALID,
        "tracestate is a W3C tracestate: at most 32 comma-separated key=value members "
        "(the schema asks for a non-empty string only).",
    ),
    ModelOnlyRule(
        ErrorCode.DATETIME_INVALID,
        "time is a date-time Python can represent (no leap second :60); the schema's "
        "format date-time is asserted only by validators that check formats.",
    ),
    ModelOnlyRule(
        ErrorCode.SUBJECT_MISMATCH,
        "The CloudEvent subject equals the type's subject field in data.",
    ),
    ModelOnlyRule(
        ErrorCode.SUBJECT_IS_BSN,
        "No part of the CloudEvent subject between the separators . _ : - (or any other "
        "character but an ASCII letter or digit) is a BSN (9 digits passing the 11-proof).",
    ),
    ModelOnlyRule(
        ErrorCode.BSN_IN_IDENTIFIER,
        "No part of the id or of an identifier field (referral_id, case_id, report_id, "
        "request_id, decision_id, goal_id, safety_case_id) between the separators . _ : - "
        "(or any other character but an ASCII letter or digit) is a BSN (9 digits passing "
        "the 11-proof).",
    ),
    ModelOnlyRule(
        ErrorCode.EVENT_TOO_LARGE,
        "The event, as compact UTF-8 JSON in structured mode, is at most 256 KiB.",
    ),
    ModelOnlyRule(
        ErrorCode.SUBJECT_MISMATCH,
        "The partitionkey extension, when sent, equals the subject.",
    ),
    ModelOnlyRule(
        ErrorCode.SOURCE_MISMATCH,
        "The source is the authenticated partner's registered URN.",
    ),
    ModelOnlyRule(
        ErrorCode.TYPE_NOT_ALLOWED,
        "The sending partner's role sends the type.",
    ),
    ModelOnlyRule(
        ErrorCode.AGB_NOT_SENDER,
        "The AGB that names the sender is the sending partner's own.",
        types=(
            "referrals.submitted",
            "care.started",
            "care.stopped",
            "outcomes.reported",
            "assignment-requests.submitted",
        ),
    ),
    ModelOnlyRule(
        ErrorCode.PERIOD_INVALID,
        "A period's end is not before its start.",
        types=_PERIOD_TYPES,
    ),
    ModelOnlyRule(
        ErrorCode.VARIANT_SCOPE_MISMATCH,
        "The variant allows the scope: outputgericht a volume in unit 82 or 83; "
        "inspanningsgericht a budget or a volume in unit 01, 04, 14, 16 or 84; "
        "taakgericht a budget or no scope.",
        types=_PRODUCT_TYPES,
    ),
    ModelOnlyRule(
        ErrorCode.RESULT_AREAS_REQUIRED,
        "Outputgericht needs at least one result area.",
        types=_PRODUCT_TYPES,
    ),
    ModelOnlyRule(
        ErrorCode.CATEGORY_LAW_MISMATCH,
        "The product category belongs to the law.",
        types=_PRODUCT_TYPES,
    ),
    ModelOnlyRule(
        ErrorCode.CONSENT_INCONSISTENT,
        "Content feedback needs status feedback; recorded_on is required once either is given.",
        types=("referrals.submitted",),
    ),
    ModelOnlyRule(
        ErrorCode.YOUTH_CARE_AGE,
        "A youth-care referral needs a client younger than 23 on the event date.",
        types=("referrals.submitted",),
    ),
    ModelOnlyRule(
        ErrorCode.ITEMS_NOT_UNIQUE,
        "Goal ids are distinct within a plan.",
        types=("cases.plan-updated",),
    ),
    ModelOnlyRule(
        ErrorCode.ITEMS_NOT_UNIQUE,
        "One result per result area.",
        types=("outcomes.reported",),
    ),
    ModelOnlyRule(
        ErrorCode.MELDCODE_STEPS_INCOMPLETE,
        "All four meldcode steps are completed unless concern.acute_danger is true.",
        types=("safety-reports.submitted",),
    ),
    ModelOnlyRule(
        ErrorCode.VICTIM_OR_CHILD_REQUIRED,
        "At least one person has the role victim or child.",
        types=("safety-reports.submitted",),
    ),
    ModelOnlyRule(
        ErrorCode.NOT_INFORMED_REASON_REQUIRED,
        "not_informed_reason is required when household_informed is false.",
        types=("safety-reports.submitted",),
    ),
    ModelOnlyRule(
        ErrorCode.DECISION_FIELDS_REQUIRED,
        "period and product are required unless the outcome is denied.",
        types=("provisions.decided",),
    ),
    ModelOnlyRule(
        ErrorCode.OBJECTION_DEADLINE_INVALID,
        "objection_deadline is not before decided_on.",
        types=("provisions.decided",),
    ),
    ModelOnlyRule(
        ErrorCode.CHANGE_REASON_REQUIRED,
        "change_reason is required when the status is changed or withdrawn.",
        types=("assignments.issued",),
    ),
    ModelOnlyRule(
        ErrorCode.CHANGE_REASON_NOT_ALLOWED,
        "change_reason is absent when the status is new.",
        types=("assignments.issued",),
    ),
    ModelOnlyRule(
        ErrorCode.LEGAL_REPRESENTATIVE_REQUIRED,
        "A Jeugdwet client under 18 on issued_on has a legal_representative.",
        types=("assignments.issued",),
    ),
    ModelOnlyRule(
        ErrorCode.REFERRER_AGB_REQUIRED,
        "A huisarts, jeugdarts or medisch-specialist referrer has an agb.",
        types=("assignment-requests.submitted",),
    ),
)


def model_only_rules_for(spec: TypeSpec) -> list[ModelOnlyRule]:
    """The model-only rules that apply to a type: its own, and those of fields its data has."""
    nodes = list(_nodes(data_schema(spec)))
    names = {
        name
        for node in nodes
        if isinstance(node.get("properties"), Mapping)
        for name in node["properties"]
    }
    json_types = {node["type"] for node in nodes if isinstance(node.get("type"), str)}
    return [
        rule
        for rule in MODEL_ONLY_RULES
        if (not rule.types or spec.short_name in rule.types)
        and (rule.field is None or rule.field in names)
        and (rule.json_type is None or rule.json_type in json_types)
    ]


def _nodes(schema: Any) -> Iterator[Mapping[str, Any]]:
    """Every object in a schema document, its $defs included."""
    if isinstance(schema, Mapping):
        yield schema
        for value in schema.values():
            yield from _nodes(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _nodes(item)


# --- Generating the schemas ----------------------------------------------------------------


class _ContractJsonSchema(GenerateJsonSchema):
    """Pydantic's generator, adjusted for a published contract.

    Field titles are left out: pydantic derives them from the field name ("Birth Date"),
    so they tell a reader nothing the name does not. A dict's key rule moves
    from ``patternProperties`` to ``propertyNames``: with patternProperties a key that
    does not match the pattern would be accepted unchecked, the model rejects it.
    """

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        result = super().dict_schema(schema)
        patterns = result.pop("patternProperties", None)
        if patterns:
            [(pattern, values)] = patterns.items()
            result["propertyNames"] = {**result.get("propertyNames", {}), "pattern": pattern}
            result["additionalProperties"] = values
        return result


def version_of(spec: TypeSpec) -> str:
    """The version folder of a type: the type string's last part (``v1``)."""
    return spec.type.rsplit(".", 1)[1]


def schema_file(spec: TypeSpec) -> PurePosixPath:
    """The path of a type's schema under the export directory: ``v1/referrals.submitted.json``."""
    return PurePosixPath(version_of(spec), f"{spec.short_name}.json")


def schema_id(path: PurePosixPath) -> str:
    """The ``$id`` of the schema at ``path`` under the export directory."""
    return f"{SCHEMA_BASE_URL}{path}"


def _prose(text: str) -> str:
    """A docstring as schema prose: reST ````code```` becomes Markdown ```code```."""
    return " ".join(text.replace("``", "`").split())


def _tidy(node: Any) -> Any:
    """Turn every description into prose, recursively."""
    if isinstance(node, dict):
        return {
            key: _prose(value) if key == "description" and isinstance(value, str) else _tidy(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


def data_schema(spec: TypeSpec) -> dict[str, Any]:
    """The JSON Schema of a type's ``data``, with ``$schema``, ``$id``, title and description."""
    schema: dict[str, Any] = _tidy(
        spec.model.model_json_schema(mode="validation", schema_generator=_ContractJsonSchema)
    )
    description = schema.get("description", "")
    schema["description"] = (
        f"{description} Sent by a `{spec.sender_role}` partner; the CloudEvent "
        f"subject equals `data.{spec.subject_field}`."
    ).strip()
    schema["title"] = spec.type
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = schema_id(schema_file(spec))
    return schema


def _case_insensitive(pattern: str) -> str:
    """Rewrite a regular expression so it matches letters in either case (ECMA-262 has no (?i))."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(char + next(chars))
        elif char.isascii() and char.isalpha():
            out.append(f"[{char.lower()}{char.upper()}]")
        else:
            out.append(char)
    return "".join(out)


def _anchored(pattern: str) -> str:
    """A fullmatch pattern as a JSON Schema pattern (JSON Schema searches, Python fullmatches)."""
    return f"^(?:{pattern})$"


def envelope_schema(version: str = "v1") -> dict[str, Any]:
    """The JSON Schema of the CloudEvent envelope (NL GOV profile) for one contract version.

    It checks every attribute and requires ``data`` to be an object; the type's own file
    checks ``data``.
    """
    types = sorted(spec.type for spec in TYPES.values() if version_of(spec) == version)
    text: dict[str, Any] = {"type": "string", "minLength": 1}
    media_type = _JSON_MEDIA_TYPE.pattern
    if _JSON_MEDIA_TYPE.flags & re.IGNORECASE:
        media_type = _case_insensitive(media_type)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": schema_id(PurePosixPath(version, ENVELOPE_FILE)),
        "title": f"CloudEvent envelope, contract {version}",
        "description": (
            "A structured-mode CloudEvents 1.0 event (NL GOV profile) as partners send it. "
            "Only traceparent, tracestate and partitionkey are accepted as extensions. data is "
            "checked by the schema of the event's type (the same folder, <short type>.json). "
            "An event is at most 256 KiB (its compact UTF-8 JSON)."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["specversion", "id", "source", "type", "time", "subject", "data"],
        "properties": {
            "specversion": {"type": "string", "const": SPECVERSION},
            "id": {
                **text,
                "maxLength": _ID_MAX_LENGTH,
                "pattern": _anchored(_EVENT_ID.pattern),
                "description": "A-Z a-z 0-9 . _ : - (a UUID is recommended); no part a BSN.",
            },
            "source": {**text, "description": "The sending partner's registered URN."},
            "type": {"type": "string", "enum": types},
            "time": {
                "type": "string",
                "format": "date-time",
                "pattern": _anchored(_RFC3339.pattern),
                "description": "RFC 3339 with seconds and an offset.",
            },
            "subject": {
                **text,
                "description": "Equals the data field the type names as subject; never a BSN.",
            },
            "datacontenttype": {
                "type": "string",
                "pattern": _anchored(media_type),
                "description": "application/json (any case, optionally with charset=utf-8).",
            },
            "dataschema": {
                "type": "string",
                "pattern": _anchored(_URI.pattern),
                "description": "An absolute URI (RFC 3986); the type's schema $id is the natural value.",
            },
            "traceparent": {
                "type": "string",
                "pattern": _anchored(_TRACEPARENT.pattern),
                "description": "W3C trace context: version-traceid-parentid-flags, lower-case hex.",
            },
            "tracestate": {
                **text,
                "description": "W3C trace context: at most 32 key=value members. Checked, "
                "then dropped: the hub never stores, logs or forwards it.",
            },
            "partitionkey": {
                **text,
                "description": "CloudEvents partitioning extension; equals subject. Checked, "
                "then dropped: the hub never stores or forwards it.",
            },
            "data": {"type": "object", "description": "Checked by the schema of the type."},
        },
    }


def render_schema(schema: Mapping[str, Any]) -> bytes:
    """The bytes of a schema file: sorted keys, two-space indent, UTF-8, trailing newline."""
    return (json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def exported_files() -> dict[PurePosixPath, bytes]:
    """Every type and envelope schema file the code defines now, by path under the export directory.

    The recipients' views are derived from these and the routing/privacy table, so they are
    added above this package (``hub.privacy.views.published_files``): schemas import nothing
    of privacy.
    """
    files: dict[PurePosixPath, bytes] = {}
    versions = sorted({version_of(spec) for spec in TYPES.values()})
    for version in versions:
        files[PurePosixPath(version, ENVELOPE_FILE)] = render_schema(envelope_schema(version))
    for spec in TYPES.values():
        files[schema_file(spec)] = render_schema(data_schema(spec))
    return dict(sorted(files.items()))


def _on_disk(directory: Path) -> set[PurePosixPath]:
    """The schema files under ``directory``: ``v1/x.json`` and the views, ``v1/views/<role>/x.json``."""
    return {
        PurePosixPath(path.relative_to(directory).as_posix())
        for path in directory.glob("**/*.json")
        if path.is_file()
    }


def write_schemas(
    directory: Path, files: Mapping[PurePosixPath, bytes]
) -> tuple[list[PurePosixPath], list[PurePosixPath]]:
    """Write ``files`` under ``directory``; return (files written, stale files removed).

    A file whose bytes are already right is not rewritten. A ``*.json`` in a version
    folder that ``files`` does not hold is removed, so the directory afterwards holds
    exactly what ``check_directory`` expects of the same ``files``.
    """
    written: list[PurePosixPath] = []
    for relative, content in files.items():
        path = directory / relative
        if path.is_file() and path.read_bytes() == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(relative)
    removed = sorted(_on_disk(directory) - set(files)) if directory.is_dir() else []
    for relative in removed:
        (directory / relative).unlink()
    return written, removed


# --- Checking a directory against the code -------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileDifference:
    """How one schema file on disk differs from what the code exports.

    ``status`` is ``changed``, ``missing`` (the code exports a file the directory lacks),
    ``extra`` (the directory holds a file the code no longer exports) or ``unreadable``.
    """

    path: PurePosixPath
    status: Literal["changed", "missing", "extra", "unreadable"]
    changes: tuple[Change, ...] = ()

    @property
    def is_compatible(self) -> bool:
        """Whether every event the published file accepts is still accepted (BACKWARD)."""
        if self.status in ("extra", "unreadable"):
            return False
        return all(change.compatible for change in self.changes)


def _root_path(relative: PurePosixPath) -> str:
    return "" if relative.name == ENVELOPE_FILE else _DATA_ROOT


def check_directory(directory: Path, files: Mapping[PurePosixPath, bytes]) -> list[FileDifference]:
    """Compare the schema files under ``directory`` with ``files``; empty when identical.

    Each differing file is classified against its published version on disk: ``changes``
    lists what changed, each marked BACKWARD compatible or not (``compare_schemas``).
    """
    on_disk = _on_disk(directory) if directory.is_dir() else set()
    differences: list[FileDifference] = []
    for relative in sorted(on_disk | set(files)):
        if relative not in files:
            differences.append(FileDifference(relative, "extra"))
            continue
        if relative not in on_disk:
            differences.append(FileDifference(relative, "missing"))
            continue
        published = (directory / relative).read_bytes()
        if published == files[relative]:
            continue
        try:
            old = json.loads(published)
        except ValueError:
            differences.append(FileDifference(relative, "unreadable"))
            continue
        new = json.loads(files[relative])
        changes = compare_schemas(old, new, root=_root_path(relative))
        differences.append(FileDifference(relative, "changed", tuple(changes)))
    return differences
