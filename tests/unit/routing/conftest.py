"""Fixtures for routing tests: the demo registry, a fixed context, in-memory hubs."""

from __future__ import annotations

import pytest

from hub.connectors.registry import PartnerRegistry, load_registry
from hub.routing import RoutingContext

from .routing_helpers import InMemoryHub, make_context, scenario_files


@pytest.fixture(scope="session")
def registry() -> PartnerRegistry:
    """The demo partner registry."""
    return load_registry()


@pytest.fixture(scope="session")
def ctx(registry: PartnerRegistry) -> RoutingContext:
    """The default routing context with a fixed clock and trace id."""
    return make_context(registry)


@pytest.fixture
def hub(ctx: RoutingContext) -> InMemoryHub:
    """An empty in-memory hub."""
    return InMemoryHub(ctx)


@pytest.fixture(scope="session")
def scenario(ctx: RoutingContext) -> InMemoryHub:
    """The hub after the whole example chain (do not send more events to it)."""
    hub = InMemoryHub(ctx)
    hub.send_examples(scenario_files())
    return hub
