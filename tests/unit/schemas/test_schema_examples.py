"""The example messages: every valid one validates, every invalid one fails exactly as labelled."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stdnum.nl import bsn as stdnum_bsn

from hub.errors import InvalidEvent
from hub.schemas import TYPES, validate_event, validate_with_registry
from hub.testing import (
    EXAMPLES_DIR,
    demo_registry,
    examples_for,
    invalid_examples,
    load_example,
    scenario,
    sender_of,
    valid_example,
)

VALID_FILES = sorted(EXAMPLES_DIR.glob("*/valid/*.json"))
INVALID = list(invalid_examples())


def _name(path: Path) -> str:
    return str(path.relative_to(EXAMPLES_DIR))


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _leaves(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)
    else:
        yield key, value


@pytest.mark.parametrize("path", VALID_FILES, ids=_name)
def test_valid_example_validates_as_sent_by_its_partner(path: Path) -> None:
    """A valid example passes validation with its registered partner as the sender."""
    raw = load_example(path)
    event = validate_event(raw, sender=sender_of(raw))
    assert event.id == raw["id"]
    assert event.spec.short_name == path.parent.parent.name


@pytest.mark.parametrize("example", INVALID, ids=lambda e: _name(e.file))
def test_invalid_example_fails_with_exactly_its_labelled_error(example: Any) -> None:
    """An invalid example fails with one error: the code and path its label names."""
    raw = load_example(example.file)
    with pytest.raises(InvalidEvent) as caught:
        validate_with_registry(raw, demo_registry())
    assert [(e.path, e.code) for e in caught.value.errors] == [(example.path, example.code)]


def test_every_type_has_valid_and_several_invalid_examples() -> None:
    """Each of the 16 types has at least one valid and at least three invalid examples."""
    valid = Counter(path.parent.parent.name for path in VALID_FILES)
    invalid = Counter(example.file.parent.parent.name for example in INVALID)
    for spec in TYPES.values():
        assert valid[spec.short_name] >= 1, spec.short_name
        assert invalid[spec.short_name] >= 3, spec.short_name


def test_every_invalid_file_is_labelled_and_every_label_has_a_file() -> None:
    """invalid.yaml and the invalid/ folders name the same files."""
    on_disk = {_name(path) for path in EXAMPLES_DIR.glob("*/invalid/*.json")}
    labelled = {_name(example.file) for example in INVALID}
    assert on_disk == labelled


def test_scenario_lists_every_valid_example_once_in_time_order() -> None:
    """scenario.yaml holds each valid file exactly once, ordered by the events' time."""
    events = scenario()
    assert sorted(json.dumps(e, sort_keys=True) for e in events) == sorted(
        json.dumps(load_example(path), sort_keys=True) for path in VALID_FILES
    )
    times = [validate_event(e, sender=None).time for e in events]
    assert times == sorted(times)


def test_valid_examples_have_unique_source_and_id() -> None:
    """No two valid examples share (source, id), so feeding them all is not a duplicate."""
    keys = [(e["source"], e["id"]) for e in scenario()]
    assert len(keys) == len(set(keys))


def test_examples_use_only_test_range_bsns_that_pass_stdnum() -> None:
    """Every BSN in an example is in 999900006-999999990 and valid per python-stdnum."""
    bsns = {
        value
        for path in VALID_FILES
        for key, value in _leaves(load_example(path)["data"])
        if key == "bsn"
    }
    assert len(bsns) >= 8
    for value in bsns:
        assert 999900006 <= int(value) <= 999999990
        assert stdnum_bsn.is_valid(value)


def test_examples_for_and_valid_example_follow_the_scenario() -> None:
    """examples_for() lists a type's valid examples; valid_example() is the first in the scenario."""
    issued = examples_for("assignments.issued")
    assert [e["data"]["status"] for e in issued] == [
        "new",
        "new",
        "new",
        "withdrawn",
        "new",
        "changed",
    ]
    assert valid_example("nl.sociaaldomein.assignments.issued.v1") == issued[0]
    assert issued[0]["data"]["assignment_number"] == "25000107"


def test_scenario_chains_identifiers_from_event_to_event() -> None:
    """Later events name referrals, requests, cases and assignments that earlier events created."""
    seen: dict[str, set[str]] = {
        "referral": set(),
        "request": set(),
        "case": set(),
        "assignment": set(),
        "report": set(),
    }
    for raw in scenario():
        short = TYPES[raw["type"]].short_name
        data = raw["data"]
        if short == "referrals.submitted":
            seen["referral"].add(data["referral_id"])
        elif short == "referrals.status-changed":
            assert data["referral_id"] in seen["referral"]
        elif short == "cases.opened":
            seen["case"].add(data["case_id"])
        elif short in ("cases.plan-updated", "cases.closed", "provisions.requested"):
            assert data["case_id"] in seen["case"]
            if short == "provisions.requested":
                seen["request"].add(data["request_id"])
        elif short == "provisions.decided":
            assert data["request_id"] in seen["request"]
        elif short == "assignments.issued":
            if data["status"] == "new":
                seen["assignment"].add(data["assignment_number"])
            else:
                assert data["assignment_number"] in seen["assignment"]
            if "case_id" in data:
                assert data["case_id"] in seen["case"]
        elif short in ("care.started", "care.stopped", "outcomes.reported"):
            assert data["assignment_number"] in seen["assignment"]
        elif short == "safety-reports.submitted":
            seen["report"].add(data["report_id"])
        elif short == "safety-reports.feedback":
            assert data["report_id"] in seen["report"]
    assert all(seen.values())
