"""Public test helpers: the partner example messages, events built from them, an in-memory pipeline.

The examples live in ``examples/`` at the repository root (see examples/README.md): per
type a ``valid/`` and an ``invalid/`` folder, ``invalid.yaml`` naming the one error each
invalid file must produce, and ``scenario.yaml`` listing the valid files in the order a
pipeline receives them. Every helper returns fresh copies, so a test may change them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import yaml

from hub.connectors.registry import Partner, PartnerRegistry, WebhookDelivery, load_registry
from hub.errors import ErrorCode
from hub.schemas.registry import spec_for

if TYPE_CHECKING:
    from hub.pipeline import InboundRecord, OutRecord, Pipeline
    from hub.settings import HubSettings
    from hub.state import StateStore
    from hub.topics import TopicLayout

__all__ = [
    "EXAMPLES_DIR",
    "OMIT",
    "InMemoryPipeline",
    "InvalidExample",
    "demo_registry",
    "examples_for",
    "invalid_examples",
    "load_example",
    "make_event",
    "many_webhook_partners",
    "personal_values",
    "scenario",
    "sender_of",
    "valid_example",
]

# --- Example messages (examples/, hub.schemas) ---------------------------------------------

EXAMPLES_DIR: Final = Path(__file__).resolve().parents[3] / "examples"


class _Omit:
    """The marker for "leave this field out" in ``make_event`` overrides."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit()


class InvalidExample(NamedTuple):
    """An invalid example file and the one error it must produce."""

    file: Path
    code: ErrorCode
    path: str


@cache
def _read(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


def load_example(path: Path | str) -> dict[str, Any]:
    """One example event (a structured-mode dict), from a path absolute or under ``examples/``."""
    path = Path(path)
    if not path.is_absolute():
        path = EXAMPLES_DIR / path
    return copy.deepcopy(_read(path.resolve()))


@cache
def _scenario_files() -> tuple[Path, ...]:
    raw = yaml.safe_load((EXAMPLES_DIR / "scenario.yaml").read_text(encoding="utf-8"))
    return tuple(EXAMPLES_DIR / name for name in raw["events"])


def scenario() -> list[dict[str, Any]]:
    """Every valid example, in the order of ``scenario.yaml`` (the order a pipeline receives them)."""
    return [load_example(path) for path in _scenario_files()]


def _valid_files(type_: str) -> list[Path]:
    short_name = spec_for(type_).short_name
    folder = EXAMPLES_DIR / short_name / "valid"
    in_scenario = [path for path in _scenario_files() if path.parent == folder]
    others = sorted(path for path in folder.glob("*.json") if path not in in_scenario)
    return in_scenario + others


def examples_for(type_: str) -> list[dict[str, Any]]:
    """The valid examples of a type (full type or short name), in scenario order."""
    return [load_example(path) for path in _valid_files(type_)]


def valid_example(type_: str) -> dict[str, Any]:
    """The type's first valid example in the scenario: the one ``make_event`` starts from."""
    files = _valid_files(type_)
    if not files:
        raise LookupError(f"no valid example for {type_}")
    return load_example(files[0])


def invalid_examples() -> Iterator[InvalidExample]:
    """Every invalid example with the code and path of the single error it must produce."""
    raw = yaml.safe_load((EXAMPLES_DIR / "invalid.yaml").read_text(encoding="utf-8"))
    for name, expected in sorted(raw.items()):
        yield InvalidExample(EXAMPLES_DIR / name, ErrorCode(expected["code"]), expected["path"])


def _apply(target: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for name, value in overrides.items():
        if value is OMIT:
            target.pop(name, None)
        else:
            target[name] = copy.deepcopy(value)


def make_event(
    type_: str, /, *, envelope: Mapping[str, Any] | None = None, **data_overrides: Any
) -> dict[str, Any]:
    """A valid structured-mode event of ``type_`` built from its example, with changes.

    ``data_overrides`` replace top-level fields of ``data`` (``OMIT`` removes one);
    ``envelope`` does the same for attributes. The event gets a fresh random ``id`` unless
    ``envelope`` sets one; ``subject`` is not kept in step with ``data``: set both.
    """
    event = valid_example(type_)
    event["id"] = str(uuid.uuid4())
    _apply(event["data"], data_overrides)
    _apply(event, envelope or {})
    return event


@cache
def demo_registry() -> PartnerRegistry:
    """The demo partner registry (src/hub/data/partners.demo.yaml), loaded once."""
    return load_registry()


def many_webhook_partners(count: int) -> PartnerRegistry:
    """A deployment's three singleton partners and ``count`` GPs taking webhooks (``gp-0``, ``gp-1``, ...).

    For tests and benchmarks of many partners; the webhook URLs are never called.
    """
    singletons = [
        Partner(id=role, role=role, source=f"urn:nld:oin:{role}")
        for role in ("backoffice", "swt", "veilig-thuis")
    ]
    gps = [
        Partner(
            id=f"gp-{n}",
            role="gp",
            source=f"urn:nld:agb:{10000000 + n}",
            agb=str(10000000 + n),
            # The name of a variable that is never read, not a secret.
            delivery=WebhookDelivery(
                url=f"https://gp-{n}.example/hooks",
                secret_env="GP_WEBHOOK_SECRET",  # noqa: S106
            ),
        )
        for n in range(count)
    ]
    return PartnerRegistry(singletons + gps)


def sender_of(event: Mapping[str, Any], registry: PartnerRegistry | None = None) -> Partner:
    """The registered partner whose source the event carries (demo registry by default)."""
    partner = (registry or demo_registry()).by_source(str(event.get("source")))
    if partner is None:
        raise LookupError("no registered partner sends as this event's source")
    return partner


# --- The pipeline in memory (hub.pipeline, without Kafka) ----------------------------------


class InMemoryPipeline:
    """The live hub's per-record step with in-memory state: events in, the records it would write out.

    Events are fed as the Kafka binary-mode records a partner's gateway writes to its
    inbound topic; each ``feed`` is one committed batch, as the router runs it. Built
    from settings (default: ``HubSettings()``, the demo registry and table).
    """

    def __init__(
        self,
        settings: HubSettings | None = None,
        *,
        registry: PartnerRegistry | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from hub.app import kafka_adapters
        from hub.audit.chain import Signer
        from hub.pipeline import Pipeline
        from hub.routing import build_context
        from hub.settings import HubSettings
        from hub.state import StateStore
        from hub.topics import TopicLayout

        settings = settings or HubSettings()
        self.registry = registry or load_registry(settings.partners_file)
        self.layout: TopicLayout = TopicLayout(settings.kafka.topic_prefix)
        ctx = build_context(settings, self.registry)
        audit = settings.audit
        signer = Signer.from_setting(audit.signing_key_id, audit.signing_key.get_secret_value())
        if clock is not None:
            ctx = dataclasses.replace(ctx, now=clock)
            self.pipeline: Pipeline = Pipeline(
                self.layout,
                self.registry,
                ctx,
                clock,
                role_adapters=kafka_adapters(),
                signer=signer,
                checkpoint_every=audit.checkpoint_every,
            )
        else:
            self.pipeline = Pipeline(
                self.layout,
                self.registry,
                ctx,
                role_adapters=kafka_adapters(),
                signer=signer,
                checkpoint_every=audit.checkpoint_every,
            )
        self.state: StateStore = StateStore()
        self.held: StateStore = StateStore()
        self._offsets: dict[str, int] = {}

    def record(self, event: Mapping[str, Any], *, topic: str | None = None) -> InboundRecord:
        """The event as a binary-mode record on its sender's inbound topic (or ``topic``)."""
        from hub.envelope import to_kafka
        from hub.pipeline import InboundRecord

        if topic is None:
            topic = self.layout.inbound(sender_of(event, self.registry).id)
        key, headers, value = to_kafka(event)
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        return InboundRecord(topic, 0, offset, key, value, tuple(headers))

    def feed(self, *items: Mapping[str, Any] | InboundRecord) -> list[OutRecord]:
        """Run events (or ready records) as one batch and commit it; what the hub writes, in order."""
        return self.feed_records(
            item if not isinstance(item, Mapping) else self.record(item) for item in items
        )

    def feed_records(self, records: Iterable[InboundRecord]) -> list[OutRecord]:
        """Run records as one batch and commit it; what the hub writes, in order."""
        state, held = self.state.overlay(), self.held.overlay()
        out = self.pipeline.handle_batch(records, state, held)
        state.commit()
        held.commit()
        return out


# --- Personal data in examples (for "no personal data in logs, headers, errors" tests) -------

PERSONAL_KEYS: Final = frozenset(
    {
        "bsn", "initials", "given_name", "family_name_prefix", "family_name", "birth_date",
        "street", "house_letter", "house_number_addition", "postcode", "city", "phone",
        "email", "name", "practice_name", "organisation", "summary", "description", "note",
        "motivation", "explanation", "safety_conditions", "monitoring_agreements",
        "not_informed_reason", "parties",
    }
)  # fmt: skip


def personal_values(value: Any, key: str = "") -> Iterator[str]:
    """Every personal or free-text string in a document, as sent and as the hub normalises it.

    Values shorter than four characters (a house letter, an initial) occur by chance in
    ids and timestamps, so they are left out; a ``reason`` counts only when it is free text
    (a stop reason or park reason is a code). BSN-shaped strings count under any key.
    """
    from hub.envelope import is_bsn

    if isinstance(value, Mapping):
        for child_key, child in value.items():
            if key == "team" and child_key == "name":
                continue  # a team's name is an organisation's, and the budget subject by contract
            yield from personal_values(child, str(child_key))
    elif isinstance(value, list):
        for child in value:
            yield from personal_values(child, key)
    elif isinstance(value, str) and (
        (key in PERSONAL_KEYS and len(value) > 3)
        or (key == "reason" and " " in value)
        or is_bsn(value)
    ):
        yield value
        if key == "postcode":
            yield value.replace(" ", "").upper()  # as the hub normalises it
