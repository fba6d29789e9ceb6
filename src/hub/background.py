"""One named background task a long-lived component starts, replaces and stops.

The gateway's status tail, the iWmo tail and overdue check, and the connector of each
``hub.kafka.HealingProducer`` run one task beside the server; this is their shared start
(once), replace (a rebuilt producer connects anew) and stop (cancel, then wait for it to
end). Imports nothing of the hub, so the Kafka seam and the gateway can both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["BackgroundTask"]

Work = Callable[[], Coroutine[Any, Any, None]]


class BackgroundTask:
    """A task named ``name``, running ``work`` at most once at a time."""

    def __init__(self, name: str, work: Work) -> None:
        self._name = name
        self._work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the work unless it was started already."""
        if self._task is None:
            self.replace()

    def replace(self) -> None:
        """Start the work anew (the task it replaces has ended or is left to end)."""
        self._task = asyncio.create_task(self._work(), name=self._name)

    async def stop(self) -> None:
        """Cancel the work and wait until it has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
