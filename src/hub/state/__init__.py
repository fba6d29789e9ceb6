"""Routing state: what the hub remembers of earlier events, and how it survives restarts."""

from hub.state.disk import DiskStore
from hub.state.store import CommittedState, Overlay, StateStore, StateView

__all__ = ["CommittedState", "DiskStore", "Overlay", "StateStore", "StateView"]
