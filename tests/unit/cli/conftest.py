"""The routing fixtures (registry, context) for the commands that route in memory (preview)."""

from tests.unit.routing.conftest import ctx, registry

__all__ = ["ctx", "registry"]
