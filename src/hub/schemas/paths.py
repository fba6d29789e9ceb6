"""Error paths for log lines: only the contract's own names, every other key as ``*``."""

from __future__ import annotations

from functools import cache

from hub.envelope import ATTRIBUTES
from hub.schemas.registry import TYPES

__all__ = ["loggable_path"]


def loggable_path(path: str) -> str:
    """An error path for a log line: every key that is not a name of the contract as ``*``.

    ``hub.schemas.errors.render_path`` shows an unknown field's key to the partner who
    sent it (its developer needs it to find a typo); a log line lasts longer and is read
    by others, so a key such as "esther_van_dalfsen" is not kept there.
    """
    known = _known_names()
    parts = []
    for part in path.split("."):
        key, bracket, rest = part.partition("[")
        shown = key if key in known or key in ("", "*", "headers") else "*"
        parts.append(shown + bracket + rest)
    return ".".join(parts)


@cache
def _known_names() -> frozenset[str]:
    """Every attribute, header and field name of the contract's types.

    Read from the types' JSON Schemas once, at the first use (the catalogue is loaded by
    then: validating an event loads it).
    """
    names: set[str] = set(ATTRIBUTES) | {f"ce_{attribute}" for attribute in ATTRIBUTES}
    names.add("data_base64")  # the CloudEvents attribute the hub refuses by name

    def walk(node: object) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                names.update(properties)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for spec in TYPES.values():
        walk(spec.model.model_json_schema())
    return frozenset(names)
