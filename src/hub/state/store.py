"""A key-value view of the routing state, with a per-batch overlay that commits or discards.

The values are small JSON objects (ids, AGBs, consent flags, links, periods, result
areas, law, pseudonyms; never names or free text). Kafka is the source of truth: every
change is also written to a compacted changelog topic in the same transaction as the
deliveries it explains, and the store is rebuilt from that topic on start.

This module's ``StateStore`` keeps the committed values in a dict: the held content
(one plan per open case) and the in-memory tools (`hub preview`, ``hub.testing``) use
it. The running hub keeps the routing state, which gains a duplicate marker per event,
in ``hub.state.disk.DiskStore``, so its memory stays flat (docs/state.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

__all__ = ["CommittedState", "Overlay", "StateStore", "StateView"]

Value = Mapping[str, Any]


class StateView(Protocol):
    """Read access to the state, as routing sees it."""

    def get(self, key: str) -> Value | None:
        """The value stored under key, or None."""
        ...

    def keys_with_prefix(self, prefix: str) -> Iterator[str]:
        """Every live key that starts with prefix (order unspecified)."""
        ...

    def scan(self) -> Iterator[tuple[str, Value]]:
        """Every live key with its value, for sweeps over the whole state (order unspecified).

        A sweep reads it once: a store may read it in pages and leave its cache of the
        keys in use alone, so a sweep neither holds the whole state in memory at once
        nor evicts what the batches read.
        """
        ...


class CommittedState(StateView, Protocol):
    """A store an overlay commits to: StateStore (in memory) or DiskStore (a SQLite file)."""

    def apply(self, changes: Mapping[str, Value | None]) -> None:
        """Apply committed changes (None deletes the key)."""
        ...


class StateStore:
    """The committed state of this hub instance, in memory."""

    def __init__(self) -> None:
        self._data: dict[str, Value] = {}

    def get(self, key: str) -> Value | None:
        """The value stored under key, or None."""
        return self._data.get(key)

    def keys_with_prefix(self, prefix: str) -> Iterator[str]:
        """Every live key that starts with prefix."""
        return (key for key in list(self._data) if key.startswith(prefix))

    def scan(self) -> Iterator[tuple[str, Value]]:
        """Every live key with its value (a copy of the list: the caller may write meanwhile)."""
        return iter(list(self._data.items()))

    def apply(self, changes: Mapping[str, Value | None]) -> None:
        """Apply committed changes (None deletes the key)."""
        for key, value in changes.items():
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = value

    def overlay(self) -> Overlay:
        """A scratch layer for one batch: reads see its own writes, nothing reaches the store until commit."""
        return Overlay(self)

    def __len__(self) -> int:
        return len(self._data)


_DELETED: Any = object()


class Overlay:
    """Uncommitted changes on top of a StateStore; commit() applies them, dropping it discards them."""

    def __init__(self, base: CommittedState) -> None:
        self._base = base
        self._changes: dict[str, Any] = {}

    def get(self, key: str) -> Value | None:
        """The value under key as this batch sees it."""
        if key in self._changes:
            value = self._changes[key]
            return None if value is _DELETED else value
        return self._base.get(key)

    def keys_with_prefix(self, prefix: str) -> Iterator[str]:
        """Live keys with this prefix, including this batch's additions and without its deletions."""
        seen = set()
        for key in self._base.keys_with_prefix(prefix):
            seen.add(key)
            if self._changes.get(key, None) is not _DELETED:
                yield key
        for key, value in list(self._changes.items()):
            if key.startswith(prefix) and key not in seen and value is not _DELETED:
                yield key

    def scan(self) -> Iterator[tuple[str, Value]]:
        """Every live key with its value as this batch sees it."""
        for key, value in self._base.scan():
            if key not in self._changes:
                yield key, value
        for key, value in list(self._changes.items()):
            if value is not _DELETED:
                yield key, value

    def put(self, changes: Mapping[str, Value | None]) -> None:
        """Record changes made by one event (None deletes)."""
        for key, value in changes.items():
            self._changes[key] = _DELETED if value is None else value

    def pending(self) -> dict[str, Value | None]:
        """The changes of this batch, as they go to the changelog."""
        return {k: (None if v is _DELETED else v) for k, v in self._changes.items()}

    def commit(self) -> None:
        """Apply this batch's changes to the store (after the Kafka transaction committed)."""
        self._base.apply(self.pending())
        self._changes.clear()
