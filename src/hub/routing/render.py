"""Partner formats: a delivery rendered by its recipient's connector instead of sent as JSON.

A connector declares ``Renderer``s (``hub.connectors.protocol``) for a format its role
offers; a partner asks for the format in the registry (``Partner.formats``). ``release``
hands each delivery of a type a renderer takes, to a partner that asked for its format,
to the bound renderer with a ``RenderInput``: the recipient's projected view (never more),
the origin's attributes, the recipient, and the routing state as this event sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.connectors.protocol import (
    AsJson,
    Connector,
    Rendered,
    RenderFunction,
    TypeSpec,
    Unrenderable,
)
from hub.connectors.registry import Partner
from hub.state.store import StateView

__all__ = ["BoundRenderer", "PendingView", "RenderInput", "bind_renderers", "renderer_for"]


@dataclass(frozen=True, slots=True)
class RenderInput:
    """What a renderer gets for one delivery.

    ``view`` is the recipient's projected data (the document may hold nothing else).
    ``event_id``, ``source``, ``type`` and ``time`` are the origin's (the event received),
    ``subject`` the delivery's; ``delivery_id`` and ``disclosure_id`` name the delivery the
    document goes out as and its disclosure record. ``state`` is the routing state with this event's
    rule changes and the earlier renderings of this event applied: read it, never write
    it (return ``Rendered.state_changes``). ``pseudonymise`` is the hub's keyed BSN
    pseudonym, for keys that must not hold a BSN. ``received_on`` is the ISO date the hub
    received the event: every retention clock of the state counts from it.
    """

    view: Mapping[str, Any] = field(repr=False)
    event_id: str
    source: str
    type: str
    time: datetime
    subject: str
    delivery_id: str
    disclosure_id: str
    recipient: Partner
    state: StateView = field(repr=False)
    pseudonymise: Callable[[str], str] = field(repr=False)
    received_on: str
    withheld: tuple[str, ...] = ()
    """The event's fields the recipient's row left out of ``view`` (paths, as the
    disclosure record lists them): a format that needs one of them cannot be rendered."""


@dataclass(frozen=True, slots=True)
class BoundRenderer:
    """A connector's renderer with its configuration: for ``role``'s partners asking for ``format``."""

    role: str
    format: str
    types: frozenset[str]
    """Full type names."""
    render: Callable[[RenderInput], Rendered | AsJson | Unrenderable | None]


def bind_renderers(
    connectors: Iterable[Connector], types: Mapping[str, TypeSpec], settings: Any
) -> tuple[BoundRenderer, ...]:
    """Every connector's renderers, bound to the hub's settings (each reads its own section)."""
    full = {**{name: name for name in types}, **{s.short_name: s.type for s in types.values()}}
    bound: list[BoundRenderer] = []
    for connector in connectors:
        for renderer in connector.renderers:
            function: RenderFunction = renderer.bind(settings)
            bound.append(
                BoundRenderer(
                    role=connector.role.name,
                    format=renderer.format,
                    types=frozenset(full[name] for name in renderer.types if name in full),
                    render=function,
                )
            )
    return tuple(bound)


def renderer_for(
    renderers: Iterable[BoundRenderer], recipient: Partner, event_type: str
) -> BoundRenderer | None:
    """The renderer of a format the recipient asked for that takes this type, if any."""
    formats = recipient.formats
    if not formats:
        return None  # the common case: a partner that takes CloudEvents
    for renderer in renderers:
        if (
            renderer.role == recipient.role
            and renderer.format in formats
            and event_type in renderer.types
        ):
            return renderer
    return None


class PendingView:
    """A state view with changes not yet put anywhere: what a renderer reads, never writes.

    ``process`` puts an event's changes into the batch only once its release succeeded (a
    release that fails must leave the batch as it was), so renderers read through this.
    """

    def __init__(self, base: StateView, pending: Mapping[str, Mapping[str, Any] | None]) -> None:
        self._base = base
        self._pending = pending

    def get(self, key: str) -> Mapping[str, Any] | None:
        """The value under key, the pending change first."""
        if key in self._pending:
            return self._pending[key]
        return self._base.get(key)

    def keys_with_prefix(self, prefix: str) -> Iterator[str]:
        """Live keys with the prefix, pending changes applied."""
        for key in self._base.keys_with_prefix(prefix):
            if key not in self._pending:
                yield key
        for key, value in self._pending.items():
            if value is not None and key.startswith(prefix):
                yield key

    def scan(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Every live key with its value, pending changes applied."""
        for key, value in self._base.scan():
            if key not in self._pending:
                yield key, value
        for key, pending in self._pending.items():
            if pending is not None:
                yield key, pending
