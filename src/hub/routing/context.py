"""What routing needs besides the event and the state: registry, table, pseudonyms, clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.connectors.discovery import catalogue
from hub.connectors.registry import PartnerRegistry
from hub.privacy.policy import DEFAULT_POLICY_PATH, PrivacyPolicy, load_policy
from hub.privacy.pseudonym import Pseudonymiser
from hub.routing.render import BoundRenderer, bind_renderers
from hub.schemas.export import SCHEMA_BASE_URL

if TYPE_CHECKING:
    from hub.settings import HubSettings

__all__ = ["RoutingContext", "build_context", "random_trace_id", "utc_now"]


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def random_trace_id() -> str:
    """A fresh W3C trace id (32 lower-case hex characters, never all zeros)."""
    while True:
        value = secrets.token_hex(16)
        if value != "0" * 32:
            return value


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """Configuration that the rules, ``release`` and ``process`` read; fixed for the life of the process.

    - ``registry``: the partners; recipients resolve to them.
    - ``policy``: the compiled routing/privacy table.
    - ``pseudonymise``: BSN -> keyed pseudonym under the current key, for state and
      disclosure records; ``pseudonyms_of`` gives those under earlier keys too.
    - ``now``: the clock for ``decided_at``.
    - ``new_trace_id``: used when an event carries no ``traceparent``.
    - ``result_areas``: the municipality's result areas for validation (None: the defaults).
    - ``schema_base_url``: the base of the view schemas each delivery's ``dataschema`` names.
    - ``renderers``: the connectors' renderers of partner formats, bound to the settings
      (``build_context``); none: every delivery is JSON.
    """

    registry: PartnerRegistry
    policy: PrivacyPolicy
    pseudonymise: Pseudonymiser
    now: Callable[[], datetime] = utc_now
    new_trace_id: Callable[[], str] = random_trace_id
    result_areas: frozenset[str] | None = None
    schema_base_url: str = SCHEMA_BASE_URL
    renderers: tuple[BoundRenderer, ...] = ()


def build_context(settings: HubSettings, registry: PartnerRegistry) -> RoutingContext:
    """The routing context of a deployment; raises ConfigurationError for a bad policy file."""
    privacy = settings.privacy
    policy = load_policy(privacy.policy_file or DEFAULT_POLICY_PATH, registry=registry)
    areas = frozenset(privacy.result_areas) if privacy.result_areas is not None else None
    found = catalogue()
    return RoutingContext(
        registry=registry,
        policy=policy,
        pseudonymise=Pseudonymiser.from_settings(privacy),
        result_areas=areas,
        schema_base_url=privacy.view_schema_base_url,
        renderers=bind_renderers(found.connectors, found.types, settings),
    )
