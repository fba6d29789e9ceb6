"""The JSON Schema of each view the hub delivers: per recipient role and type (privacy.md).

A view schema is the type's v1 data schema cut down to what the routing/privacy table
lets that recipient role see: only the listed fields, closed like the original, with
``required`` kept for fields that are always delivered and dropped for fields that
depend on a condition (the GP's ``note`` only with content consent), plus the fields the
hub adds (``assignment_number`` on a provider's plan). It is derived from the compiled
table, so it changes when a privacy officer changes the table, and `hub schemas check`
shows that change in review like any other contract change.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import PurePosixPath
from typing import Any

from hub.connectors.registry import load_registry
from hub.privacy.policy import PrivacyPolicy, Route, load_policy
from hub.privacy.project import LEAF, ListNode, Node, ObjectNode
from hub.schemas import TYPES
from hub.schemas.export import (
    SCHEMA_BASE_URL,
    data_schema,
    exported_files,
    render_schema,
    schema_id,
)

__all__ = ["VIEWS_DIR", "published_files", "view_file", "view_schema_url", "view_schemas"]

VIEWS_DIR = "views"


def view_file(role: str, event_type: str) -> PurePosixPath:
    """Where a view's schema is published: ``v1/views/<role>/<short type>.json``."""
    spec = TYPES[event_type]
    version = event_type.rsplit(".", 1)[-1]
    return PurePosixPath(version, VIEWS_DIR, role, f"{spec.short_name}.json")


@cache
def view_schema_url(role: str, event_type: str, base_url: str = SCHEMA_BASE_URL) -> str:
    """The URL a delivery's ``dataschema`` names: ``base_url`` plus the view's file path.

    With the default base it is the published view schema's ``$id``. Cached: it is looked
    up once per delivery, and there are only roles x types of them.
    """
    return f"{base_url}{view_file(role, event_type)}"


def view_schemas(policy: PrivacyPolicy) -> dict[PurePosixPath, dict[str, Any]]:
    """Every view the table defines, by file path; rows for the same role and type are merged.

    A row's roles are resolved when the table is compiled (``Route.roles``).
    """
    grouped: dict[tuple[str, str], list[Route]] = {}
    for route in policy.routes:
        for role in route.roles:
            grouped.setdefault((role, route.type), []).append(route)
    views = {}
    for (role, event_type), routes in sorted(grouped.items()):
        path = view_file(role, event_type)
        views[path] = _view(role, event_type, routes, path)
    return views


def published_files() -> dict[PurePosixPath, bytes]:
    """Every file of the published contract by path, sorted: what ``hub schemas export`` writes.

    The type and envelope schemas, and the views each recipient role gets under the default
    routing/privacy table (privacy.md: "The hub publishes ... the JSON Schema of the view it
    delivers"). Assembled here, not in ``hub.schemas.export``: the views are built from the
    schemas, so privacy imports schemas and never the other way round.
    """
    files = exported_files()
    registry = load_registry()
    for path, schema in view_schemas(load_policy(registry=registry)).items():
        files[path] = render_schema(schema)
    return dict(sorted(files.items()))


def _view(role: str, event_type: str, routes: list[Route], path: PurePosixPath) -> dict[str, Any]:
    base = data_schema(TYPES[event_type])
    defs: Mapping[str, Any] = base.pop("$defs", {})
    always = _union([r.projection.tree for r in routes])
    sometimes = _union([p.tree for r in routes for _, p in r.conditional] + [always])
    schema = _project(base, sometimes, always, defs)
    for route in routes:
        item_schema = route.selector.item_schema if route.selector is not None else None
        for added in route.added:
            # The selector's description of its item's id (the compiler allows no other).
            schema["properties"][added] = dict(item_schema or {})
            schema.setdefault("required", []).append(added)
    schema["required"] = sorted(set(schema.get("required", [])))
    used = dict(_used_defs(schema, defs))
    if used:
        schema["$defs"] = used
    schema["title"] = f"{event_type} as delivered to {role}"
    schema["description"] = (
        f"The view of `{event_type}` the hub delivers to a `{role}` partner: only "
        "the fields the routing/privacy table lets it see."
    )
    schema["$id"] = schema_id(path)
    return schema


def _union(trees: list[ObjectNode]) -> ObjectNode:
    fields: dict[str, Node] = {}
    for tree in trees:
        for name, node in tree.fields.items():
            known = fields.get(name)
            if known is None or node is LEAF or known is LEAF:
                fields[name] = LEAF if LEAF in (node, known) else node
            elif isinstance(known, ListNode) and isinstance(node, ListNode):
                fields[name] = ListNode(_union([known.item, node.item]))
            elif isinstance(known, ObjectNode) and isinstance(node, ObjectNode):
                fields[name] = _union([known, node])
    return ObjectNode(fields)


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(defs[ref.removeprefix("#/$defs/")], defs)
    return schema


def _project(
    schema: Mapping[str, Any], node: ObjectNode, always: ObjectNode | None, defs: Mapping[str, Any]
) -> dict[str, Any]:
    """An object schema cut to ``node``'s fields; required only where ``always`` has the field."""
    source = _resolve(schema, defs)
    if "anyOf" in source and "properties" not in source:  # alternative objects: cut each
        return {"anyOf": [_project(alt, node, always, defs) for alt in source["anyOf"]]}
    properties: dict[str, Any] = {}
    for name, child in node.fields.items():
        if name not in source.get("properties", {}):
            continue
        prop = source["properties"][name]
        child_always = always.fields.get(name) if always is not None else None
        if child is LEAF:
            properties[name] = copy.deepcopy(prop)
        elif isinstance(child, ObjectNode):
            properties[name] = _project(
                prop, child, child_always if isinstance(child_always, ObjectNode) else None, defs
            )
        elif isinstance(child, ListNode):
            items = _resolve(prop, defs).get("items", {})
            item_always = child_always.item if isinstance(child_always, ListNode) else None
            properties[name] = {
                **{k: v for k, v in _resolve(prop, defs).items() if k != "items"},
                "items": _project(items, child.item, item_always, defs),
            }
    kept = {k: v for k, v in source.items() if k not in ("properties", "required", "$ref", "title")}
    kept["properties"] = properties
    if "anyOf" in source:  # shapes of one object (a Scope): keep them, over the kept fields
        kept["anyOf"] = [_within(shape, properties) for shape in source["anyOf"]]
    required = [
        name
        for name in source.get("required", [])
        if name in properties and always is not None and name in always.fields
    ]
    if required:
        kept["required"] = required
    kept["additionalProperties"] = False
    return kept


def _within(shape: Mapping[str, Any], kept: Mapping[str, Any]) -> dict[str, Any]:
    """One shape of an object, restricted to the properties the view keeps."""
    out = {k: v for k, v in shape.items() if k not in ("properties", "required")}
    if "properties" in shape:
        out["properties"] = {k: v for k, v in shape["properties"].items() if k in kept}
    if "required" in shape:
        out["required"] = [name for name in shape["required"] if name in kept]
    return out


def _used_defs(schema: Any, defs: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The definitions a (projected) schema still refers to, transitively, sorted by name."""
    seen: set[str] = set()
    pending = list(_refs(schema))
    while pending:
        name = pending.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        pending.extend(_refs(defs[name]))
    for name in sorted(seen):
        yield name, defs[name]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            yield ref.removeprefix("#/$defs/")
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
