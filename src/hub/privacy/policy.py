"""The routing/privacy table as configuration: who receives which fields of which type.

The table is a YAML file (default ``src/hub/data/privacy.default.yaml``, the defaults
of shared/spec/privacy.md) that a privacy officer can read and change; docs/privacy.md
explains every key. It is validated and compiled once, at start-up: a row naming an
unknown type, field path, recipient, condition, legal basis or processing activity
stops the hub with a ConfigurationError naming the file and the row's path.

The invariants of privacy.md are checked by code that does not read the table's intent,
only what each row could reach, so no configuration can break them. The code names no
role: the rules are declared by the connectors (docs/connectors.md) and read as
properties:

- a type's protection class confines it to the roles the class names (``safety-*``
  types reach only veilig-thuis and swt, invariant 2);
- a role's ``reach`` says through which selectors, and with which condition, a row may
  reach its partners (a gp only as "the gp that sent this referral", with its status
  feedback consent, invariant 3; a provider only through its own assignment, invariant 4);
- a required item filter must be named by every row of its selector that discloses its
  list (plan goals reach a per-assignment recipient only filtered by that assignment's
  result areas, invariant 4).

The selectors, link conditions and item filters a row may name are the message
families' (``hub.connectors.family``, listed by the connectors); the table's own words
are the recipient kinds (a singleton role, a partner id), ``data.<path>`` conditions,
``fields``, ``except``, ``fields_when``, ``subject``, ``add``, legal bases and activities.

The routing code checks the protection classes again for every release
(``assert_may_receive``).
"""

from __future__ import annotations

import builtins
import hashlib
import itertools
import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from hub.configfile import read_yaml
from hub.connectors.discovery import Vocabulary, catalogue
from hub.connectors.family import ItemFilterSpec, LinkCondition, SelectorSpec
from hub.connectors.protocol import Connector, ProtectionClass
from hub.connectors.registry import Partner, PartnerRegistry
from hub.errors import ConfigurationError, HubError, config_path
from hub.privacy.project import (
    ListNode,
    ObjectNode,
    Projection,
    UnknownPath,
    compile_projection,
    schema_tree,
)
from hub.schemas import TYPES

__all__ = [
    "DEFAULT_POLICY_PATH",
    "LAWS",
    "DataCondition",
    "InvariantViolation",
    "LegalBasis",
    "PrivacyPolicy",
    "RecipientKind",
    "Route",
    "RowCondition",
    "SchemaSpec",
    "assert_may_receive",
    "compile_policy",
    "load_policy",
    "protection_of",
]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "data" / "privacy.default.yaml"

LAWS = ("wmo", "jeugdwet", "participatiewet")


class InvariantViolation(HubError):
    """A release would break a privacy invariant; raised instead of releasing (a hub bug)."""


class SchemaSpec(Protocol):
    """What the policy needs to know of a message type (hub.schemas.TypeSpec has it)."""

    @property
    def type(self) -> str: ...

    @property
    def short_name(self) -> str: ...

    @property
    def model(self) -> builtins.type[BaseModel]: ...

    @property
    def sender_role(self) -> str: ...

    @property
    def protection(self) -> ProtectionClass | None: ...


class RecipientKind(StrEnum):
    """How a row names its recipient: a singleton role's name, a partner id, or a selector.

    A selector (``LINK``) is a family's (``SelectorSpec``): the partners the event is
    linked to; it reaches only partners whose role lists it in its ``reach``.
    """

    ROLE = "role"  # the one partner of a singleton role: the row's recipient is the role name
    PARTNER = "partner"  # a named partner: the row's recipient is a partner id
    LINK = "link"  # a family's selector: the row's recipient is the selector's name


DATA_PREFIX = "data."


@dataclass(frozen=True, slots=True)
class DataCondition:
    """A condition on the event's own data: a boolean field that must be ``true``.

    Written ``when: data.consent.debt_assistance`` (a path into ``data``, whose v1 schema
    field is a boolean). It holds when the field is present and true; absent or false, the
    row's data is withheld with the reason ``NO_`` + the path's segments in capitals
    (``NO_CONSENT_DEBT_ASSISTANCE``), and the withholding is logged like any other.
    """

    path: tuple[str, ...]

    @property
    def value(self) -> str:
        """The condition as a row writes it: ``data.consent.debt_assistance``."""
        return DATA_PREFIX + ".".join(self.path)

    @property
    def withheld_reason(self) -> str:
        """The disclosure log's reason code when the field is not true."""
        return "NO_" + "_".join(part.upper() for part in self.path)

    def holds(self, data: Mapping[str, Any]) -> bool:
        """True when the field is present in ``data`` and is ``true``."""
        value: Any = data
        for name in self.path:
            if not isinstance(value, Mapping):
                return False
            value = value.get(name)
        return value is True


RowCondition = LinkCondition | DataCondition


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """The legal basis of a disclosure, per law of the event (or of what it is linked to)."""

    name: str
    default: str
    by_law: Mapping[str, str] = field(default_factory=dict)

    def for_law(self, law: str | None) -> str:
        """The basis under this law; the default when no law applies or is known."""
        if law is None:
            return self.default
        return self.by_law.get(law, self.default)

    def for_laws(self, laws: Iterable[str]) -> str:
        """The bases under several laws (a case with provisions under more than one), joined by "; "."""
        return "; ".join(dict.fromkeys(self.for_law(law) for law in sorted(laws))) or self.default


@dataclass(frozen=True, slots=True)
class Route:
    """One compiled row: an event type, a recipient, and what that recipient may see."""

    row: str  # "routes[3]": where the row is in the file, for messages
    type: str
    recipient: str  # as the row names it: a selector, a singleton role, or a partner id
    kind: RecipientKind
    selector: SelectorSpec | None  # for a LINK row
    roles: tuple[str, ...]  # the roles the row can reach, sorted (a selector's: by their reach)
    partner_id: str | None
    projection: Projection
    condition: RowCondition | None
    item_filter: ItemFilterSpec | None
    item_subject: bool  # per item: the item's id replaces the subject
    added: tuple[str, ...]  # per item: fields given the item's id
    legal_basis: LegalBasis
    processing_activity: str
    conditional: tuple[tuple[RowCondition, Projection], ...] = ()
    _by_conditions: Mapping[frozenset[RowCondition], Projection] = field(
        default_factory=dict, repr=False, compare=False
    )
    conditions: frozenset[RowCondition] = field(init=False, repr=False, compare=False)
    """Every condition this row looks at (its own and its conditional fields'); set once."""

    def __post_init__(self) -> None:
        # Read for every release of the row: worked out once, not per event.
        own = {self.condition} if self.condition else set()
        object.__setattr__(self, "conditions", frozenset(own | {c for c, _ in self.conditional}))

    def projection_for(self, holding: frozenset[RowCondition]) -> Projection:
        """The row's fields plus the conditional fields whose condition holds (precompiled)."""
        if not self.conditional:  # most rows: their one projection, without building a key
            return self.projection
        key = frozenset(c for c, _ in self.conditional if c in holding)
        return self._by_conditions.get(key, self.projection)


class PrivacyPolicy:
    """The compiled table: routes per event type, in file order.

    ``version`` is the SHA-256 (hex) of what the table and the connectors' rows say
    (``policy_version``): every disclosure record names the version that decided it.
    """

    def __init__(self, source: str, routes: Iterable[Route], version: str = "") -> None:
        self.source = source
        self.version = version
        self.routes: tuple[Route, ...] = tuple(routes)
        by_type: dict[str, list[Route]] = {}
        for route in self.routes:
            by_type.setdefault(route.type, []).append(route)
        self._by_type = {k: tuple(v) for k, v in by_type.items()}
        self._held: dict[str, Projection] = {}
        for route in self.routes:
            if route.selector is not None and route.selector.item_field is not None:
                whole = route.projection
                for _, extra in route.conditional:
                    whole = whole.union(extra)
                known = self._held.get(route.type)
                self._held[route.type] = whole if known is None else known.union(whole)

    def routes_for(self, event_type: str) -> tuple[Route, ...]:
        """The rows for this full type (empty: the type goes to nobody)."""
        return self._by_type.get(event_type, ())

    def held_projection(self, event_type: str) -> Projection | None:
        """What of this type the hub keeps for items that become live later, if anything.

        The union of the fields of every per-item row of the type (a plan, for the
        assignments of its case): the held copy holds only what some recipient may yet get.
        """
        return self._held.get(event_type)


def protection_of(event_type: str) -> ProtectionClass | None:
    """The protection class the type declares (safety-* types: the safety class), if any."""
    spec = TYPES.get(event_type)
    return spec.protection if spec is not None else None


def assert_may_receive(event_type: str, partner: Partner) -> None:
    """Refuse (InvariantViolation) a release the type's protection class forbids, whatever the table."""
    protection = protection_of(event_type)
    if protection is not None and partner.role not in protection.may_reach:
        raise InvariantViolation(
            f"refused to release a {protection.name} event to partner {partner.id} "
            f"(role {partner.role})"
        )


# --------------------------------------------------------------------------- the file


class _RawRoute(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: StrictStr
    recipient: StrictStr
    fields: Literal["all"] | list[StrictStr]
    except_: list[StrictStr] = Field(default_factory=list, alias="except")
    when: StrictStr | None = None
    fields_when: dict[StrictStr, list[StrictStr]] = Field(default_factory=dict)
    filter: StrictStr | None = None
    subject: StrictStr | None = None
    add: list[StrictStr] = Field(default_factory=list)
    legal_basis: StrictStr
    processing_activity: StrictStr


class _RawPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    processing_activities: list[StrictStr]
    legal_bases: dict[StrictStr, StrictStr | dict[StrictStr, StrictStr]]
    routes: list[_RawRoute]


class _RawRows(BaseModel):
    """A connector's rows: the table's format, its own activities and bases optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    processing_activities: list[StrictStr] = Field(default_factory=list)
    legal_bases: dict[StrictStr, StrictStr | dict[StrictStr, StrictStr]] = Field(
        default_factory=dict
    )
    routes: list[_RawRoute]


@dataclass(frozen=True, slots=True)
class _Part:
    """The main table, or one connector's rows (``role`` is the connector's)."""

    source: str
    role: str | None
    raw: _RawPolicy | _RawRows


_M = TypeVar("_M", bound=BaseModel)


def _parsed(model: builtins.type[_M], raw: Any, source: str) -> _M:
    try:
        return model.model_validate(raw if isinstance(raw, Mapping) else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        # Pydantic's message without the input: a policy file is configuration, not data,
        # but the habit of never echoing input is kept everywhere.
        raise ConfigurationError(source, config_path(first["loc"]), first["msg"]) from None


def load_policy(
    path: Path | str = DEFAULT_POLICY_PATH,
    *,
    registry: PartnerRegistry,
    types: Mapping[str, SchemaSpec] | None = None,
    connectors: Sequence[Connector] | None = None,
) -> PrivacyPolicy:
    """Read, validate and compile a policy file and the connectors' rows (see compile_policy).

    ConfigurationError names the bad file and the bad row's path.
    """
    path = Path(path)
    raw = read_yaml(path)
    return compile_policy(
        raw, source=str(path), registry=registry, types=types, connectors=connectors
    )


def compile_policy(
    raw: Any,
    *,
    source: str,
    registry: PartnerRegistry,
    types: Mapping[str, SchemaSpec] | None = None,
    connectors: Sequence[Connector] | None = None,
) -> PrivacyPolicy:
    """Validate and compile an already-parsed policy document, with each connector's rows after it.

    ``types`` defaults to the hub's types (hub.schemas.TYPES), ``connectors`` to the
    discovered ones. A connector's rows (its ``rows`` file) are checked like the table's;
    each must name a type the connector declares or its role as the recipient. No row may
    send a role a type its connector does not receive, unless the row is the type's own
    connector's (so a new partner says where its types go without editing another
    connector). A connector's processing activities are added to the table's, and its
    legal bases too, except where the table defines a basis of the same name: the table's
    wins, so a privacy officer can change it.
    """
    if types is None:
        types = TYPES
    if connectors is None:
        connectors = catalogue().connectors
    parts = [_Part(source, None, _parsed(_RawPolicy, raw, source))]
    documents: list[Any] = [raw]
    for connector in connectors:
        if connector.rows is not None:
            rows_source = str(connector.rows)
            rows_document = read_yaml(connector.rows)
            rows = _parsed(_RawRows, rows_document, rows_source)
            parts.append(_Part(rows_source, connector.role.name, rows))
            documents.append({"role": connector.role.name, "rows": rows_document})
    receives = {c.role.name: c.received() for c in connectors}
    declared_by = {spec.type: c.role.name for c in connectors for _, spec in c.declared()}
    # The words rows may use come from every family the hub has, whatever connectors are
    # passed: a required filter (invariant 4) is checked even when its family's connector
    # is not among them.
    listed = {id(c): c for c in (*catalogue().connectors, *connectors)}
    vocabulary = Vocabulary([(f"connector {c.role.name}", c) for c in listed.values()], types)
    policy = _Compiler(source, registry, types, parts, receives, declared_by, vocabulary).compile()
    policy.version = policy_version(documents)
    return policy


def policy_version(documents: Sequence[Any]) -> str:
    """SHA-256 (hex) of what the documents say: comments, order of keys and layout aside.

    The table and each connector's rows, parsed, as canonical JSON: a change of a row's
    meaning changes the version; re-indenting the file or editing a comment does not.
    """
    canonical = json.dumps(documents, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class _Compiler:
    table: str  # the main table's source
    registry: PartnerRegistry
    types: Mapping[str, SchemaSpec]
    parts: list[_Part]
    receives: Mapping[str, frozenset[str]]  # per role: the types its connector takes
    declared_by: Mapping[str, str]  # per type: the role whose connector declares it
    vocabulary: Vocabulary  # the families' selectors, conditions and filters
    source: str = ""  # the part being read, for messages
    _schemas: dict[str, ObjectNode] = field(default_factory=dict)

    def fail(self, path: str, message: str) -> ConfigurationError:
        return ConfigurationError(self.source, path, message)

    def compile(self) -> PrivacyPolicy:
        activities: set[str] = set()
        bases: dict[str, LegalBasis] = {}
        for part in self.parts:
            self.source = part.source
            activities |= self._activities(part.raw)
            # The table's bases first: a connector's basis of the same name gives way.
            bases = self._legal_bases(part.raw) | bases
        routes: list[tuple[_Part, Route]] = []
        seen: dict[tuple[str, str], tuple[str, str]] = {}
        for part in self.parts:
            self.source = part.source
            for index, row in enumerate(part.raw.routes):
                route = self._route(f"routes[{index}]", row, frozenset(activities), bases)
                self._check_owned(part, route)
                key = (route.type, route.recipient)
                if key in seen:
                    source, where = seen[key]
                    other = where if source == part.source else f"{where} of {source}"
                    raise self.fail(
                        f"routes[{index}]", f"repeats the type and recipient of {other}"
                    )
                seen[key] = (part.source, route.row)
                routes.append((part, route))
        self._check_one_row_per_partner(routes)
        for part, route in routes:
            # From the compiled routes: what each row can reach, whatever it says.
            self.source = part.source
            self._check_protection(route.row, self.types[route.type], route.recipient)
            self._check_reach(route)
            self._check_received(part, route)
            self._check_filtered(route)
        self.source = self.table
        return PrivacyPolicy(self.table, [route for _, route in routes])

    def _partners_of(self, recipient: str) -> frozenset[str]:
        """The registered partners a recipient name can resolve to: one, or a selector's roles' all."""
        partner = self.registry.get(recipient)
        if partner is not None:
            return frozenset({partner.id})
        roles = self._roles_of(recipient)
        return frozenset(p.id for p in self.registry if p.role in roles)

    def _check_one_row_per_partner(self, routes: Sequence[tuple[_Part, Route]]) -> None:
        """Refuse two rows of one type that can reach one partner (``swt`` and ``swt-zwolle``).

        A partner gets an event once: its delivery id and disclosure id are derived from
        the event and the partner, so a second row's delivery would carry the same ids
        with other data, and the disclosure log would keep only one of the two records.
        Compared over the registered partners (the table is compiled again with the
        registry at every start); two partner ids of one role are two partners.
        """
        earlier: dict[str, list[tuple[_Part, Route]]] = {}
        for part, route in routes:
            partners = self._partners_of(route.recipient)
            for other_part, other in earlier.get(route.type, []):
                shared = partners & self._partners_of(other.recipient)
                if shared:
                    self.source = part.source
                    where = (
                        other.row
                        if other_part.source == part.source
                        else f"{other.row} of {other_part.source}"
                    )
                    raise self.fail(
                        f"{route.row}.recipient",
                        f"can reach a partner {where} reaches too ({sorted(shared)[0]}): "
                        "a partner gets a type through one row",
                    )
            earlier.setdefault(route.type, []).append((part, route))

    def _check_owned(self, part: _Part, route: Route) -> None:
        """A connector's row names a type the connector declares, or its role as the recipient."""
        if part.role is None or self.declared_by.get(route.type) == part.role:
            return
        if self._roles_of(route.recipient) != {part.role}:
            raise self.fail(
                route.row,
                f"a connector's row must name a type it declares or its role "
                f"({part.role}) as the recipient",
            )

    def _activities(self, raw: _RawPolicy | _RawRows) -> frozenset[str]:
        for index, name in enumerate(raw.processing_activities):
            if not name.strip():
                raise self.fail(f"processing_activities[{index}]", "must not be empty")
        return frozenset(raw.processing_activities)

    def _legal_bases(self, raw: _RawPolicy | _RawRows) -> dict[str, LegalBasis]:
        bases: dict[str, LegalBasis] = {}
        for name, value in raw.legal_bases.items():
            where = f"legal_bases.{name}"
            if isinstance(value, str):
                if not value.strip():
                    raise self.fail(where, "must not be empty")
                bases[name] = LegalBasis(name, value)
                continue
            unknown = sorted(set(value) - {*LAWS, "default"})
            if unknown:
                raise self.fail(f"{where}.{unknown[0]}", f"not a law; use {', '.join(LAWS)}")
            missing = [k for k in (*LAWS, "default") if k not in value]
            if missing:
                raise self.fail(where, f"needs a basis for {missing[0]}")
            bases[name] = LegalBasis(name, value["default"], {law: value[law] for law in LAWS})
        return bases

    def _spec(self, where: str, name: str) -> SchemaSpec:
        for spec in self.types.values():
            if name in (spec.type, spec.short_name):
                return spec
        raise self.fail(where, "not a known message type")

    def _schema(self, spec: SchemaSpec) -> ObjectNode:
        if spec.type not in self._schemas:
            self._schemas[spec.type] = schema_tree(spec.model)
        return self._schemas[spec.type]

    def _route(
        self,
        where: str,
        row: _RawRoute,
        activities: frozenset[str],
        bases: Mapping[str, LegalBasis],
    ) -> Route:
        spec = self._spec(f"{where}.type", row.type)
        # The protection class first, from the type and the recipient's role alone: no other
        # key of the row is read, so nothing else in the table can change the outcome.
        self._check_protection(where, spec, row.recipient)
        schema = self._schema(spec)
        kind, selector, partner_id = self._recipient(
            f"{where}.recipient", row.recipient, schema, spec.short_name
        )
        roles = self._roles_of(row.recipient)

        projection = self._projection(where, schema, row.fields, row.except_)
        condition = self._condition(f"{where}.when", row.when, selector, spec) if row.when else None
        conditional: list[tuple[RowCondition, Projection]] = []
        for name, paths in row.fields_when.items():
            cond = self._condition(f"{where}.fields_when.{name}", name, selector, spec)
            extra = self._paths(f"{where}.fields_when.{name}", schema, paths)
            conditional.append((cond, extra))

        item_filter = self._filter(f"{where}.filter", row.filter, selector, schema)
        item_subject = self._subject(f"{where}.subject", row.subject, selector)
        added = self._added(f"{where}.add", row.add, selector, schema)

        if row.legal_basis not in bases:
            raise self.fail(f"{where}.legal_basis", "not one of the file's legal_bases")
        if row.processing_activity not in activities:
            raise self.fail(
                f"{where}.processing_activity", "not one of the file's processing_activities"
            )

        by_conditions: dict[frozenset[RowCondition], Projection] = {}
        for size in range(len(conditional) + 1):
            for chosen in itertools.combinations(conditional, size):
                whole = projection
                for _, extra in chosen:
                    whole = whole.union(extra)
                by_conditions[frozenset(c for c, _ in chosen)] = whole

        return Route(
            row=where,
            type=spec.type,
            recipient=row.recipient,
            kind=kind,
            selector=selector,
            roles=tuple(sorted(roles)),
            partner_id=partner_id,
            projection=projection,
            condition=condition,
            item_filter=item_filter,
            item_subject=item_subject,
            added=added,
            legal_basis=bases[row.legal_basis],
            processing_activity=row.processing_activity,
            conditional=tuple(conditional),
            _by_conditions=by_conditions,
        )

    def _recipient(
        self, where: str, name: str, schema: ObjectNode, short_name: str
    ) -> tuple[RecipientKind, SelectorSpec | None, str | None]:
        if self._singleton(name):
            return RecipientKind.ROLE, None, None
        selector = self.vocabulary.selectors.get(name)
        if selector is None:
            if self.registry.get(name) is None:
                roles = [r.name for r in self.registry.roles.values() if r.singleton]
                raise self.fail(
                    where,
                    "neither a singleton role, a recipient selector nor a registered partner "
                    f"id; roles: {', '.join(sorted(roles))}; selectors: "
                    f"{', '.join(self.vocabulary.selectors)}",
                )
            return RecipientKind.PARTNER, None, name
        if selector.needs is not None and selector.needs not in schema.fields:
            raise self.fail(where, f"{selector.name} needs a type whose data has {selector.needs}")
        if selector.fed_by and short_name not in selector.fed_by:
            raise self.fail(
                where, f"{selector.name} is linked only for {', '.join(selector.fed_by)}"
            )
        return RecipientKind.LINK, selector, None

    def _projection(
        self, where: str, schema: ObjectNode, fields: str | list[str], exclude: list[str]
    ) -> Projection:
        if isinstance(fields, str):  # "all": every v1 field, expanded now
            projection = compile_projection(schema, None)
        else:
            projection = self._paths(f"{where}.fields", schema, fields)
        for index, path in enumerate(exclude):
            try:
                projection = compile_projection(schema, projection.paths, exclude=[path])
            except UnknownPath as exc:
                raise self.fail(f"{where}.except[{index}]", str(exc)) from None
        return projection

    def _paths(self, where: str, schema: ObjectNode, paths: list[str]) -> Projection:
        for index, path in enumerate(paths):
            try:
                compile_projection(schema, [path])
            except UnknownPath as exc:
                raise self.fail(f"{where}[{index}]", str(exc)) from None
        return compile_projection(schema, paths)

    def _condition(
        self, where: str, name: str, selector: SelectorSpec | None, spec: SchemaSpec
    ) -> RowCondition:
        if name.startswith(DATA_PREFIX):
            path = tuple(name.removeprefix(DATA_PREFIX).split("."))
            if not _is_boolean_field(spec.model, path):
                raise self.fail(
                    where,
                    f"{name} is not a boolean field of {spec.short_name}'s data; a data "
                    "condition names one (data.<path>), which must be true",
                )
            return DataCondition(path)
        condition = self.vocabulary.conditions.get(name)
        if condition is None:
            known = ", ".join(self.vocabulary.conditions)
            raise self.fail(
                where, f"not a condition; known: {known}, or data.<path> of a boolean field"
            )
        if selector is None or selector.name not in condition.selectors:
            raise self.fail(
                where,
                f"{condition.name} applies to the {' or '.join(condition.selectors)} "
                "recipient only",
            )
        if condition.fed_by and spec.short_name not in condition.fed_by:
            raise self.fail(
                where, f"{condition.name} is known only for {', '.join(condition.fed_by)}"
            )
        return condition

    def _filter(
        self, where: str, name: str | None, selector: SelectorSpec | None, schema: ObjectNode
    ) -> ItemFilterSpec | None:
        if name is None:
            return None
        item_filter = self.vocabulary.filters.get(name)
        if item_filter is None:
            raise self.fail(where, f"not a filter; known: {', '.join(self.vocabulary.filters)}")
        items = schema.fields.get(item_filter.list_path)
        if not (isinstance(items, ListNode) and item_filter.item_field in items.item.fields):
            raise self.fail(
                where,
                f"this filter needs a type with {item_filter.list_path}[].{item_filter.item_field}",
            )
        if selector is None or selector.name != item_filter.selector:
            raise self.fail(where, f"this filter needs the {item_filter.selector} recipient")
        return item_filter

    def _subject(self, where: str, name: str | None, selector: SelectorSpec | None) -> bool:
        """True when the row's deliveries take the item's id as subject (``subject: <field>``)."""
        item_field = selector.item_field if selector is not None else None
        if name is None:
            if selector is not None and item_field is not None:
                # The original subject names what the items belong to (a case), which the
                # item's recipient must not see.
                raise self.fail(where, f"{selector.name} needs subject: {item_field}")
            return False
        if item_field is None:
            raise self.fail(where, f"{name} is known only per item (a per-item recipient)")
        if name != item_field:
            raise self.fail(where, f"the only subject override is {item_field}")
        return True

    def _added(
        self, where: str, names: list[str], selector: SelectorSpec | None, schema: ObjectNode
    ) -> tuple[str, ...]:
        item_field = selector.item_field if selector is not None else None
        for index, name in enumerate(names):
            if item_field is None:
                raise self.fail(
                    f"{where}[{index}]", f"{name} is known only per item (a per-item recipient)"
                )
            if name != item_field:
                raise self.fail(f"{where}[{index}]", f"the only added field is {item_field}")
            if name in schema.fields:
                raise self.fail(f"{where}[{index}]", "the type already has this field")
        return tuple(dict.fromkeys(names))

    # ---- the invariants, from what each compiled route can reach

    def _singleton(self, name: str) -> bool:
        role = self.registry.roles.get(name)
        return role is not None and role.singleton

    def _roles_of(self, recipient: str) -> frozenset[str]:
        """The roles a recipient name can resolve to (empty for a name that is neither)."""
        if self._singleton(recipient):
            return frozenset({recipient})
        if recipient in self.vocabulary.selectors:
            return frozenset(
                role.name
                for role in self.registry.roles.values()
                if role.reach is not None and recipient in role.reach.selectors
            )
        partner = self.registry.get(recipient)
        return frozenset({partner.role}) if partner else frozenset()

    def _check_protection(self, where: str, spec: SchemaSpec, recipient: str) -> None:
        protection = spec.protection
        if protection is None:
            return
        if self._roles_of(recipient) - set(protection.may_reach):
            raise self.fail(f"{where}.recipient", protection.rule)

    def _check_reach(self, route: Route) -> None:
        for name in sorted(self._roles_of(route.recipient)):
            reach = self.registry.roles[name].reach
            if reach is None:
                continue
            condition = _condition_name(route.condition)
            if route.recipient not in reach.selectors or (
                reach.condition is not None and condition != reach.condition
            ):
                raise self.fail(f"{route.row}.recipient", reach.rule)

    def _check_received(self, part: _Part, route: Route) -> None:
        spec = self.types[route.type]
        if part.role is not None and self.declared_by.get(spec.type) == part.role:
            return  # the type's own connector says where it goes
        for name in sorted(self._roles_of(route.recipient)):
            takes = self.receives.get(name, frozenset())
            if spec.type not in takes and spec.short_name not in takes:
                raise self.fail(
                    f"{route.row}.recipient",
                    f"the {name} connector does not receive {spec.short_name}",
                )

    def _check_filtered(self, route: Route) -> None:
        """A row of a required filter's selector that discloses its list names the filter."""
        paths = route.projection_for(route.conditions).paths
        for item_filter in self.vocabulary.filters.values():
            if (
                item_filter.required
                and route.recipient == item_filter.selector
                and any(p.startswith(item_filter.list_path) for p in paths)
                and route.item_filter is not item_filter
            ):
                raise self.fail(f"{route.row}.filter", item_filter.rule)


def _condition_name(condition: RowCondition | None) -> str | None:
    """The condition as a row writes it (``consent.status_feedback``, ``data.<path>``)."""
    if condition is None:
        return None
    return condition.name if isinstance(condition, LinkCondition) else condition.value


def _is_boolean_field(model: builtins.type[BaseModel], path: tuple[str, ...]) -> bool:
    """True when ``path`` names a boolean field of the model (through nested models)."""
    annotation: Any = model
    for name in path:
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        info = annotation.model_fields.get(name)
        if info is None:
            return False
        annotation = _unwrapped(info.annotation)
    return annotation is bool


def _unwrapped(annotation: Any) -> Any:
    """The one type inside ``X | None`` and ``Annotated[X, ...]`` (an optional field's type)."""
    while True:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated or origin in (typing.Union, UnionType):
            if len(args) != 1 and origin is not typing.Annotated:
                return annotation
            annotation = args[0]
            continue
        return annotation
