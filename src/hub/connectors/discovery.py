"""Finding the connectors, and the catalogue of roles and types built from them.

Two sources, one path (docs/connectors.md):

- every module of the package ``hub.roles`` that defines ``CONNECTOR`` (the five roles of
  the contract are such modules, and a municipality may add one beside them);
- every entry point of the group ``hub.connectors`` (a connector shipped in its own
  distribution: ``[project.entry-points."hub.connectors"] debt-assistance =
  "acme_debt.connector"``), naming a module that defines ``CONNECTOR`` or the Connector itself.

The modules are imported by name, not by an import statement: nothing in the core imports
a connector, so adding one never edits the core. The catalogue is checked once; a
duplicate role or type, or a protected type that does not declare its class, stops the hub.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Final, Protocol, TypeVar

from hub.connectors.family import (
    Family,
    ItemFilterSpec,
    LinkCondition,
    Rule,
    SelectorSpec,
    StateKind,
)
from hub.connectors.protocol import SAFETY, Connector, ProtectionClass, RoleSpec, TypeSpec
from hub.errors import ConfigurationError

__all__ = [
    "BUILTIN_PACKAGE",
    "ENTRY_POINT_GROUP",
    "Catalogue",
    "Vocabulary",
    "catalogue",
    "discover",
]

BUILTIN_PACKAGE: Final = "hub.roles"
ENTRY_POINT_GROUP: Final = "hub.connectors"


_W = TypeVar("_W")


class _Named(Protocol):
    @property
    def short_name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Found:
    """A connector and where it was found, for messages."""

    origin: str
    connector: Connector


def discover() -> tuple[tuple[str, Connector], ...]:
    """Every connector with where it was found: hub.roles's modules, then entry points, by name."""
    found: list[tuple[str, Connector]] = []
    package = importlib.import_module(BUILTIN_PACKAGE)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        name = f"{BUILTIN_PACKAGE}.{info.name}"
        found.append((name, _connector_of(name, importlib.import_module(name))))
    entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for entry_point in sorted(entry_points, key=lambda e: e.name):
        origin = f"entry point {ENTRY_POINT_GROUP}:{entry_point.name}"
        try:
            loaded = entry_point.load()
        except ImportError as exc:
            raise ConfigurationError(origin, entry_point.value, f"cannot import ({exc})") from None
        except Exception as exc:
            # A syntax error, or a declaration its Connector/RoleSpec/TypeSpec refuses
            # (ValueError at import): the start-up refusal names the entry point, no traceback.
            raise ConfigurationError(
                origin, entry_point.value, f"cannot import ({type(exc).__name__}: {exc})"
            ) from None
        found.append((origin, _connector_of(origin, loaded)))
    return tuple(found)


def _connector_of(origin: str, loaded: object) -> Connector:
    if isinstance(loaded, ModuleType):
        loaded = getattr(loaded, "CONNECTOR", None)
    if not isinstance(loaded, Connector):
        raise ConfigurationError(origin, "CONNECTOR", "must be a hub.connectors.Connector")
    return loaded


class Catalogue:
    """The roles and types of every connector, in discovery order, checked together.

    Raises ConfigurationError naming the connector and the declaration when two connectors
    declare the same role or type, when a type names a sender role or a connector receives
    a type that no connector declares, when a protection class names a role no connector
    declares, or when a type whose name puts it in a protection class does not declare it.
    Of the families (``Connector.families``): two different families of one name, two
    selectors, conditions, filters or state kinds of one name, a rule for a type no
    connector declares, or a role's ``reach`` naming a selector no family declares.
    """

    def __init__(self, found: Iterable[tuple[str, Connector]]) -> None:
        roles: dict[str, RoleSpec] = {}
        types: dict[str, TypeSpec] = {}
        origin_of: dict[str, str] = {}
        declared_by: dict[str, str] = {}
        entries = [_Found(origin, connector) for origin, connector in found]
        for entry in entries:
            role = entry.connector.role
            if role.name in roles:
                raise ConfigurationError(
                    entry.origin,
                    "role.name",
                    f"role {role.name} is declared by {origin_of[role.name]} too",
                )
            roles[role.name] = role
            origin_of[role.name] = entry.origin
        short_of: dict[str, str] = {}
        for entry in entries:
            for where, spec in entry.connector.declared():
                # A short name finds the type's rule and a table row's type: one type each.
                other = short_of.setdefault(spec.short_name, spec.type)
                if other != spec.type:
                    raise ConfigurationError(
                        entry.origin,
                        f"{where}.short_name",
                        f"{spec.short_name} is the short name of {other} too",
                    )
                if spec.type in types:
                    raise ConfigurationError(
                        entry.origin,
                        f"{where}.type",
                        f"{spec.type} is declared by {origin_of[declared_by[spec.type]]} too",
                    )
                if spec.sender_role not in roles:
                    raise ConfigurationError(
                        entry.origin,
                        f"{where}.sender_role",
                        f"{spec.sender_role} is not a role of any connector",
                    )
                types[spec.type] = spec
                declared_by[spec.type] = entry.connector.role.name
        self._check_protection(entries, roles, self._protection_classes(entries))
        self._check_receives(entries, types)
        self._check_endpoints(entries)
        self.connectors: tuple[Connector, ...] = tuple(entry.connector for entry in entries)
        self.roles: Mapping[str, RoleSpec] = MappingProxyType(roles)
        self.types: Mapping[str, TypeSpec] = MappingProxyType(types)
        self.origins: Mapping[str, str] = MappingProxyType(origin_of)
        self.declared_by: Mapping[str, str] = MappingProxyType(declared_by)
        vocabulary = Vocabulary([(entry.origin, entry.connector) for entry in entries], types)
        self.families: Mapping[str, Family] = vocabulary.families
        self.rules: Mapping[str, Rule] = vocabulary.rules
        self.selectors: Mapping[str, SelectorSpec] = vocabulary.selectors
        self.conditions: Mapping[str, LinkCondition] = vocabulary.conditions
        self.filters: Mapping[str, ItemFilterSpec] = vocabulary.filters
        self.state_kinds: Mapping[str, StateKind] = vocabulary.state_kinds
        for name, role in roles.items():
            if name in self.selectors:
                # A row's recipient names a singleton role or a selector: never both.
                raise ConfigurationError(
                    origin_of[name], "role.name", f"{name} is the name of a selector"
                )
            for selector in role.reach.selectors if role.reach is not None else ():
                if selector not in self.selectors:
                    raise ConfigurationError(
                        origin_of[name],
                        "role.reach.selectors",
                        f"{selector} is not a selector of any family",
                    )

    @staticmethod
    def _protection_classes(entries: list[_Found]) -> list[ProtectionClass]:
        """The classes the types declare, the contract's safety class always among them.

        A class is known by its name: a second, different class under a name already in
        use (a connector's own "safety" with another prefix) is refused, not let replace
        the first and switch its check off.
        """
        classes: dict[str, ProtectionClass] = {SAFETY.name: SAFETY}
        for entry in entries:
            for where, spec in entry.connector.declared():
                protection = spec.protection
                if protection is None:
                    continue
                known = classes.setdefault(protection.name, protection)
                if known != protection:
                    raise ConfigurationError(
                        entry.origin,
                        f"{where}.protection",
                        f"another protection class is named {protection.name} already",
                    )
        return list(classes.values())

    @staticmethod
    def _check_receives(entries: list[_Found], types: Mapping[str, TypeSpec]) -> None:
        full = {**{name: name for name in types}, **{s.short_name: s.type for s in types.values()}}
        for entry in entries:
            received: set[str] = set()
            for index, item in enumerate(entry.connector.receives):
                name = item.type if isinstance(item, TypeSpec) else item
                if name not in full:
                    raise ConfigurationError(
                        entry.origin, f"receives[{index}]", f"{item} is not a declared type"
                    )
                received.add(full[name])
            # A renderer names its types by full or short name, as ``receives`` does.
            for index, renderer in enumerate(entry.connector.renderers):
                for at, name in enumerate(renderer.types):
                    if full.get(name) not in received:
                        raise ConfigurationError(
                            entry.origin,
                            f"renderers[{index}].types[{at}]",
                            f"{name} is not a type {entry.connector.role.name} receives",
                        )

    @staticmethod
    def _check_endpoints(entries: list[_Found]) -> None:
        """One connector per HTTP endpoint path and route name: the gateway mounts them all."""
        taken: dict[str, str] = {}
        for entry in entries:
            for index, endpoint in enumerate(entry.connector.http_endpoints):
                for field_name, value in (("path", endpoint.path), ("name", endpoint.name)):
                    other = taken.setdefault(f"{field_name}:{value}", entry.origin)
                    if other != entry.origin:
                        raise ConfigurationError(
                            entry.origin,
                            f"http_endpoints[{index}].{field_name}",
                            f"{value} is an endpoint of {other} too",
                        )

    @staticmethod
    def _check_protection(
        entries: list[_Found], roles: Mapping[str, RoleSpec], classes: list[ProtectionClass]
    ) -> None:
        for entry in entries:
            for where, spec in entry.connector.declared():
                for protection in classes:
                    if protection.covers(spec.type) and spec.protection != protection:
                        raise ConfigurationError(
                            entry.origin,
                            f"{where}.protection",
                            f"a {protection.segment_prefix}* type must declare the "
                            f"{protection.name} protection class",
                        )
                if spec.protection is not None:
                    unknown = [r for r in spec.protection.may_reach if r not in roles]
                    if unknown:
                        raise ConfigurationError(
                            entry.origin,
                            f"{where}.protection.may_reach",
                            f"{unknown[0]} is not a role of any connector",
                        )


class Vocabulary:
    """The families the connectors list: rules and words by name, one of each per name.

    ``connectors`` come with where each was found (for messages); ``types`` are the
    declared types (full name to spec), and every rule must be for one of them (by short
    name). ``rules`` maps the full type name to its rule.
    """

    def __init__(
        self, connectors: Iterable[tuple[str, Connector]], types: Mapping[str, _Named]
    ) -> None:
        families: dict[str, Family] = {}
        for origin, connector in connectors:
            for index, family in enumerate(connector.families):
                if families.setdefault(family.name, family) is not family:
                    raise ConfigurationError(
                        origin,
                        f"families[{index}].name",
                        f"another family is named {family.name} already",
                    )
        by_short = {spec.short_name: full for full, spec in types.items()}
        rules: dict[str, Rule] = {}
        selectors: dict[str, SelectorSpec] = {}
        conditions: dict[str, LinkCondition] = {}
        filters: dict[str, ItemFilterSpec] = {}
        state_kinds: dict[str, StateKind] = {}
        for family in families.values():
            where = f"family {family.name}"
            for short_name, rule in family.rules.items():
                if short_name not in by_short:
                    raise ConfigurationError(
                        where, f"rules.{short_name}", "not a type any connector declares"
                    )
                if by_short[short_name] in rules:
                    # A second rule would replace the first, and with it what the type may
                    # link (a gp's consent, a provider's assignment).
                    raise ConfigurationError(
                        where, f"rules.{short_name}", "declared by another family too"
                    )
                rules[by_short[short_name]] = rule
            for selector in family.selectors:
                if selector.item_field is not None and selector.item_schema is None:
                    raise ConfigurationError(
                        where,
                        f"selectors.{selector.name}.item_schema",
                        "a per-item selector describes its item's id",
                    )
            fed = [(f"selectors.{s.name}", s.fed_by) for s in family.selectors]
            fed += [(f"conditions.{c.name}", c.fed_by) for c in family.conditions]
            for path, fed_by in fed:
                for index, short_name in enumerate(fed_by):
                    if short_name not in by_short:
                        raise ConfigurationError(
                            where, f"{path}.fed_by[{index}]", "not a type any connector declares"
                        )
            _add(where, "selectors", selectors, {s.name: s for s in family.selectors})
            _add(where, "conditions", conditions, {c.name: c for c in family.conditions})
            _add(where, "filters", filters, {f.name: f for f in family.filters})
            _add(where, "state", state_kinds, {k.prefix: k for k in family.state})
        self.families: Mapping[str, Family] = MappingProxyType(families)
        self.rules: Mapping[str, Rule] = MappingProxyType(rules)
        self.selectors: Mapping[str, SelectorSpec] = MappingProxyType(selectors)
        self.conditions: Mapping[str, LinkCondition] = MappingProxyType(conditions)
        self.filters: Mapping[str, ItemFilterSpec] = MappingProxyType(filters)
        self.state_kinds: Mapping[str, StateKind] = MappingProxyType(state_kinds)


def _add(where: str, what: str, into: dict[str, _W], new: Mapping[str, _W]) -> None:
    for name, item in new.items():
        if into.setdefault(name, item) is not item:
            raise ConfigurationError(where, f"{what}.{name}", "declared by another family too")


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue of the discovered connectors (found and checked once per process)."""
    return Catalogue(discover())
