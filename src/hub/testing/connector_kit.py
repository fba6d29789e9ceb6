"""The contract test kit: what every connector's tests call (docs/connectors.md, "The kit").

::

    from hub.testing.connector_kit import check_connector
    from my_connector import CONNECTOR

    def test_my_connector_keeps_the_contract() -> None:
        check_connector(CONNECTOR)

``check_connector`` runs five checks and fails with every problem they find, each as
``[check] where: what is wrong``, in words a connector's developer can act on:

- **examples**: the connector has a valid example of every type it declares, and each
  validates as sent by its registered partner;
- **views**: each recipient of the connector's types, and the connector's role for every
  type it receives, sees only the fields its published view schema allows
  (``hub.privacy.views``): every example, projected by each row with every condition
  holding, validates against the view schema of the recipient's role;
- **adapters**: the inbound adapters its partners send through (its own, or the hub's
  CloudEvents modes) answer garbage with contract errors (a path and a code), never an
  exception;
- **delivery**: a view of each type its role receives is signed, retried after a 503 and
  a timeout, and delivered as the partner can verify (``hub.delivery.receiver.verify``);
- **safety**: the table compiles with its rows, no compiled row sends a protected type
  outside its class, and a row that would is refused with the class's rule.

Each check is also a function returning its problems (``example_problems`` ...), for a
test that wants one alone. The connector must be discoverable (a module of ``hub.roles``
or a ``hub.connectors`` entry point): the hub knows types only through discovery.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import httpx
import jsonschema
import yaml

from hub.connectors.discovery import catalogue
from hub.connectors.protocol import SAFETY, Connector, TypeSpec
from hub.connectors.registry import Partner, PartnerRegistry, load_registry
from hub.delivery.breaker import CircuitBreaker
from hub.delivery.receiver import WebhookVerificationError, verify
from hub.delivery.sender import AttemptResult, WebhookSender
from hub.errors import ConfigurationError, ErrorCode, ErrorDetail, InvalidEvent
from hub.inbound import (
    HTTP_ADAPTERS,
    KAFKA_ADAPTERS,
    HttpAdapter,
    HttpMessage,
    KafkaAdapter,
    Reading,
)
from hub.privacy.policy import DEFAULT_POLICY_PATH, PrivacyPolicy, Route, load_policy
from hub.privacy.project import project
from hub.privacy.views import view_file, view_schemas
from hub.schemas import validate_event, validate_with_registry
from hub.settings import WebhookSettings

__all__ = [
    "ConnectorContractError",
    "Problem",
    "adapter_problems",
    "check_connector",
    "connector_problems",
    "delivery_problems",
    "example_problems",
    "kit_registry",
    "safety_problems",
    "view_problems",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing the kit found wrong: which check, where (a file, a row, a path), and what."""

    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


class ConnectorContractError(AssertionError):
    """The connector breaks the contract; the message lists every problem, one per line."""

    def __init__(self, role: str, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            f"the {role} connector breaks the contract ({len(self.problems)} problem(s)):\n{lines}"
        )


def check_connector(
    connector: Connector,
    *,
    registry: PartnerRegistry | None = None,
    policy_file: Path | str = DEFAULT_POLICY_PATH,
) -> None:
    """Run every check of the kit; raise ConnectorContractError listing every problem found.

    ``registry`` defaults to ``kit_registry(connector)``; ``policy_file`` is the main table
    the connector's rows are compiled with (default: the hub's default table). It may be
    called from a synchronous or an async test: the delivery check runs a loop of its own.
    """
    problems = connector_problems(connector, registry=registry, policy_file=policy_file)
    if problems:
        raise ConnectorContractError(connector.role.name, problems)


def connector_problems(
    connector: Connector,
    *,
    registry: PartnerRegistry | None = None,
    policy_file: Path | str = DEFAULT_POLICY_PATH,
) -> list[Problem]:
    """Every problem of every check, in the order examples, adapters, safety, views, delivery."""
    if not any(found is connector for found in catalogue().connectors):
        return [
            Problem(
                "discovery",
                connector.role.name,
                "the hub does not find this connector: put its module in src/hub/roles/ (a "
                "module defining CONNECTOR) or declare it as a hub.connectors entry point",
            )
        ]
    registry = registry or kit_registry(connector)
    problems = example_problems(connector, registry)
    problems += adapter_problems(connector)
    problems += safety_problems(connector, registry, policy_file)
    try:
        policy = load_policy(policy_file, registry=registry)
    except ConfigurationError:
        return problems  # reported by the safety check; the views need a compiled table
    problems += view_problems(connector, registry, policy)
    problems += delivery_problems(connector, registry, policy)
    return problems


# --------------------------------------------------------------------------- registry


def kit_registry(connector: Connector) -> PartnerRegistry:
    """The demo registry plus one partner of every role it lacks (the connector's own, mostly).

    A partner added for the connector's role sends as the ``source`` of the connector's
    first example of a type it sends, so its examples validate as sent by it; for a role
    with an AGB, its AGB is the one at the ``sender_agb_field`` of that first example that
    has one (else, as for every other role added, one counted from 99000001).
    """
    demo = load_registry()
    partners = list(demo)
    next_agb = 99000001
    for role in catalogue().roles.values():
        if demo.with_role(role.name):
            continue
        source = f"urn:nld:kit:{role.name}"
        own_agb = None
        if role.name == connector.role.name:
            source = next(_example_sources(connector), source)
            own_agb = next(_example_agbs(connector), None)
        agb = None
        if role.agb:
            agb = own_agb
            if agb is None:
                agb, next_agb = f"{next_agb:08d}", next_agb + 1
        partners.append(Partner(id=f"{role.name}-kit", role=role.name, source=source, agb=agb))
    return PartnerRegistry(partners)


def _example_sources(connector: Connector) -> Iterator[str]:
    for spec in connector.sends:
        for file in connector.example_files(spec):
            source = _load(file).get("source")
            if isinstance(source, str):
                yield source


def _example_agbs(connector: Connector) -> Iterator[str]:
    """The 8-digit AGBs the connector's examples carry where their type names the sender's."""
    for spec in connector.sends:
        if spec.sender_agb_field is None:
            continue
        for file in connector.example_files(spec):
            value: Any = _load(file).get("data")
            for name in spec.sender_agb_field:
                value = value.get(name) if isinstance(value, dict) else None
            if isinstance(value, str) and len(value) == 8 and value.isascii() and value.isdigit():
                yield value


# --------------------------------------------------------------------------- examples


def _load(file: Path) -> dict[str, Any]:
    value = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def example_problems(connector: Connector, registry: PartnerRegistry) -> list[Problem]:
    """Each declared type has a valid example, and every example validates as sent by its partner."""
    problems: list[Problem] = []
    declared = list(connector.declared())
    if declared and connector.examples is None:
        return [
            Problem(
                "examples",
                "Connector.examples",
                "the connector declares types but no examples folder; set examples= to a "
                "folder holding <short type>/valid/<name>.json",
            )
        ]
    for where, spec in declared:
        files = connector.example_files(spec)
        if not files:
            folder = Path(str(connector.examples)) / spec.short_name / "valid"
            problems.append(
                Problem(
                    "examples",
                    str(folder),
                    f"no valid example of {spec.type} ({where}); add one structured-mode "
                    "event as a .json file here",
                )
            )
        for file in files:
            problems += _example_file_problems(file, spec, registry)
    return problems


def _example_file_problems(file: Path, spec: TypeSpec, registry: PartnerRegistry) -> list[Problem]:
    try:
        raw = _load(file)
    except (OSError, ValueError) as exc:
        return [Problem("examples", str(file), f"cannot be read as a JSON object ({exc})")]
    if raw.get("type") != spec.type:
        return [Problem("examples", f"{file}: type", f"is not {spec.type}, the type of its folder")]
    try:
        validate_with_registry(raw, registry)
    except InvalidEvent as exc:
        return [
            Problem("examples", f"{file}: {_where(error)}", f"{error.code}: {error.message}")
            for error in exc.errors
        ]
    return []


def _where(error: ErrorDetail) -> str:
    return error.path or "(the event)"


@cache
def _examples_of(event_type: str) -> tuple[dict[str, Any], ...]:
    """The valid examples of a type, from the connector that declares it."""
    cat = catalogue()
    spec = cat.types[event_type]
    connector = next(c for c in cat.connectors if c.role.name == cat.declared_by.get(spec.type, ""))
    return tuple(_load(file) for file in connector.example_files(spec))


# --------------------------------------------------------------------------- views

_ADDED_STAND_IN: Final = "00000001"


def _routes_of(connector: Connector, policy: PrivacyPolicy) -> Iterator[Route]:
    """The rows that carry the connector's types, or reach its role."""
    own = {spec.type for _, spec in connector.declared()}
    for route in policy.routes:
        if route.type in own or connector.role.name in route.roles:
            yield route


def _views_of(route: Route, registry: PartnerRegistry) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Every example of the route's type as the row lets its recipients see it, every condition held."""
    for index, raw in enumerate(_examples_of(route.type)):
        try:
            event = validate_with_registry(raw, registry)
        except InvalidEvent:
            continue  # the examples check reports it
        fields = route.projection_for(route.conditions)
        payload = project(event.canonical_data(), fields).payload
        # What the hub adds from the delivery's context (an assignment number): a stand-in.
        added = dict.fromkeys(route.added, _ADDED_STAND_IN)
        yield index, {**added, **payload}


def view_problems(
    connector: Connector, registry: PartnerRegistry, policy: PrivacyPolicy
) -> list[Problem]:
    """Each recipient of each row of the connector sees only what its published view schema allows."""
    problems: list[Problem] = []
    schemas = view_schemas(policy)
    for route in _routes_of(connector, policy):
        for index, payload in _views_of(route, registry):
            for role in route.roles:
                path = view_file(role, route.type)
                validator = jsonschema.Draft202012Validator(schemas[path])
                for error in sorted(validator.iter_errors(payload), key=str):
                    field = ".".join(str(p) for p in error.absolute_path) or "(data)"
                    problems.append(
                        Problem(
                            "views",
                            f"{_row(route)} (to a {role} partner)",
                            f"example {index} of {route.type} as delivered breaks the view "
                            f"schema {path} at {field}: {error.validator} "
                            f"({_plain(error)})",
                        )
                    )
    return problems


def _row(route: Route) -> str:
    """A row by what it says: one row per type and recipient, in the table or a connector's rows."""
    spec = catalogue().types[route.type]
    return f"the row {spec.short_name} -> {route.recipient}"


def _plain(error: jsonschema.ValidationError) -> str:
    """The rule a view broke, without the value (a view holds personal data)."""
    if error.validator == "additionalProperties":
        return "a field the recipient may not see"
    if error.validator == "required":
        return "a field the recipient must always get is missing"
    return f"{error.validator} {error.validator_value!r}"[:120]


# --------------------------------------------------------------------------- adapters

_GARBAGE: Final = (
    b"",
    b"{",
    b"[]",
    b"null",
    b"{}",
    b"[{}, 1, null]",
    b'{"specversion": 1, "id": {}, "data": []}',
    b"\x00\xff\xfe garbage \x80",
    b"<xml>not json</xml>",
    "\u00e9\u00e8".encode("latin-1"),
)

_CONTENT_TYPES: Final = (
    None,
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
    "application/json",
    "application/xml",
    "text/xml",
    "text/plain",
    "application/octet-stream",
    "multipart/form-data; boundary=x",
)

_CE_HEADERS: Final = (
    (),
    (("ce-specversion", "1.0"), ("ce-id", "x"), ("ce-type", "nope"), ("ce-source", "urn:x:y")),
    (("ce-specversion", "0.3"),),
)


def _http_messages() -> Iterator[HttpMessage]:
    for content_type in _CONTENT_TYPES:
        for extra in _CE_HEADERS:
            headers = ((("content-type", content_type),) if content_type else ()) + extra
            for body in _GARBAGE:
                yield HttpMessage(headers=headers, body=body)


@dataclass(frozen=True, slots=True)
class _Record:
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    value: bytes | None


def _kafka_records() -> Iterator[_Record]:
    for content_type in _CONTENT_TYPES:
        for extra in _CE_HEADERS:
            headers = tuple((name.replace("ce-", "ce_"), value.encode()) for name, value in extra)
            if content_type:
                headers = (("content-type", content_type.encode()), *headers)
            for key in (None, b"", b"\xff"):
                for value in (None, *_GARBAGE):
                    yield _Record(key, headers, value)


def _reading_problems(check: str, where: str, reading: Reading) -> list[Problem]:
    if reading.event is None:
        if not reading.errors:
            return [Problem(check, where, "an unreadable event came back without errors")]
        return [
            Problem(check, where, f"an error is not a path and a code: {error!r}")
            for error in reading.errors
            if not (isinstance(error.path, str) and isinstance(error.code, ErrorCode))
        ]
    try:
        validate_event(reading.event, sender=None)
    except InvalidEvent:
        return []
    return [Problem(check, where, "garbage came out as a valid event")]


def _describe(message: HttpMessage | _Record) -> str:
    content_type = next((v for k, v in message.headers if k == "content-type"), None)
    value = message.body if isinstance(message, HttpMessage) else message.value
    if isinstance(content_type, bytes):
        content_type = content_type.decode()
    return f"content-type {content_type or '(none)'}, body {value!r}"[:160]


def adapter_problems(connector: Connector) -> list[Problem]:
    """Its adapters (or the hub's, which its partners then use) answer garbage with contract errors."""
    http: Sequence[HttpAdapter] = connector.http_adapters or HTTP_ADAPTERS
    kafka: Sequence[KafkaAdapter] = connector.kafka_adapters or KAFKA_ADAPTERS
    problems: list[Problem] = []
    for adapter in http:
        name = type(adapter).__name__
        for message in _http_messages():
            if not adapter.accepts(HttpMessage(message.headers)):
                continue
            where = f"{name} ({_describe(message)})"
            try:
                readings = adapter.read(message)
            except InvalidEvent as exc:
                if not exc.errors:
                    problems.append(Problem("adapters", where, "refused without errors"))
                continue
            except Exception as exc:
                problems.append(
                    Problem("adapters", where, f"raised {type(exc).__name__} instead of errors")
                )
                continue
            for reading in readings:
                problems += _reading_problems("adapters", where, reading)
    for kafka_adapter in kafka:
        name = type(kafka_adapter).__name__
        for record in _kafka_records():
            if not kafka_adapter.accepts(record.headers):
                continue
            where = f"{name} ({_describe(record)})"
            try:
                reading = kafka_adapter.read(record)
            except Exception as exc:
                problems.append(
                    Problem("adapters", where, f"raised {type(exc).__name__} instead of errors")
                )
                continue
            problems += _reading_problems("adapters", where, reading)
    return _first_per_adapter(problems)


def _first_per_adapter(problems: list[Problem]) -> list[Problem]:
    """One problem per adapter and message: the same bug found in 300 bodies is one line."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for problem in problems:
        key = (problem.where.split(" ", 1)[0], problem.message)
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept


# --------------------------------------------------------------------------- delivery

_KEY: Final = b"connector-kit-secret-of-32-bytes"
_FAST: Final = WebhookSettings(
    initial_backoff_seconds=0.001,
    max_backoff_seconds=0.005,
    jitter_seconds=0.001,
    max_attempts=4,
    max_elapsed_seconds=10,
    timeout_seconds=1,
    breaker_failure_threshold=100,
    breaker_cooldown_seconds=0.05,
)


def delivery_problems(
    connector: Connector, registry: PartnerRegistry, policy: PrivacyPolicy
) -> list[Problem]:
    """A view of each type its role receives is signed, retried (503, timeout) and then delivered."""
    events = []
    for route in policy.routes:
        if connector.role.name not in route.roles:
            continue
        for index, payload in _views_of(route, registry):
            raw = _examples_of(route.type)[index]
            events.append((f"{_row(route)}, example {index}", {**raw, "data": payload}))
            break
    if not events:
        return []
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_deliver_all(connector.role.name, events))
    # Called from an async test: its loop is busy running the test, so use a loop of our own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _deliver_all(connector.role.name, events)).result()


async def _deliver_all(role: str, events: list[tuple[str, dict[str, Any]]]) -> list[Problem]:
    problems = []
    for where, event in events:
        problems += await _deliver(role, where, event)
    return problems


async def _deliver(role: str, where: str, event: dict[str, Any]) -> list[Problem]:
    seen: list[httpx.Request] = []
    answers: list[httpx.Response | Exception] = [
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        httpx.Response(204),
    ]
    script = iter(answers)

    def respond(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        item = next(script)
        if isinstance(item, Exception):
            raise item
        return item

    attempts: list[AttemptResult] = []

    async def record(result: AttemptResult) -> None:
        attempts.append(result)

    async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as client:
        sender = WebhookSender(
            partner_id=f"{role}-kit",
            url="https://partner.example/hooks",
            keys=(_KEY,),
            settings=_FAST,
            client=client,
            breaker=CircuitBreaker(failure_threshold=100, cooldown_seconds=0.05),
        )
        try:
            outcome = await sender.send(event, record)
        except Exception as exc:
            return [Problem("delivery", where, f"sending raised {type(exc).__name__}")]
    problems = []
    if not outcome.delivered or len(seen) != 3:
        problems.append(
            Problem(
                "delivery",
                where,
                f"not delivered on the third attempt after a 503 and a timeout "
                f"(delivered: {outcome.delivered}, attempts: {len(seen)})",
            )
        )
    if seen:
        try:
            received = verify(seen[-1].headers, seen[-1].content, _KEY)
        except WebhookVerificationError as exc:
            problems.append(Problem("delivery", where, f"the signature does not verify: {exc}"))
        else:
            if received != json.loads(json.dumps(event)):
                problems.append(Problem("delivery", where, "the partner received another event"))
    return problems


# --------------------------------------------------------------------------- safety


def safety_problems(
    connector: Connector, registry: PartnerRegistry, policy_file: Path | str = DEFAULT_POLICY_PATH
) -> list[Problem]:
    """The table compiles with its rows; protected types stay in their class; a breach is refused."""
    try:
        policy = load_policy(policy_file, registry=registry)
    except ConfigurationError as exc:
        # A protection class's refusal is the safety check's; any other refusal of the
        # table with the connector's rows (a field typo, a reach) is the rows' problem.
        rules = {SAFETY.rule} | {
            spec.protection.rule for spec in catalogue().types.values() if spec.protection
        }
        check = "safety" if exc.message in rules else "rows"
        return [Problem(check, f"{exc.source}: {exc.path}", exc.message)]
    problems: list[Problem] = []
    types = catalogue().types
    for route in _routes_of(connector, policy):
        protection = types[route.type].protection
        if protection is None:
            continue
        outside = sorted(set(route.roles) - set(protection.may_reach))
        if outside:
            problems.append(
                Problem("safety", _row(route), f"reaches {outside[0]}: {protection.rule}")
            )
    problems += _breach_refused(connector, registry, policy_file)
    return problems


def _breach_refused(
    connector: Connector, registry: PartnerRegistry, policy_file: Path | str
) -> list[Problem]:
    """Add a row sending a protected type outside its class to the connector's rows: refused?"""
    cat = catalogue()
    problems = []
    classes = {
        spec.protection.name: (t, spec.protection)
        for t, spec in cat.types.items()
        if spec.protection
    }
    for event_type, protection in classes.values():
        recipient = _outside(connector, registry, protection.may_reach)
        if recipient is None:
            continue
        rows: dict[str, Any] = {"version": 1, "routes": []}
        if connector.rows is not None:
            rows = yaml.safe_load(connector.rows.read_text(encoding="utf-8"))
        breach = {
            "type": event_type,
            "recipient": recipient,
            "fields": "all",
            "legal_basis": "kit",
            "processing_activity": "kit",
        }
        rows = {**rows, "routes": [*rows.get("routes", []), breach]}
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "rows.yaml"
            path.write_text(yaml.safe_dump(rows), encoding="utf-8")
            changed = dataclasses.replace(connector, rows=path)
            connectors = [changed if c is connector else c for c in cat.connectors]
            try:
                load_policy(policy_file, registry=registry, connectors=connectors)
            except ConfigurationError as exc:
                if exc.message == protection.rule:
                    continue
                message = f"refused, but not for the {protection.name} class: {exc.message}"
            else:
                message = "accepted"
        problems.append(
            Problem(
                "safety",
                f"a row sending {event_type} to {recipient}",
                f"{message}; the hub must refuse it ({protection.rule})",
            )
        )
    return problems


def _outside(
    connector: Connector, registry: PartnerRegistry, may_reach: Sequence[str]
) -> str | None:
    """A recipient a row of this connector could name outside the class: its own role first."""
    roles = [connector.role.name, *sorted(catalogue().roles)]
    for name in roles:
        if name in may_reach:
            continue
        if registry.roles[name].singleton:
            return name
        partners = registry.with_role(name)
        if partners:
            return partners[0].id
    return None
