"""What a connector declares: its role, the types its role sends, and its routing/privacy rows.

A connector is data, not a subclass: a module that defines ``CONNECTOR = Connector(...)``
(docs/connectors.md). The hub finds connectors by discovery (``hub.connectors.discovery``)
and builds its catalogue of roles and types from them; the core then uses the
*properties* of a role or a type (has an AGB, one per deployment, how it may be reached,
its protection class), never their names.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel

from hub.connectors.family import Family

if TYPE_CHECKING:
    from hub.inbound.reading import HttpAdapter, KafkaAdapter

__all__ = [
    "SAFETY",
    "AsJson",
    "Connector",
    "HttpEndpoint",
    "ProtectionClass",
    "Reach",
    "RenderFunction",
    "Rendered",
    "Renderer",
    "RoleSpec",
    "TypeSpec",
    "Unrenderable",
]

_SLUG: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

ModelClass = type[BaseModel]


@dataclass(frozen=True, slots=True)
class Reach:
    """How a role's partners may be reached by a routing/privacy row, when not freely.

    A row may reach a partner of such a role only through one of ``selectors`` (never by
    naming the partner), and only with the row condition ``condition`` when one is given.
    ``rule`` is the sentence the hub refuses to start with when a row breaks this.
    """

    selectors: tuple[str, ...]
    rule: str
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """A partner role: a name and the properties the core acts on.

    ``agb``: each partner of the role has an AGB code (and no other partner has one).
    ``singleton``: a deployment has at most one partner of the role, and a row names it by
    the role's name (``recipient: swt``). ``required``: a deployment has at least one
    (the contract's swt, backoffice and veilig-thuis are both: exactly one). ``reach``: how
    rows may reach its partners when not freely (None: by the role's name if a
    singleton, or by partner id). ``formats``: partner formats other than CloudEvents its
    partners may ask for in the registry (``iwmo: true``), which its connector handles.
    """

    name: str
    description: str
    agb: bool = False
    singleton: bool = False
    required: bool = False
    reach: Reach | None = None
    formats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _SLUG.fullmatch(self.name):
            raise ValueError(f"a role name is a lowercase slug, not {self.name!r}")
        for name in self.formats:
            if not _SLUG.fullmatch(name):
                # A partner asks for it in the registry, which takes slugs only.
                raise ValueError(f"a format name is a lowercase slug, not {name!r}")


@dataclass(frozen=True, slots=True)
class ProtectionClass:
    """A class of types that may reach only some roles, whatever the routing/privacy table says.

    Every type with a name segment starting with ``segment_prefix`` must declare the class
    (a new connector cannot send a ``safety-*`` type unprotected), and no row may send a
    type of the class to a role outside ``may_reach``. ``rule`` is the refusal's sentence.
    """

    name: str
    segment_prefix: str
    may_reach: tuple[str, ...]
    rule: str

    def covers(self, event_type: str) -> bool:
        """True when the type's name puts it in this class (``safety-reports`` for safety-)."""
        return any(part.startswith(self.segment_prefix) for part in event_type.split("."))


SAFETY = ProtectionClass(
    name="safety",
    segment_prefix="safety-",
    may_reach=("veilig-thuis", "swt"),
    rule="a safety-* type may reach only veilig-thuis and swt (privacy.md invariant 2)",
)
"""The safety types' class: they reach only Veilig Thuis and the team, whatever the table says.

Part of the protocol, not of a connector: privacy.md's invariant 2 holds for every type
any connector declares, so discovery checks every type against it whether or not a
connector names it (``hub.schemas.safety`` re-exports it for the safety types).
"""


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """What the hub knows about one message type.

    ``sender_role`` is the name of the only role that may send it. ``sender_agb_field`` is
    the path in ``data`` of the AGB that must equal the sending partner's (``referrer.agb``,
    ``provider_agb``), or None when the type has none. ``protection`` is the type's
    protection class, if any.
    """

    type: str
    model: ModelClass
    subject_field: str
    sender_role: str
    family: str
    short_name: str
    sender_agb_field: tuple[str, ...] | None = None
    protection: ProtectionClass | None = None

    def __post_init__(self) -> None:
        # Both name fields of the model that the hub checks against the envelope and the
        # sender; a misspelt one would switch its check off without a word.
        if _model_field(self.model, self.subject_field, required=True) is None:
            # Required too: the subject must equal it, and an event without it would pass.
            raise ValueError(
                f"{self.type}: subject_field {self.subject_field!r} is not a required field "
                f"of {self.model.__name__}"
            )
        if self.sender_agb_field is not None:
            _check_path(self.type, self.model, self.sender_agb_field)


def _model_field(model: ModelClass, name: str, *, required: bool = False) -> Any:
    """The annotation of the model's field that data names ``name``; None if there is none.

    Data names a field by its alias when it has one (the hub reads the event's JSON), else
    by its attribute. ``required``: None also when the field may be left out.
    """
    for attribute, info in model.model_fields.items():
        if name == (info.alias or attribute):
            if required and not info.is_required():
                return None
            return info.annotation if info.annotation is not None else Any
    return None


def _check_path(type_: str, model: ModelClass, path: tuple[str, ...]) -> None:
    """ValueError unless ``path`` leads through the model's objects to a field."""
    current: ModelClass | None = model
    for depth, name in enumerate(path):
        annotation = None if current is None else _model_field(current, name)
        if annotation is None:
            raise ValueError(
                f"{type_}: sender_agb_field {'.'.join(path)!r} is not a field of "
                f"{model.__name__} (no {'.'.join(path[: depth + 1])!r})"
            )
        current = _object_in(annotation)


def _object_in(annotation: Any) -> ModelClass | None:
    """The model an annotation holds (itself, or inside Optional / Annotated), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _object_in(argument)
        if found is not None:
            return found
    return None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A delivery's data rendered in a partner format: what the recipient gets instead of JSON.

    ``data`` is the document as text (UTF-8 on the wire), ``content_type`` its media type
    (the delivery's ``datacontenttype``). ``fields`` are the paths of the recipient's view
    the document carries or is derived from: exactly the disclosure record's
    ``fields_disclosed``. ``state_changes`` (key -> value, None deletes) are written with
    the event's other routing-state changes, in the same transaction.
    """

    data: str = field(repr=False)
    content_type: str
    fields: tuple[str, ...]
    state_changes: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class AsJson:
    """The delivery stays JSON (the format does not take it), with state changes to write.

    For a renderer whose kept state must forget what it no longer renders (an assignment
    that became untranslatable). Returning None is the same without changes.
    """

    state_changes: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Unrenderable:
    """The delivery should be rendered but cannot be: nothing is sent, operators are alerted.

    ``reason`` is a code (never a value): the disclosure record's withheld reason and the
    alert's ``reason``.
    """

    reason: str


RenderFunction = Callable[[Any], "Rendered | AsJson | Unrenderable | None"]
"""A bound renderer, called with a ``hub.routing.RenderInput`` (typed loosely, as ``Rule``:
the routing engine sits above this protocol). None: the delivery stays JSON."""


@dataclass(frozen=True, slots=True)
class Renderer:
    """A partner format a role's partners may ask for (``RoleSpec.formats``), for some types.

    A delivery of one of ``types`` (short or full names the connector receives) to a
    partner whose registry entry asks for ``format`` (``Partner.formats``) is given to the
    renderer instead of going out as JSON. ``bind`` is called once at start-up with the
    hub's settings (``hub.settings.HubSettings``) and returns the function that renders:
    the renderer reads its own section, so the core names none.
    """

    format: str
    types: tuple[str, ...]
    bind: Callable[[Any], RenderFunction]
    description: str = ""
    content_type: str | None = None
    """The media type of the documents it renders, for the AsyncAPI document."""


@dataclass(frozen=True, slots=True)
class HttpEndpoint:
    """A partner HTTP endpoint a connector adds to the gateway, for a format of its role.

    The gateway mounts ``POST path`` when some partner of the connector's role asks for
    ``format`` in the registry (``Partner.formats``), and does what every endpoint shares:
    authentication (401), the partner's role and format (403 TYPE_NOT_ALLOWED), the
    request's ``media_type`` (415), the rate limit (429) and the body's size and time
    (413, 408). ``bind`` is called once at the gateway's start with a
    ``hub.gateway.EndpointContext`` and returns a ``hub.gateway.PartnerEndpoint``: what
    answers the body, its size limit, its background services and what it adds to
    GET /events/{id} (typed loosely, as ``Renderer.bind``: the gateway sits above this
    protocol). ``name`` is the route's name in logs and metrics (one token);
    ``summary`` and ``responses`` (status -> OpenAPI response) its OpenAPI entry, next to
    the problem statuses the gateway answers. ``status_fields`` is a model of the fields
    it adds to GET /events/{id}, for the OpenAPI document (None: it adds none).
    """

    path: str
    name: str
    format: str
    media_type: str
    bind: Callable[[Any], Any]
    summary: str = ""
    responses: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    status_fields: ModelClass | None = None


@dataclass(frozen=True, slots=True)
class Connector:
    """One partner role's connector: its role, its types, their examples, its rows and adapters.

    ``sends`` are the types only partners of this role may send (each with
    ``sender_role == role.name``). ``receives`` are the types its partners take: a name
    (full or short) of a type some connector declares, or a TypeSpec for a new type another
    role sends to this one (a new partner brings the schema of what it is sent). No
    routing/privacy row may send the role a type it does not receive, unless the row is
    the type's own connector's. ``rows`` is a YAML file of routing/privacy rows in the
    table's format (docs/privacy.md), merged with the main table at start-up and checked
    like it; None when the connector brings none.

    ``examples`` is a folder in the layout of the repository's ``examples/``
    (``<short type>/valid/*.json``, one structured-mode event per file) holding valid
    events of every type the connector declares; the contract test kit
    (``hub.testing.connector_kit``) validates them and runs them through the table.
    ``http_adapters`` and ``kafka_adapters`` read a partner wire format of this role's
    (``hub.inbound``); they are tried before the hub's own adapters, which stay in use for
    every other message. Empty: the role's partners send CloudEvents like any other.

    ``families`` are the message families of its types that have stateful rules, selectors,
    conditions, filters or state (``hub.connectors.family``); a family is listed by every
    connector that needs it, and is one object wherever it is listed.

    ``renderers`` render deliveries to its partners in a format of its role
    (``RoleSpec.formats``) for the partners that ask for it; at most one per format and type.
    ``http_endpoints`` are the gateway endpoints its partners in such a format send to
    (``HttpEndpoint``): the gateway mounts them as data and names none.
    """

    role: RoleSpec
    sends: tuple[TypeSpec, ...] = ()
    receives: tuple[TypeSpec | str, ...] = ()
    rows: Path | None = None
    examples: Path | None = None
    http_adapters: tuple[HttpAdapter, ...] = ()
    kafka_adapters: tuple[KafkaAdapter, ...] = ()
    families: tuple[Family, ...] = ()
    renderers: tuple[Renderer, ...] = ()
    http_endpoints: tuple[HttpEndpoint, ...] = ()

    def __post_init__(self) -> None:
        for spec in self.sends:
            if spec.sender_role != self.role.name:
                raise ValueError(
                    f"{spec.type} names sender role {spec.sender_role}, "
                    f"but its connector's role is {self.role.name}"
                )
        for item in self.receives:
            if isinstance(item, TypeSpec) and item.sender_role == self.role.name:
                raise ValueError(f"{item.type} is sent by {self.role.name}: declare it in sends")
        rendered: set[tuple[str, str]] = set()
        # Full and short names of what it receives; a name of another connector's type is
        # resolved by the catalogue, which checks the renderers' names again then.
        received = self.received() | {
            item.short_name for item in self.receives if isinstance(item, TypeSpec)
        }
        names_elsewhere = any(isinstance(item, str) for item in self.receives)
        for renderer in self.renderers:
            if renderer.format not in self.role.formats:
                raise ValueError(f"{self.role.name} offers no format {renderer.format}")
            for name in renderer.types:
                if name not in received and not names_elsewhere:
                    raise ValueError(f"{self.role.name} does not receive {name}")
                if (renderer.format, name) in rendered:
                    raise ValueError(f"two {renderer.format} renderers of {name}")
                rendered.add((renderer.format, name))
        for endpoint in self.http_endpoints:
            if endpoint.format not in self.role.formats:
                raise ValueError(f"{self.role.name} offers no format {endpoint.format}")
            if not endpoint.path.startswith("/"):
                raise ValueError(f"an endpoint's path starts with /, not {endpoint.path!r}")

    def declared(self) -> Iterator[tuple[str, TypeSpec]]:
        """The types this connector declares, each with where: ``sends[0]``, ``receives[2]``."""
        for index, spec in enumerate(self.sends):
            yield f"sends[{index}]", spec
        for index, item in enumerate(self.receives):
            if isinstance(item, TypeSpec):
                yield f"receives[{index}]", item

    def example_files(self, type_: TypeSpec) -> list[Path]:
        """The valid example files of one of its types, sorted (none without ``examples``)."""
        if self.examples is None:
            return []
        return sorted((self.examples / type_.short_name / "valid").glob("*.json"))

    def received(self) -> frozenset[str]:
        """The names of the types its role receives, as declared (full or short)."""
        return frozenset(
            item.type if isinstance(item, TypeSpec) else item for item in self.receives
        )
