"""The core names no role, no type, no format and no family word: those are the connectors'.

Every string constant in the core's code (docstrings aside, whose examples may name
them) is compared with every name the catalogue knows: roles, types (full and short),
partner formats (``iwmo``), selectors, conditions, filters and state kinds. A core that named one would need an edit
for every new partner or family.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hub.connectors.discovery import catalogue

SRC = Path(__file__).resolve().parents[2] / "src" / "hub"
CORE = [
    *(SRC / "pipeline.py", SRC / "router.py", SRC / "envelope.py", SRC / "app.py"),
    *(
        path
        for package in ("routing", "privacy", "delivery", "gateway", "inbound", "state", "kafka")
        for path in sorted((SRC / package).rglob("*.py"))
    ),
]


def _names() -> set[str]:
    found = catalogue()
    return {
        *found.roles,
        *(name for role in found.roles.values() for name in role.formats),
        *found.types,
        *(spec.short_name for spec in found.types.values()),
        *found.selectors,
        *found.conditions,
        *found.filters,
        *found.state_kinds,
    }


def _constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_core_names_no_role_type_or_family_word() -> None:
    """No string in the core's code is a role, a type, a selector, a condition, ... or a key kind."""
    names = _names()
    named = [
        f"{path.relative_to(SRC)}:{line}: {value!r}"
        for path in CORE
        for line, value in _constants(path)
        if value in names
        or (value.partition(":")[0] in names and ":" in value)
        or any(f"/{name}/" in value for name in names)  # a path: /iwmo/v1/messages
    ]
    assert len(CORE) > 40
    assert named == []
