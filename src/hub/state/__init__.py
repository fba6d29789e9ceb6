"""Routing state: what the hub remembers of earlier events, and how it survives restarts."""

from hub.state.store import Overlay, StateStore, StateView

__all__ = ["Overlay", "StateStore", "StateView"]
