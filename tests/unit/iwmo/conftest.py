"""Fixtures for the iWmo translator tests."""

from __future__ import annotations

import pytest

from .iwmo_helpers import MemoryState, hub_state


@pytest.fixture
def state() -> MemoryState:
    """A hub that issued the example client's two assignments to the example provider."""
    return hub_state()
