"""Render docs/messages.md, the field-by-field reference of every type, from the models.

The page is built from the exported JSON Schemas (``hub.schemas.export``) and the type
registry, so it says exactly what validation does; a unit test compares the committed file
with ``render_reference()``, so it cannot drift.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any, Final, NamedTuple

from hub.schemas import common
from hub.schemas.common import MAX_INTEGER
from hub.schemas.errors import BLANK_PATTERN
from hub.schemas.export import (
    ENVELOPE_FILE,
    MODEL_ONLY_RULES,
    SCHEMA_BASE_URL,
    ModelOnlyRule,
    data_schema,
    envelope_schema,
    model_only_rules_for,
    schema_file,
    schema_id,
)
from hub.schemas.registry import TYPES, TypeSpec

__all__ = ["render_reference"]

_SCHEMA_DIR: Final = "docs/schemas"
_LONG_PATTERN: Final = 60


class _Row(NamedTuple):
    path: str
    kind: str
    required: bool
    constraints: str


def _pattern_sentences() -> dict[str, str]:
    """What each coded string format means, from its own error sentence (common.py)."""
    sentences: dict[str, str] = {}
    for value in vars(common).values():
        if typing.get_origin(value) is not typing.Annotated:
            continue
        for meta in typing.get_args(value)[1:]:
            pattern, message = getattr(meta, "pattern", None), getattr(meta, "message", None)
            if isinstance(pattern, str) and isinstance(message, str):
                sentences[pattern] = message
    return sentences


def _code(text: str) -> str:
    """Text as a Markdown code span that survives a table cell."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _show(value: Any) -> str:
    return _code(value if isinstance(value, str) else json.dumps(value))


def _number(value: Any) -> str:
    return "2^53 - 1" if value == MAX_INTEGER else str(value)


class _Renderer:
    """Walks one schema document and renders its fields as table rows."""

    def __init__(self, document: Mapping[str, Any], sentences: Mapping[str, str]) -> None:
        self.document = document
        self.sentences = sentences

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            node = {
                **self.document["$defs"][name],
                **{k: v for k, v in node.items() if k != "$ref"},
            }
        return node

    def kind(self, node: Mapping[str, Any]) -> str:
        node = self.resolve(node)
        kind = node.get("type", "any")
        if kind == "array":
            return f"array of {self.kind(node.get('items', {}))}"
        if kind == "object" and isinstance(node.get("additionalProperties"), Mapping):
            return f"object (name → {self.kind(node['additionalProperties'])})"
        if kind == "string" and "format" in node:
            return f"string ({node['format']})"
        return str(kind)

    def constraints(self, node: Mapping[str, Any]) -> list[str]:
        node = self.resolve(node)
        parts: list[str] = []
        if "const" in node:
            parts.append(_show(node["const"]))
        if "enum" in node:
            parts.append("one of " + ", ".join(_show(value) for value in node["enum"]))
        parts += self._string(node)
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and high is not None:
            parts.append(f"{_number(low)} to {_number(high)}")
        elif low is not None:
            parts.append(f"at least {_number(low)}")
        elif high is not None:
            parts.append(f"at most {_number(high)}")
        parts += self._array(node)
        rest = node.get("additionalProperties")
        if isinstance(rest, Mapping):
            names = "; ".join(self.constraints(node.get("propertyNames", {})))
            values = "; ".join(self.constraints(rest))
            if "maxProperties" in node:
                parts.append(f"at most {node['maxProperties']} entries")
            parts.append(f"names: {names}" if names else "any names")
            if values:
                parts.append(f"values: {values}")
        shapes = node.get("anyOf", [])
        if shapes and all("required" in shape for shape in shapes):
            parts.append(
                "exactly one of the shapes "
                + " or ".join("{" + ", ".join(shape["required"]) + "}" for shape in shapes)
            )
        if "default" in node:
            parts.append(f"default {_show(node['default'])}")
        if "description" in node:
            parts.append(str(node["description"]))
        return parts

    def _string(self, node: Mapping[str, Any]) -> list[str]:
        parts: list[str] = []
        low, high = node.get("minLength"), node.get("maxLength")
        pattern = node.get("pattern")
        if node.get("format") == "date":
            return ["`YYYY-MM-DD`"]
        sentence = self.sentences.get(pattern) if isinstance(pattern, str) else None
        if sentence:
            parts.append(sentence.rstrip("."))
        if low == 1 and high is None:
            parts.append("not empty")
        elif low == 1 and high is not None:
            parts.append(f"1 to {high} characters")
        elif low is not None and high is not None:
            parts.append(f"{low} to {high} characters")
        elif low is not None:
            parts.append(f"at least {low} characters")
        elif high is not None:
            parts.append(f"at most {high} characters")
        if pattern == BLANK_PATTERN:
            parts.append("not only whitespace")
        elif isinstance(pattern, str):
            if len(pattern) <= _LONG_PATTERN:
                parts.append(f"pattern {_code(pattern)}")
            else:
                parts.append("pattern: see the JSON Schema")
        return parts

    def _array(self, node: Mapping[str, Any]) -> list[str]:
        if node.get("type") != "array":
            return []
        parts: list[str] = []
        low, high = node.get("minItems"), node.get("maxItems")
        items = "item" if high == 1 else "items"
        if low is not None and high is not None:
            parts.append(f"{low} to {high} {items}")
        elif low is not None:
            parts.append(f"at least {low} {'item' if low == 1 else 'items'}")
        elif high is not None:
            parts.append(f"at most {high} {items}")
        if node.get("uniqueItems"):
            parts.append("distinct")
        item = self.resolve(node.get("items", {}))
        if item.get("type") != "object":
            inner = self.constraints(item)
            if inner:
                parts.append("each: " + "; ".join(inner))
        return parts

    def rows(self, node: Mapping[str, Any], prefix: str = "") -> Iterator[_Row]:
        """One row per field, depth first in the models' field order."""
        node = self.resolve(node)
        required = set(node.get("required", ()))
        for name, child in node.get("properties", {}).items():
            path = f"{prefix}{name}"
            yield _Row(path, self.kind(child), name in required, "; ".join(self.constraints(child)))
            yield from self._children(child, path)

    def _children(self, node: Mapping[str, Any], path: str) -> Iterator[_Row]:
        node = self.resolve(node)
        if node.get("type") == "object":
            yield from self.rows(node, f"{path}.")
        elif node.get("type") == "array":
            item = self.resolve(node.get("items", {}))
            if item.get("type") == "object":
                yield from self.rows(item, f"{path}[].")


def _field_notes(path: str, rules: list[ModelOnlyRule]) -> list[str]:
    leaf = path.rsplit(".", 1)[-1].removesuffix("[]")
    return [f"model: {rule.text}" for rule in rules if rule.field == leaf]


def _anchor(short_name: str) -> str:
    return short_name.replace(".", "")


def _schema_link(path: PurePosixPath) -> str:
    return f"[`{path}`](schemas/{path})"


def _field_table(spec: TypeSpec, sentences: Mapping[str, str]) -> list[str]:
    schema = data_schema(spec)
    rules = model_only_rules_for(spec)
    lines = ["| field | type | required | constraints |", "|---|---|---|---|"]
    for row in _Renderer(schema, sentences).rows(schema):
        notes = [row.constraints] if row.constraints else []
        notes += [_cell(note) for note in _field_notes(row.path, rules)]
        lines.append(
            f"| `{row.path}` | {_cell(row.kind)} | {'required' if row.required else 'optional'} "
            f"| {'; '.join(notes)} |"
        )
    return lines


def _type_section(spec: TypeSpec, sentences: Mapping[str, str]) -> list[str]:
    path = schema_file(spec)
    summary = " ".join((spec.model.__doc__ or "").split("\n\n")[0].split()).replace("``", "`")
    # Model docstrings open with the short name; the section shows the full type instead.
    summary = summary.replace(f"`{spec.short_name}`", f"`{spec.type}`", 1)
    agb = f" (its AGB: `data.{'.'.join(spec.sender_agb_field)}`)" if spec.sender_agb_field else ""
    lines = [
        f"### {spec.short_name}",
        "",
        summary,
        "",
        f"- Sender role: `{spec.sender_role}`{agb}",
        f"- Subject: `data.{spec.subject_field}`",
        f"- JSON Schema of `data`: {_schema_link(path)}, `$id` `{schema_id(path)}`",
        "",
        *_field_table(spec, sentences),
    ]
    own = [
        rule
        for rule in model_only_rules_for(spec)
        if rule.types or rule.field is not None or rule.json_type is not None
    ]
    if own:
        lines += ["", "Checked by the models only (not in the JSON Schema):", ""]
        for rule in own:
            where = f" (`{rule.field}`)" if rule.field else ""
            lines.append(f"- `{rule.code.value}`{where}: {rule.text}")
    return [*lines, ""]


def _envelope_section(sentences: Mapping[str, str]) -> list[str]:
    schema = envelope_schema()
    lines = ["| attribute | type | required | constraints |", "|---|---|---|---|"]
    renderer = _Renderer(schema, sentences)
    for row in renderer.rows(schema):
        constraints = "one of the types below" if row.path == "type" else row.constraints
        lines.append(
            f"| `{row.path}` | {_cell(row.kind)} | {'required' if row.required else 'optional'} "
            f"| {constraints} |"
        )
    return lines


def _rules_table() -> list[str]:
    lines = ["| code | rule | applies to |", "|---|---|---|"]
    for rule in MODEL_ONLY_RULES:
        if rule.field is not None:
            scope = f"every `{rule.field}`"
        elif rule.json_type is not None:
            scope = f"every {rule.json_type}"
        elif rule.types:
            scope = ", ".join(f"[{name}](#{_anchor(name)})" for name in rule.types)
        else:
            scope = "the envelope, every type"
        lines.append(f"| `{rule.code.value}` | {_cell(rule.text)} | {scope} |")
    return lines


_INTRO: Final = f"""\
# Messages v1: every type, field by field

<!-- Generated by `hub schemas docs docs/messages.md` from src/hub/schemas; do not edit. -->

This page is generated from the pydantic models in `src/hub/schemas/` by
`hub schemas docs docs/messages.md`, and a unit test fails when it differs from the
generator's output: change the models, then regenerate. The binding contract is
`shared/spec/messages.md`; the decisions taken where it is silent are in
`docs/validation.md`, the error codes in `docs/errors.md`.

## Reading the tables

- A field is required unless the table says optional. An optional field may be
  omitted; `null` is never valid (`FIELD_NULL`).
- Objects are closed: a field that is not listed is rejected (`FIELD_UNKNOWN`).
- Types are strict JSON types, never coerced: `integer` is a JSON integer (not
  `2.0`, not `"2"`), `boolean` is `true` or `false`, every code is a string.
  Integers are at most 2^53 - 1.
- `string (date)` is `YYYY-MM-DD` and must exist in the calendar. Lengths count
  characters (code points). "Not only whitespace" means the text holds at least one
  other character.
- Paths: `a.b` is field `b` of object `a`; `a[].b` is field `b` of every item of
  list `a`. Error paths use the same names with the item's index: `a[0].b`.
- "model:" marks a rule the hub checks that the published JSON Schema does not carry:
  rules across fields, against today's date or the registry, and some rules of one field
  (the 11-proof, an e-mail's local part, BSN parts of ids, the size limit). Some of them
  JSON Schema could say (`if`/`then`, a pattern); adding one would make a v1 schema
  stricter, which `hub schemas check` refuses. A partner whose data passes the schema can
  still get one of these codes from the hub.

## JSON Schemas

`hub schemas export {_SCHEMA_DIR}` writes one JSON Schema (draft 2020-12) per type for
the event's `data`, and one for the envelope:

| file | `$id` | describes |
|---|---|---|
| `{_SCHEMA_DIR}/v1/{ENVELOPE_FILE}` | `{SCHEMA_BASE_URL}v1/{ENVELOPE_FILE}` | the CloudEvent attributes; `data` must be an object |
| `{_SCHEMA_DIR}/v1/<short type>.json` | `{SCHEMA_BASE_URL}v1/<short type>.json` | `data` of that type |

- **Identifiers.** The `$id` is `{SCHEMA_BASE_URL}` plus the file's path under
  `{_SCHEMA_DIR}`: the version folder (`v1`, from the type's `.v1` suffix) and the short
  type. A type's `$id` is the value a partner may send as the CloudEvent `dataschema`. A
  v2 type will get `v2/<short type>.json`; published v1 files only change compatibly.
- **Two schemas per event.** Validate the event against `envelope.json` and its `data`
  against the type's file, as CloudEvents SDKs do with `dataschema`. Every file stands
  alone (definitions in its own `$defs`).
- **Deterministic.** Sorted keys, two-space indent, UTF-8, one trailing newline:
  re-exporting unchanged models gives identical bytes.
- **Strict where JSON Schema can be.** Every object has `additionalProperties: false`;
  no field allows `null`; patterns, lengths, ranges, code lists, distinct lists and a
  scope's two shapes (`anyOf`) are the models' own. Dates carry `format: date` and a
  pattern; `format` asserts only in validators that check formats (e.g. `jsonschema`
  with a format checker), the pattern always.
- **Checked.** `hub schemas check {_SCHEMA_DIR}` (run by `make contract` and `make test`)
  exits 0 when the files equal what the code exports, else 1, naming each differing
  file and whether the change is BACKWARD compatible: every event the published schema
  accepts is still accepted. Compatible: a new optional field, a field that becomes
  optional, a widened type or code list, a relaxed bound, a removed pattern, any
  annotation (title, description, default). Incompatible, named by field path: a removed
  or renamed field, a new required field, a narrowed type or code list, a raised minimum
  or lowered maximum (length, items, value), a new or changed pattern or format, new
  `uniqueItems`, a removed schema file. Even a compatible change fails the check (so it
  shows in review) with "compatible: re-export and commit".

### Rules the models check beyond the JSON Schemas

Every valid example validates against its schemas, and every invalid example fails
them unless its one error comes from a rule below (`tests/unit/schemas/test_export.py`).
Rules that need earlier events are the pipeline's (`docs/state.md`) and not listed.

"""


def render_reference() -> str:
    """The Markdown of docs/messages.md for the types the code defines now."""
    sentences = _pattern_sentences()
    specs = list(TYPES.values())
    lines = [_INTRO.rstrip("\n"), "", *_rules_table(), ""]
    lines += ["## Envelope", "", *_envelope_section(sentences), ""]
    lines += [
        "## Types",
        "",
        "| type | sender role | subject | JSON Schema |",
        "|---|---|---|---|",
    ]
    for spec in specs:
        lines.append(
            f"| [{spec.short_name}](#{_anchor(spec.short_name)}) | `{spec.sender_role}` "
            f"| `{spec.subject_field}` | {_schema_link(schema_file(spec))} |"
        )
    lines.append("")
    for spec in specs:
        lines += _type_section(spec, sentences)
    return "\n".join(lines).rstrip("\n") + "\n"
