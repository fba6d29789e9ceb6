"""The BSN paths compiled per type find every BSN a walk of the whole data tree finds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from hub.privacy.project import bsn_paths, bsns, schema_tree
from hub.schemas import TYPES, validate_with_registry
from hub.testing import EXAMPLES_DIR, demo_registry, load_example


def walk(value: Any) -> Iterator[str]:
    """Every string under a ``bsn`` key anywhere in the data (the reference, not compiled)."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            if key == "bsn" and isinstance(child, str):
                yield child
            else:
                yield from walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child)


@pytest.mark.parametrize(
    "path",
    sorted(EXAMPLES_DIR.glob("*/valid/*.json")),
    ids=lambda p: f"{p.parent.parent.name}/{p.name}",
)
def test_the_compiled_paths_find_every_bsn_of_each_valid_example(path: Any) -> None:
    """For every valid example the compiled paths give the BSNs of a full walk, in order."""
    event = validate_with_registry(load_example(path), demo_registry())
    data = event.canonical_data()
    assert bsns(data, bsn_paths(schema_tree(event.spec.model))) == list(walk(data))


def test_a_type_without_persons_has_no_bsn_paths() -> None:
    """Budgets carry no person: their compiled tree is empty, so nothing is walked."""
    [budgets] = [spec for spec in TYPES.values() if spec.short_name == "budgets.status-reported"]
    assert bsn_paths(schema_tree(budgets.model)).fields == {}
