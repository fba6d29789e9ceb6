"""Classify the changes between a published JSON Schema and a new one as BACKWARD compatible or not.

BACKWARD, as in a schema registry: the new schema accepts every document the published one
accepted, so no partner coding against the published schema is broken. For the contract's
closed objects that means:

- compatible: a new optional field; a field that becomes optional; a widened type
  (integer -> number) or code list; a lower minimum or higher maximum (length, items,
  value); a removed pattern, format, bound or ``uniqueItems``; an open object; any change of
  an annotation (title, description, examples, default);
- incompatible: a removed (or renamed) field; a new required field, or a field that becomes
  required; a narrowed type or code list; a higher minimum or lower maximum; a new or changed
  pattern or format (whether the new one accepts all the old one did is not decided, so any
  change counts as a narrowing); a new ``uniqueItems``; a closed object; a changed ``$id``
  or ``$schema``; a change to any other keyword (not classified, so not proven compatible).

``$ref`` is followed in each document, so moving a definition is not a change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

__all__ = ["Change", "compare_schemas", "is_backward_compatible"]

# Keywords that describe but do not constrain (JSON Schema 2020-12, meta-data vocabulary).
_ANNOTATIONS: Final = frozenset(
    {"title", "description", "examples", "default", "$comment", "deprecated", "readOnly"}
    | {"writeOnly"}
)
_LOWER_BOUNDS: Final = (
    "minLength",
    "minItems",
    "minProperties",
    "minimum",
    "exclusiveMinimum",
)
_UPPER_BOUNDS: Final = (
    "maxLength",
    "maxItems",
    "maxProperties",
    "maximum",
    "exclusiveMaximum",
)
_ASSERTED_TEXT: Final = ("pattern", "format")
_IDENTITY: Final = ("$id", "$schema")
# Handled by name below; every other keyword falls to the conservative default.
_HANDLED: Final = frozenset(
    {"type", "enum", "const", "properties", "required", "additionalProperties", "items"}
    | {"propertyNames", "uniqueItems", "$ref", "$defs"}
    | set(_LOWER_BOUNDS)
    | set(_UPPER_BOUNDS)
    | set(_ASSERTED_TEXT)
    | set(_IDENTITY)
    | _ANNOTATIONS
)


class Change(NamedTuple):
    """One difference between two schemas: where (a field path), whether compatible, what."""

    path: str
    compatible: bool
    message: str


def is_backward_compatible(changes: list[Change]) -> bool:
    """Whether every change keeps the schema BACKWARD compatible."""
    return all(change.compatible for change in changes)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _allowed_values(node: Mapping[str, Any]) -> list[Any] | None:
    """The values ``enum``/``const`` allow, or None when any value of the type is allowed."""
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _types(node: Mapping[str, Any]) -> set[str] | None:
    kind = node.get("type")
    if kind is None:
        return None
    kinds = {kind} if isinstance(kind, str) else set(kind)
    if "number" in kinds:
        kinds.add("integer")  # every integer is a number
    return kinds


def _refers(node: Any) -> bool:
    """Whether a schema holds a ``$ref`` anywhere."""
    if isinstance(node, Mapping):
        return "$ref" in node or any(_refers(value) for value in node.values())
    if isinstance(node, list):
        return any(_refers(item) for item in node)
    return False


class _Comparison:
    """One comparison of two schema documents; resolves local ``$ref`` in each."""

    def __init__(self, old_document: Mapping[str, Any], new_document: Mapping[str, Any]) -> None:
        self.old_document = old_document
        self.new_document = new_document
        self.changes: list[Change] = []
        self._active: set[tuple[str | None, str | None]] = set()

    def _note(self, path: str, compatible: bool, message: str) -> None:
        self.changes.append(Change(path, compatible, message))

    @staticmethod
    def _resolve(document: Mapping[str, Any], node: Any) -> tuple[Any, str | None]:
        """Follow local ``$ref``s (``#/...``), keeping keywords beside them; also the last ref."""
        seen: list[str] = []
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref: str = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                break
            seen.append(ref)
            target: Any = document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            node = {**target, **siblings}
        return node, (seen[-1] if seen else None)

    def compare(self, old: Any, new: Any, path: str) -> None:
        """Record every change from ``old`` to ``new`` at ``path`` (schemas or booleans)."""
        old, old_ref = self._resolve(self.old_document, old)
        new, new_ref = self._resolve(self.new_document, new)
        if old == new and not _refers(old):  # equal refs may point at different definitions
            return
        if isinstance(old, bool) or isinstance(new, bool):
            self._compare_booleans(old, new, path)
            return
        # Only a $ref can make a schema recursive; a pair of refs seen again is in progress.
        key = (old_ref, new_ref)
        if key != (None, None) and key in self._active:
            return
        self._active.add(key)
        try:
            self._compare_keywords(old, new, path)
        finally:
            self._active.discard(key)

    def _compare_booleans(self, old: Any, new: Any, path: str) -> None:
        if new is True or old is False:
            self._note(path, True, "now accepts any value")
        elif new is False:
            self._note(path, False, "no longer accepts any value")
        else:  # old True, new a schema
            self._note(path, False, "now constrained where any value was accepted")

    def _compare_keywords(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        self._compare_identity(old, new, path)
        self._compare_type(old, new, path)
        self._compare_values(old, new, path)
        self._compare_bounds(old, new, path)
        self._compare_text_rules(old, new, path)
        self._compare_object(old, new, path)
        self._compare_array(old, new, path)
        for keyword in sorted(_ANNOTATIONS):
            if old.get(keyword) != new.get(keyword):
                self._note(path, True, f"{keyword} changed (annotation)")
        for keyword in sorted((set(old) | set(new)) - _HANDLED):
            if old.get(keyword) != new.get(keyword):
                self._note(
                    path,
                    False,
                    f"keyword {keyword} changed; its effect is not classified, "
                    "so it counts as incompatible",
                )

    def _compare_identity(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        for keyword in _IDENTITY:
            if old.get(keyword) != new.get(keyword):
                self._note(path, False, f"{keyword} changed: the schema is another schema now")

    def _compare_type(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_types, new_types = _types(old), _types(new)
        if old_types == new_types or new_types is None:
            if old_types != new_types:
                self._note(path, True, "type widened to any type")
            return
        if old_types is None or not old_types <= new_types:
            self._note(
                path, False, f"type narrowed from {_show(old.get('type'))} to {_show(new['type'])}"
            )
        else:
            self._note(
                path, True, f"type widened from {_show(old['type'])} to {_show(new['type'])}"
            )

    def _compare_values(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_values, new_values = _allowed_values(old), _allowed_values(new)
        if old_values is None and new_values is None:
            return
        if new_values is None:
            self._note(path, True, "code list removed: any value of the type is accepted")
            return
        if old_values is None:
            self._note(path, False, "code list added: other values are rejected now")
            return
        kept = {_show(value) for value in new_values}
        removed = [_show(value) for value in old_values if _show(value) not in kept]
        before = {_show(value) for value in old_values}
        added = [_show(value) for value in new_values if _show(value) not in before]
        if removed:
            self._note(path, False, f"code list narrowed: {', '.join(removed)} no longer allowed")
        if added:
            self._note(path, True, f"code list widened: {', '.join(added)} allowed")

    def _compare_bounds(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        for keyword in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
            before, after = old.get(keyword), new.get(keyword)
            if before == after:
                continue
            lower = keyword in _LOWER_BOUNDS
            if after is None:
                self._note(path, True, f"{keyword} {_show(before)} removed")
            elif before is None:
                self._note(path, False, f"{keyword} {_show(after)} added")
            elif (after > before) == lower:
                verb = "raised" if lower else "lowered"
                self._note(path, False, f"{keyword} {verb} from {before} to {after}")
            else:
                verb = "lowered" if lower else "raised"
                self._note(path, True, f"{keyword} {verb} from {before} to {after}")

    def _compare_text_rules(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> None:
        for keyword in (*_ASSERTED_TEXT, "uniqueItems"):
            before, after = old.get(keyword, False), new.get(keyword, False)
            if before == after:
                continue
            if after is False:
                self._note(path, True, f"{keyword} removed")
            elif before is False:
                self._note(path, False, f"{keyword} {_show(after)} added")
            else:
                self._note(
                    path,
                    False,
                    f"{keyword} changed from {_show(before)} to {_show(after)}; "
                    "values the old one accepted may be rejected",
                )

    def _compare_object(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_properties: Mapping[str, Any] = old.get("properties", {})
        new_properties: Mapping[str, Any] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        old_rest = old.get("additionalProperties", True)
        new_rest = new.get("additionalProperties", True)
        for name in sorted(set(old_properties) | set(new_properties)):
            where = _child(path, name)
            if name in old_properties and name in new_properties:
                self.compare(old_properties[name], new_properties[name], where)
            elif name in old_properties:
                if new_rest is False:
                    self._note(
                        where, False, "field removed (or renamed): events that send it fail now"
                    )
                else:
                    self.compare(old_properties[name], new_rest, where)
            elif name in new_required:
                self._note(where, False, "new required field")
            elif old_rest is False:
                self._note(where, True, "optional field added")
            else:
                self.compare(old_rest, new_properties[name], where)
        for name in sorted(new_required - old_required):
            if name in old_properties:
                self._note(_child(path, name), False, "field is required now")
            elif name not in new_properties:
                self._note(_child(path, name), False, "new required field")
        for name in sorted(old_required - new_required):
            if name in new_properties:  # a removed field is reported as removed, above
                self._note(_child(path, name), True, "field is optional now")
        self.compare(old_rest, new_rest, _child(path, "*"))
        self.compare(
            old.get("propertyNames", True), new.get("propertyNames", True), _child(path, "(keys)")
        )

    def _compare_array(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        self.compare(old.get("items", True), new.get("items", True), f"{path}[]")


def compare_schemas(
    old: Mapping[str, Any], new: Mapping[str, Any], *, root: str = "data"
) -> list[Change]:
    """Every change from the published schema ``old`` to ``new``, each marked compatible or not.

    Paths start at ``root`` (``data`` for a type's schema, empty for the envelope) and name
    fields like error paths do: ``data.client.address.postcode``, list items as ``[]``,
    other keys of an object as ``*``.
    """
    comparison = _Comparison(old, new)
    comparison.compare(old, new, root)
    return comparison.changes
