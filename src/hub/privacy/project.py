"""Projection of event data onto the fields one recipient may receive: deny by default.

A field path names a place in ``data``: ``referral_id``, ``team.contact.phone``,
``goals[].goal_id`` (``[]`` walks into every item of a list). Paths are checked
against the type's v1 pydantic model and compiled once, at start-up, into a tree of
the *leaves* they cover: naming an object (``team``) means every v1 leaf below it, so
a field that a later version adds below it reaches nobody until a row names it.

``project()`` walks the data once along that tree. Anything not in the tree is left
out (absent, not null), and both what was disclosed and what was withheld are
reported as generic paths (no list indices), for the disclosure log.
"""

from __future__ import annotations

import collections.abc as abc
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeAlias, TypeGuard, cast

from pydantic import BaseModel

from hub.connectors.family import ItemPredicate

__all__ = [
    "LEAF",
    "ItemPredicate",
    "Leaf",
    "ListNode",
    "Node",
    "ObjectNode",
    "Projected",
    "Projection",
    "UnknownPath",
    "bsn_paths",
    "bsns",
    "compile_projection",
    "leaf_paths",
    "project",
    "schema_tree",
]


class Leaf:
    """A value delivered whole: a scalar, a list of scalars, or an opaque mapping."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LEAF"


LEAF = Leaf()


@dataclass(frozen=True, slots=True)
class ObjectNode:
    """An object: only the named keys survive, each projected by its own node."""

    fields: Mapping[str, Node]
    # Derived once (a node's fields never change), for the walk every event makes.
    _leaves: frozenset[str] = field(init=False, compare=False, repr=False)
    _shapes: dict[str, _Shape] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        leaves = frozenset(key for key, child in self.fields.items() if isinstance(child, Leaf))
        object.__setattr__(self, "_leaves", leaves)

    def shape_at(self, prefix: str) -> _Shape:
        """This object's keys, leaves and children, with their paths when it sits at ``prefix`` (cached)."""
        shape = self._shapes.get(prefix)
        if shape is None:
            names = {key: f"{prefix}.{key}" if prefix else key for key in self.fields}
            branches: dict[str, tuple[bool, _Shape]] = {}
            for key, child in self.fields.items():
                if isinstance(child, ObjectNode):
                    branches[key] = (False, child.shape_at(names[key]))
                elif isinstance(child, ListNode):
                    branches[key] = (True, child.item.shape_at(f"{names[key]}[]"))
            shape = _Shape(frozenset(self.fields), self._leaves, names, branches)
            self._shapes[prefix] = shape
        return shape


class _Shape(NamedTuple):
    """What the kept-whole check needs of one object at one place in the data, compiled once."""

    keys: frozenset[str]
    leaves: frozenset[str]
    names: dict[str, str]  # key -> generic path
    branches: dict[str, tuple[bool, _Shape]]  # key -> (a list?, the shape of the object or item)


@dataclass(frozen=True, slots=True)
class ListNode:
    """A list of objects: every item is projected by ``item``."""

    item: ObjectNode


Node: TypeAlias = Leaf | ObjectNode | ListNode


class UnknownPath(ValueError):
    """A field path that the type's v1 schema does not have (or misuses ``[]``)."""


_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\[\])?$")


# --------------------------------------------------------------------------- schema


def schema_tree(model: type[BaseModel]) -> ObjectNode:
    """The tree of every field of a pydantic model, keyed by the names used on the wire."""
    return _model_node(model, ())


def _model_node(model: type[BaseModel], seen: tuple[type[BaseModel], ...]) -> ObjectNode:
    if model in seen:  # a recursive model: stop, the nested value is delivered whole
        return ObjectNode({})
    children: dict[str, Node] = {}
    for name, info in model.model_fields.items():
        wire = info.alias or name
        children[wire] = _annotation_node(info.annotation, (*seen, model))
    return ObjectNode(children)


def _annotation_node(annotation: Any, seen: tuple[type[BaseModel], ...]) -> Node:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _annotation_node(typing.get_args(annotation)[0], seen)
    if origin is typing.Union or origin is types.UnionType:
        nodes = [
            _annotation_node(arg, seen)
            for arg in typing.get_args(annotation)
            if arg is not type(None)
        ]
        return _merge_alternatives(nodes)
    if origin in (list, tuple, set, frozenset) or _is_sequence_origin(origin):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        item = _annotation_node(args[0], seen) if args else LEAF
        if isinstance(item, ObjectNode):
            return ListNode(item)
        return LEAF  # lists of scalars (codes, names) are delivered whole
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_node(annotation, seen)
    return LEAF


def _is_sequence_origin(origin: Any) -> bool:
    return origin in (abc.Sequence, abc.MutableSequence, abc.Set, abc.MutableSet)


def _merge_alternatives(nodes: list[Node]) -> Node:
    # A union of object types (e.g. Scope: volume or budget) is the union of their fields;
    # a union that mixes objects and scalars is delivered whole only if it has no object.
    objects = [n for n in nodes if isinstance(n, ObjectNode)]
    lists = [n for n in nodes if isinstance(n, ListNode)]
    if objects and not lists:
        return _merge_many(objects)
    if lists and not objects:
        return ListNode(_merge_many([n.item for n in lists]))
    return LEAF


def _merge_many(nodes: Iterable[ObjectNode]) -> ObjectNode:
    merged = ObjectNode({})
    for node in nodes:
        merged = _merge(merged, node)
    return merged


def _merge(a: ObjectNode, b: ObjectNode) -> ObjectNode:
    children = dict(a.fields)
    for key, node in b.fields.items():
        children[key] = _merge_node(children[key], node) if key in children else node
    return ObjectNode(children)


def _merge_node(a: Node, b: Node) -> Node:
    if isinstance(a, ObjectNode) and isinstance(b, ObjectNode):
        return _merge(a, b)
    if isinstance(a, ListNode) and isinstance(b, ListNode):
        return ListNode(_merge(a.item, b.item))
    return a if isinstance(a, Leaf) else b


def leaf_paths(node: Node, prefix: str = "") -> list[str]:
    """Every leaf path below a node, sorted (``goals[].goal_id`` style)."""
    out: list[str] = []
    _collect_leaves(node, prefix, out)
    return sorted(out)


def _collect_leaves(node: Node, path: str, out: list[str]) -> None:
    if isinstance(node, Leaf):
        out.append(path)
    elif isinstance(node, ListNode):
        _collect_leaves(node.item, f"{path}[]", out)
    else:
        for key, child in node.fields.items():
            _collect_leaves(child, f"{path}.{key}" if path else key, out)


# --------------------------------------------------------------------------- compiling


def _select(schema: ObjectNode, path: str) -> ObjectNode:
    """The part of ``schema`` that one path names, as a tree rooted at the data object."""
    segments = path.split(".")
    parsed: list[tuple[str, bool]] = []
    for segment in segments:
        match = _SEGMENT.match(segment)
        if match is None:
            raise UnknownPath(f"{path!r} is not a field path (names joined by '.', lists '[]')")
        parsed.append((match.group(1), match.group(2) is not None))
    return _select_from(schema, parsed, path)


def _select_from(node: ObjectNode, parsed: list[tuple[str, bool]], path: str) -> ObjectNode:
    (name, is_list), rest = parsed[0], parsed[1:]
    child = node.fields.get(name)
    if child is None:
        raise UnknownPath(f"{path!r}: the v1 schema has no field {name!r} here")
    if is_list and not isinstance(child, ListNode):
        raise UnknownPath(f"{path!r}: {name!r} is not a list of objects")
    if not rest:
        return ObjectNode({name: child})
    if isinstance(child, ListNode):
        if not is_list:
            raise UnknownPath(f"{path!r}: {name!r} is a list; write {name}[] to walk its items")
        return ObjectNode({name: ListNode(_select_from(child.item, rest, path))})
    if isinstance(child, ObjectNode):
        return ObjectNode({name: _select_from(child, rest, path)})
    raise UnknownPath(f"{path!r}: {name!r} has no fields below it")


def _subtract(tree: ObjectNode, remove: ObjectNode) -> ObjectNode:
    children: dict[str, Node] = {}
    for key, node in tree.fields.items():
        gone = remove.fields.get(key)
        if gone is None:
            children[key] = node
            continue
        if isinstance(node, ObjectNode) and isinstance(gone, ObjectNode) and gone.fields:
            rest = _subtract(node, gone)
            if rest.fields:
                children[key] = rest
        elif isinstance(node, ListNode) and isinstance(gone, ListNode) and gone.item.fields:
            rest = _subtract(node.item, gone.item)
            if rest.fields:
                children[key] = ListNode(rest)
        # else: the whole subtree is removed
    return ObjectNode(children)


@dataclass(frozen=True, slots=True)
class Projection:
    """A compiled set of field paths for one type: what to keep, checked against v1."""

    tree: ObjectNode
    schema: ObjectNode
    paths: tuple[str, ...] = field(default=())

    def union(self, other: Projection) -> Projection:
        """The projection that keeps what either keeps."""
        tree = _merge(self.tree, other.tree)
        return Projection(tree, self.schema, tuple(leaf_paths(tree)))

    def is_empty(self) -> bool:
        """True when nothing at all would be delivered."""
        return not self.tree.fields


def compile_projection(
    model: type[BaseModel] | ObjectNode,
    fields: Iterable[str] | None,
    *,
    exclude: Iterable[str] = (),
) -> Projection:
    """Compile field paths (``None`` meaning "all of v1") minus ``exclude`` into a Projection.

    Raises UnknownPath naming the first path the v1 schema does not have.
    """
    schema = model if isinstance(model, ObjectNode) else schema_tree(model)
    if fields is None:
        tree = schema
    else:
        tree = ObjectNode({})
        for path in fields:
            tree = _merge(tree, _select(schema, path))
    for path in exclude:
        tree = _subtract(tree, _select(schema, path))
    return Projection(tree, schema, tuple(leaf_paths(tree)))


# --------------------------------------------------------------------------- projecting


class Projected(NamedTuple):
    """The payload for one recipient, and which generic paths it disclosed and withheld."""

    payload: dict[str, Any]
    disclosed: tuple[str, ...]
    withheld: tuple[str, ...]


_ABSENT: Any = object()


def project(
    data: Mapping[str, Any],
    fields: Projection,
    item_filters: Mapping[str, ItemPredicate] | None = None,
) -> Projected:
    """Keep only the compiled fields of ``data``; removed fields are absent, never null.

    ``item_filters`` maps a list's path (``goals``) to a predicate; items it rejects are
    withheld whole. A list that had items and loses all of them, and an object left with
    no fields, are absent. A path appears in ``disclosed`` when at least one value at it
    was delivered and in ``withheld`` when at least one was not (so a list filtered in
    part appears in both).

    Nothing is copied: leaf values (a list of codes, an opaque mapping) and an object the
    projection keeps whole are the data's own objects (on a replay, the held plan's), so
    neither the payload nor the data may be changed afterwards; nothing in the hub does.
    """
    if fields.tree is fields.schema and not item_filters:
        # All of v1 (the most common row): the walk below would deliver the data itself.
        paths: list[str] = []
        if _conforms(data, fields.tree.shape_at(""), paths):
            return Projected(cast(dict[str, Any], data), tuple(sorted(set(paths))), ())
    disclosed: set[str] = set()
    withheld: set[str] = set()
    walker = _Walker(item_filters or {}, disclosed, withheld)
    payload = walker.object(data, fields.tree, fields.schema, "")
    return Projected(
        payload if payload is not _ABSENT else {}, tuple(sorted(disclosed)), tuple(sorted(withheld))
    )


@dataclass(slots=True)
class _Walker:
    filters: Mapping[str, ItemPredicate]
    disclosed: set[str]
    withheld: set[str]

    def object(
        self, data: Mapping[str, Any], keep: ObjectNode, schema: Node | None, prefix: str
    ) -> Any:
        if keep is schema and not self.filters:
            # Kept whole (the row names this object, or all of v1): the data's own object
            # is delivered, unless part of it is not the shape v1 promised.
            paths: list[str] = []
            if _conforms(data, keep.shape_at(prefix), paths):
                self.disclosed.update(paths)
                return data
        schema_fields = schema.fields if isinstance(schema, ObjectNode) else {}
        out: dict[str, Any] = {}
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else key
            node = keep.fields.get(key)
            if node is None:
                self.withhold(value, schema_fields.get(key), path)
                continue
            projected = self.node(value, node, schema_fields.get(key), path)
            if projected is not _ABSENT:
                out[key] = projected
        return out if out or not data else _ABSENT

    def node(self, value: Any, keep: Node, schema: Node | None, path: str) -> Any:
        if isinstance(keep, Leaf):
            self.disclosed.add(path)
            # Shared, not copied: the data is built fresh per event and nothing mutates it.
            return value
        if isinstance(keep, ObjectNode):
            if not isinstance(value, Mapping):
                self.withhold(value, schema, path)  # not the shape v1 promised: deny
                return _ABSENT
            return self.object(value, keep, schema, path)
        if not isinstance(value, list):
            self.withhold(value, schema, path)
            return _ABSENT
        item_schema = schema.item if isinstance(schema, ListNode) else None
        keep_item = self.filters.get(path)
        items: list[Any] = []
        for item in value:
            if not isinstance(item, Mapping) or (keep_item is not None and not keep_item(item)):
                self.withhold(item, item_schema, f"{path}[]")
                continue
            projected = self.object(item, keep.item, item_schema, f"{path}[]")
            if projected is not _ABSENT:
                items.append(projected)
        return items if items or not value else _ABSENT

    def withhold(self, value: Any, schema: Node | None, path: str) -> None:
        # Withheld paths come from the schema, never from the data: a mapping delivered
        # whole (indicators: name -> number) is one path, its keys are not walked.
        if isinstance(schema, ObjectNode) and isinstance(value, Mapping):
            for key, child in value.items():
                self.withhold(child, schema.fields.get(key), f"{path}.{key}")
        elif isinstance(schema, ListNode) and isinstance(value, list):
            for item in value:
                self.withhold(item, schema.item, f"{path}[]")
        else:
            self.withheld.add(path)


def _conforms(data: Mapping[str, Any], shape: _Shape, paths: list[str]) -> bool:
    """True when the data has only v1's keys and shapes below ``shape``; collects its leaf paths.

    Then projecting it onto all of the object gives the data itself, disclosing exactly
    these paths and withholding nothing.
    """
    # Runs over every delivered object of every event: set operations on the keys, and the
    # paths and children compiled once per place in the schema (``ObjectNode.shape_at``).
    keys = data.keys()
    if not keys <= shape.keys:
        return False
    names = shape.names
    if keys <= shape.leaves:
        paths.extend(map(names.__getitem__, data))
        return True
    leaves, branches = shape.leaves, shape.branches
    for key, value in data.items():
        if key in leaves:
            paths.append(names[key])
            continue
        is_list, child = branches[key]
        # _is_mapping written out: a call per object costs more than the test.
        if not is_list:
            if not (type(value) is dict or isinstance(value, Mapping)):
                return False
            if not _conforms(value, child, paths):
                return False
        elif not isinstance(value, list):
            return False
        else:
            for entry in value:
                if not (type(entry) is dict or isinstance(entry, Mapping)):
                    return False
                if not _conforms(entry, child, paths):
                    return False
    return True


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)


# --------------------------------------------------------------------------- BSNs


def bsn_paths(schema: ObjectNode) -> ObjectNode:
    """The part of a type's schema that leads to its ``bsn`` fields, compiled once per type.

    ``bsns`` walks only this tree, not the whole of an event's data.
    """
    return _bsn_node(schema) or ObjectNode({})


def _bsn_node(node: ObjectNode) -> ObjectNode | None:
    children: dict[str, Node] = {}
    for key, child in node.fields.items():
        if key == "bsn" and isinstance(child, Leaf):
            children[key] = child
        elif isinstance(child, ObjectNode):
            below = _bsn_node(child)
            if below is not None:
                children[key] = below
        elif isinstance(child, ListNode):
            below = _bsn_node(child.item)
            if below is not None:
                children[key] = ListNode(below)
    return ObjectNode(children) if children else None


def bsns(data: Mapping[str, Any], paths: ObjectNode) -> list[str]:
    """Every BSN in the data at the compiled ``paths`` (see ``bsn_paths``)."""
    found: list[str] = []
    _collect_bsns(data, paths, found)
    return found


def _collect_bsns(data: Mapping[str, Any], node: ObjectNode, found: list[str]) -> None:
    for key, child in node.fields.items():
        value = data.get(key)
        if value is None:
            continue
        if isinstance(child, Leaf):
            if isinstance(value, str):
                found.append(value)
        elif isinstance(child, ObjectNode):
            if _is_mapping(value):
                _collect_bsns(value, child, found)
        elif isinstance(value, list):
            for item in value:
                if _is_mapping(item):
                    _collect_bsns(item, child.item, found)
