"""The exported JSON Schemas: deterministic, committed, faithful to the models; the compatibility check."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hub.cli import main
from hub.envelope import read_attributes
from hub.privacy.views import published_files
from hub.schemas import TYPES
from hub.schemas.compatibility import Change, compare_schemas, is_backward_compatible
from hub.schemas.export import (
    ENVELOPE_FILE,
    MODEL_ONLY_RULES,
    SCHEMA_BASE_URL,
    SCHEMA_DIALECT,
    ModelOnlyRule,
    check_directory,
    model_only_rules_for,
    render_schema,
    write_schemas,
)
from hub.schemas.reference import render_reference
from hub.testing import EXAMPLES_DIR, InvalidExample, invalid_examples, load_example, make_event

ROOT = EXAMPLES_DIR.parent
SCHEMA_DIR = ROOT / "docs" / "schemas"
MESSAGES_MD = ROOT / "docs" / "messages.md"
VALID_FILES = sorted(EXAMPLES_DIR.glob("*/valid/*.json"))
INVALID = list(invalid_examples())
FORMATS = Draft202012Validator.FORMAT_CHECKER


# The published contract: type and envelope schemas, and the recipients' views.
FILES = published_files()


def _schemas() -> dict[str, dict[str, Any]]:
    return {str(path): json.loads(content) for path, content in FILES.items()}


SCHEMAS = _schemas()


def _schema(short_name: str) -> dict[str, Any]:
    return copy.deepcopy(SCHEMAS[f"v1/{short_name}.json"])


def _schema_errors(event: dict[str, Any]) -> list[str]:
    """Messages of every error the envelope schema and the type's data schema find."""
    validator = Draft202012Validator(SCHEMAS[f"v1/{ENVELOPE_FILE}"], format_checker=FORMATS)
    errors = [error.message for error in validator.iter_errors(event)]
    spec = TYPES.get(event.get("type", ""))
    if spec is not None and isinstance(event.get("data"), dict):
        data_validator = Draft202012Validator(
            SCHEMAS[f"v1/{spec.short_name}.json"], format_checker=FORMATS
        )
        errors += [error.message for error in data_validator.iter_errors(event["data"])]
    return errors


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _name(path: Path) -> str:
    return str(path.relative_to(EXAMPLES_DIR))


# --- Export ---------------------------------------------------------------------------------


def test_export_is_deterministic(tmp_path: Path) -> None:
    """Two exports give identical bytes, and exporting into an up-to-date directory writes nothing."""
    first, second = tmp_path / "a", tmp_path / "b"
    write_schemas(first, published_files())
    write_schemas(second, published_files())
    files = sorted(path.relative_to(first) for path in first.rglob("*.json"))
    assert files == sorted(path.relative_to(second) for path in second.rglob("*.json"))
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in files)
    assert write_schemas(first, published_files()) == ([], [])


def test_files_are_sorted_indented_and_end_with_one_newline() -> None:
    """Each file is its JSON re-rendered with sorted keys and two-space indent, plus one newline."""
    for content in FILES.values():
        assert content.endswith(b"}\n")
        assert render_schema(json.loads(content)) == content
        assert content.decode("utf-8").splitlines()[1].startswith('  "')


def test_one_schema_per_type_plus_the_envelope_with_stable_ids() -> None:
    """There is a data schema per type, an envelope schema and the recipients' views; each $id is base URL plus its path."""
    expected = {f"v1/{spec.short_name}.json" for spec in TYPES.values()} | {"v1/envelope.json"}
    assert {path for path in SCHEMAS if not path.startswith("v1/views/")} == expected
    assert len([path for path in SCHEMAS if path.startswith("v1/views/")]) == 20
    for path, schema in SCHEMAS.items():
        assert schema["$schema"] == SCHEMA_DIALECT
        assert schema["$id"] == f"{SCHEMA_BASE_URL}{path}"
        Draft202012Validator.check_schema(schema)
    assert SCHEMAS["v1/referrals.submitted.json"]["title"] == (
        "nl.sociaaldomein.referrals.submitted.v1"
    )
    assert SCHEMAS["v1/envelope.json"]["properties"]["type"]["enum"] == sorted(TYPES)


@pytest.mark.parametrize("path", sorted(SCHEMAS))
def test_every_schema_is_closed_and_never_allows_null(path: str) -> None:
    """Every object is closed, nothing is typed or defaulted null, and no field carries a title."""
    nodes = list(_nodes(SCHEMAS[path]))
    objects = [node for node in nodes if node.get("type") == "object" and "properties" in node]
    assert objects
    assert all(node["additionalProperties"] is False for node in objects)
    assert all(node.get("type") != "null" and "null" not in node.get("type", []) for node in nodes)
    assert all(node.get("default", 0) is not None for node in nodes)
    for node in objects:
        assert all("title" not in field for field in node["properties"].values())


def test_the_committed_schemas_match_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/schemas holds exactly what the code exports; `hub schemas check` exits 0 on it."""
    assert check_directory(SCHEMA_DIR, FILES) == []
    assert main(["schemas", "check", str(SCHEMA_DIR)]) == 0
    assert capsys.readouterr().out == f"OK {SCHEMA_DIR} matches the code\n"


def test_export_removes_a_schema_the_code_no_longer_has(tmp_path: Path) -> None:
    """A stale file in a version folder is removed, so the directory equals the export."""
    write_schemas(tmp_path, FILES)
    (tmp_path / "v1" / "gone.json").write_text("{}\n")
    assert write_schemas(tmp_path, FILES) == ([], [PurePosixPath("v1/gone.json")])
    assert check_directory(tmp_path, FILES) == []


# --- Faithful to the models -------------------------------------------------------------------


@pytest.mark.parametrize("path", VALID_FILES, ids=_name)
def test_valid_example_validates_against_its_schemas(path: Path) -> None:
    """A valid example passes the envelope schema, and its data the schema of its type."""
    assert _schema_errors(load_example(path)) == []


def _explained_by(rule: ModelOnlyRule, example: InvalidExample) -> bool:
    """Whether the example's one error is an instance of the model-only rule."""
    if rule.code != example.code:
        return False
    leaf = example.path.rsplit(".", 1)[-1].split("[", 1)[0]
    if rule.field is not None:
        return leaf == rule.field
    if rule.json_type == "integer":
        value: Any = load_example(example.file)
        for part in example.path.replace("]", "").replace("[", ".").split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
        return isinstance(value, float) and value.is_integer()
    return True


@pytest.mark.parametrize("example", INVALID, ids=lambda e: _name(e.file))
def test_invalid_example_fails_its_schemas_unless_the_rule_is_model_only(
    example: InvalidExample,
) -> None:
    """An invalid example fails the schemas, unless its one error is a rule only the models check."""
    event = load_example(example.file)
    if _schema_errors(event):
        return
    spec = TYPES[event["type"]]
    rules = model_only_rules_for(spec)
    assert any(_explained_by(rule, example) for rule in rules), (example.code, example.path)


def test_expressible_rules_are_in_the_schemas() -> None:
    """Codes that JSON Schema states are never listed as model-only, and many examples prove them."""
    expressible = {"FIELD_REQUIRED", "FIELD_UNKNOWN", "FIELD_NULL", "VALUE_NOT_ALLOWED", "TOO_LONG"}
    assert not expressible & {rule.code.value for rule in MODEL_ONLY_RULES}
    caught = [e for e in INVALID if e.code.value in expressible]
    assert len(caught) >= 20
    assert all(_schema_errors(load_example(example.file)) for example in caught)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("datacontenttype", "application/json"),
        ("datacontenttype", "Application/JSON; charset=UTF-8"),
        ("datacontenttype", 'application/json;charset="utf-8"'),
        ("datacontenttype", "text/plain"),
        ("datacontenttype", "application/json; charset=latin-1"),
        ("time", "2025-03-03T09:15:00+01:00"),
        ("time", "2025-03-03t09:15:00.123456z"),
        ("time", "2025-03-03T09:15+01:00"),
        ("time", "2025-03-03 09:15:00+01:00"),
        ("dataschema", "https://schemas.sociaaldomein.example/v1/cases.closed.json"),
        ("dataschema", "/v1/cases.closed.json"),
        ("dataschema", 'a:<>{}|^`"'),
        ("dataschema", "https://h.example/%zz?q#f"),
        ("dataschema", "https://u@[::1]:80/x?q=1#f"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("traceparent", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"),
        ("traceparent", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"),
        ("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        ("id", "x" * 128),
        ("id", "x" * 129),
        ("specversion", "0.3"),
        ("subject", ""),
    ],
)
def test_envelope_schema_agrees_with_read_attributes(attribute: str, value: str) -> None:
    """The envelope schema accepts an attribute value exactly when the hub's envelope check does."""
    event = make_event("cases.closed", envelope={attribute: value})
    _, errors = read_attributes(event)
    validator = Draft202012Validator(SCHEMAS[f"v1/{ENVELOPE_FILE}"], format_checker=FORMATS)
    assert validator.is_valid(event) == (errors == [])


# --- Compatibility ----------------------------------------------------------------------------


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(change.path, change.compatible) for change in compare_schemas(old, new)]


def test_identical_schemas_have_no_changes() -> None:
    """A schema compared with itself has no changes."""
    for path, schema in SCHEMAS.items():
        root = "" if path.endswith(ENVELOPE_FILE) else "data"
        assert compare_schemas(schema, copy.deepcopy(schema), root=root) == []


def test_removed_field_is_incompatible() -> None:
    """Removing (or renaming) a field breaks senders that send it; the path names the field."""
    old = _schema("referrals.submitted")
    new = _schema("referrals.submitted")
    del new["$defs"]["ClientWithPhone"]["properties"]["phone"]
    assert compare_schemas(old, new) == [
        Change(
            "data.client.phone",
            False,
            "field removed (or renamed): events that send it fail now",
        )
    ]


def test_renamed_field_is_incompatible() -> None:
    """A rename is a removal plus an added field; the removal breaks senders."""
    old = _schema("cases.closed")
    new = _schema("cases.closed")
    new["properties"]["closed_at"] = new["properties"].pop("closed_on")
    new["required"] = ["case_id", "closed_at", "reason"]
    assert _changes(old, new) == [("data.closed_at", False), ("data.closed_on", False)]
    assert not is_backward_compatible(compare_schemas(old, new))


def test_new_required_field_is_incompatible() -> None:
    """A new required field rejects every event sent to the published schema."""
    old = _schema("cases.closed")
    new = _schema("cases.closed")
    new["properties"]["team"] = {"type": "string"}
    new["required"].append("team")
    assert compare_schemas(old, new) == [Change("data.team", False, "new required field")]


def test_field_made_required_is_incompatible_and_made_optional_compatible() -> None:
    """Requiring an optional field breaks senders; making a required one optional does not."""
    old = _schema("referrals.status-changed")
    new = _schema("referrals.status-changed")
    new["required"].append("note")
    assert _changes(old, new) == [("data.note", False)]
    assert _changes(new, old) == [("data.note", True)]


def test_narrowed_code_list_is_incompatible() -> None:
    """Removing a code from an enum rejects events that use it; the message names the code."""
    old = _schema("cases.closed")
    new = _schema("cases.closed")
    new["properties"]["reason"]["enum"].remove("moved")
    assert compare_schemas(old, new) == [
        Change("data.reason", False, 'code list narrowed: "moved" no longer allowed')
    ]


def test_widened_code_list_is_compatible() -> None:
    """Adding a code to an enum accepts everything accepted before."""
    old = _schema("cases.closed")
    new = _schema("cases.closed")
    new["properties"]["reason"]["enum"].append("emigrated")
    assert compare_schemas(old, new) == [
        Change("data.reason", True, 'code list widened: "emigrated" allowed')
    ]


def test_lowered_max_length_is_incompatible_and_raised_compatible() -> None:
    """A lower maxLength rejects long values sent before; a higher one does not."""
    old = _schema("referrals.submitted")
    new = _schema("referrals.submitted")
    new["$defs"]["Address"]["properties"]["street"]["maxLength"] = 100
    assert compare_schemas(old, new) == [
        Change("data.client.address.street", False, "maxLength lowered from 200 to 100")
    ]
    assert compare_schemas(new, old) == [
        Change("data.client.address.street", True, "maxLength raised from 100 to 200")
    ]


def test_a_shared_definition_change_is_named_at_every_path() -> None:
    """A change in a definition used twice is reported at both field paths."""
    old = _schema("referrals.submitted")
    new = _schema("referrals.submitted")
    new["$defs"]["Contact"]["properties"]["name"]["maxLength"] = 100
    assert [change.path for change in compare_schemas(old, new)] == ["data.referrer.contact.name"]
    old = _schema("safety-reports.submitted")
    new = _schema("safety-reports.submitted")
    new["$defs"]["SafetyPerson"]["properties"]["family_name"]["minLength"] = 2
    assert _changes(old, new) == [("data.persons[].person.family_name", False)]


def test_optional_field_added_is_compatible() -> None:
    """A new optional field in a closed object accepts everything accepted before."""
    old = _schema("cases.closed")
    new = _schema("cases.closed")
    new["properties"]["note"] = {"type": "string", "maxLength": 4000}
    assert compare_schemas(old, new) == [Change("data.note", True, "optional field added")]


@pytest.mark.parametrize(
    ("field", "old_rule", "new_rule", "compatible"),
    [
        ("plan_version", {"type": "integer"}, {"type": "number"}, True),
        ("plan_version", {"type": "number"}, {"type": "integer"}, False),
        ("case_id", {"pattern": "^[A-Z]+$"}, {"pattern": "^[A-Z0-9]+$"}, False),
        ("case_id", {"pattern": "^[A-Z]+$"}, {}, True),
        ("case_id", {}, {"format": "uuid"}, False),
        ("goals", {"minItems": 1}, {}, True),
        ("goals", {}, {"minItems": 1}, False),
        ("goals", {"maxItems": 5}, {"maxItems": 4}, False),
        ("goals", {}, {"uniqueItems": True}, False),
        ("plan_version", {"maximum": 10}, {"maximum": 20}, True),
        ("plan_version", {"minimum": 1}, {"minimum": 2}, False),
        ("case_id", {"description": "old"}, {"description": "new"}, True),
        ("case_id", {}, {"not": {"const": "x"}}, False),
    ],
)
def test_keyword_changes_are_classified(
    field: str, old_rule: dict[str, Any], new_rule: dict[str, Any], compatible: bool
) -> None:
    """Widened types and relaxed bounds are compatible; narrowed ones and unclassified changes are not."""
    old = _schema("cases.plan-updated")
    new = _schema("cases.plan-updated")
    for name in ("type", "pattern", "minItems", "maxItems", "maximum", "minimum"):
        old["properties"][field].pop(name, None)
        new["properties"][field].pop(name, None)
    old["properties"][field].update(old_rule)
    new["properties"][field].update(new_rule)
    changes = compare_schemas(old, new)
    assert [change.path for change in changes] == [f"data.{field}"]
    assert changes[0].compatible is compatible


def _published_copy(tmp_path: Path) -> Path:
    write_schemas(tmp_path, FILES)
    return tmp_path / "v1"


def test_check_names_the_field_of_an_incompatible_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A published schema the code narrows fails the check, naming file, field path and change."""
    folder = _published_copy(tmp_path)
    published = _schema("cases.closed")
    published["properties"]["reason"]["enum"].append("emigrated")
    (folder / "cases.closed.json").write_bytes(render_schema(published))
    assert main(["schemas", "check", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        f"CHANGED {folder / 'cases.closed.json'}: INCOMPATIBLE with the published v1 schema",
        '  INCOMPATIBLE data.reason: code list narrowed: "emigrated" no longer allowed',
    ]
    assert lines[2].startswith("FAILED: 1 published schema file(s) changed incompatibly.")


def test_check_fails_a_compatible_change_too_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A compatible difference still fails (exit 1) so it shows in review, saying re-export and commit."""
    folder = _published_copy(tmp_path)
    published = _schema("cases.closed")
    published["properties"]["reason"]["enum"].remove("moved")
    (folder / "cases.closed.json").write_bytes(render_schema(published))
    (folder / "care.started.json").unlink()
    assert main(["schemas", "check", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"MISSING {folder / 'care.started.json'}: a new schema; compatible: re-export and commit",
        f"CHANGED {folder / 'cases.closed.json'}: compatible: re-export and commit",
        '  compatible   data.reason: code list widened: "moved" allowed',
        f"FAILED: the schemas differ from the code, compatibly: run "
        f"`hub schemas export {tmp_path}` and commit the result.",
    ]


def test_check_reports_a_removed_type_and_reformatting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A schema the code no longer exports is incompatible; other bytes of the same schema are not."""
    folder = _published_copy(tmp_path)
    (folder / "gone.json").write_text("{}\n")
    closed = folder / "cases.closed.json"
    closed.write_text(json.dumps(json.loads(closed.read_bytes())))
    assert main(["schemas", "check", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        f"CHANGED {closed}: compatible: re-export and commit",
        "  compatible   same schema, other bytes (formatting)",
        f"EXTRA {folder / 'gone.json'}: the code no longer exports it; INCOMPATIBLE: "
        "removing a published v1 schema breaks its senders",
    ]


def test_check_of_a_missing_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory that does not exist is unusable input: exit 2 and how to create it."""
    missing = tmp_path / "nothing"
    assert main(["schemas", "check", str(missing)]) == 2
    assert capsys.readouterr().out == (
        f"ERROR {missing} is not a directory; run: hub schemas export {missing}\n"
    )


def test_export_command_writes_what_check_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hub schemas export DIR` lists what it wrote; `check DIR` then exits 0."""
    assert main(["schemas", "export", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"wrote {tmp_path / 'v1' / 'assignment-requests.submitted.json'}"
    assert out[-1] == f"37 schema files in {tmp_path} match the code"
    assert main(["schemas", "check", str(tmp_path)]) == 0


# --- docs/messages.md -------------------------------------------------------------------------


def test_messages_md_is_the_generated_reference() -> None:
    """docs/messages.md equals what `hub schemas docs` generates from the models now."""
    assert MESSAGES_MD.read_text(encoding="utf-8") == render_reference()


def test_docs_command_writes_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hub schemas docs PATH` writes the reference to PATH."""
    target = tmp_path / "messages.md"
    assert main(["schemas", "docs", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8") == render_reference()


def test_reference_lists_every_type_role_subject_and_field() -> None:
    """Each type has a section with its sender role, subject and one row per field."""
    text = render_reference()
    for spec in TYPES.values():
        section = text.split(f"\n### {spec.short_name}\n", 1)[1].split("\n### ", 1)[0]
        assert f"- Sender role: `{spec.sender_role}`" in section
        assert f"- Subject: `data.{spec.subject_field}`" in section
        for name in spec.model.model_fields:
            assert f"\n| `{name}` |" in section, (spec.short_name, name)
    assert (
        "| `client.address.postcode` | string | required | A postcode is 4 digits (the first not 0)"
        " and 2 letters, e.g. 8011 AB; pattern `^[1-9][0-9]{3} ?[A-Za-z]{2}$` |"
    ) in text
    assert "| `request.urgency` | string | required | one of `routine`, `soon`, `urgent` |" in text
