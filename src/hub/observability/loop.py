"""How long something held the process's event loop: a probe that sleeps and notes how late it woke.

Every task of `hub run` (the router, the dead-letter board, the lag monitor, webhook
delivery, the ops server) shares one event loop, as the gateway's
requests and background readers share theirs: synchronous work in one holds up all the
others, and a router held up delivers late for every partner. The probe sleeps
``TICK`` seconds at a time and observes how much later it woke in
``hub_event_loop_lag_seconds``, so an operator sees such a stall, and when, on /metrics
(docs/operations.md, "Metrics"). Written here because prometheus_client measures no
event loop; ten observations a second cost nothing measurable.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from prometheus_client import Histogram

__all__ = ["LOOP_LAG_SECONDS", "TICK", "LoopWatch"]

TICK: Final = 0.1
LOOP_LAG_SECONDS = Histogram(
    "hub_event_loop_lag_seconds",
    "How much later than asked a 0.1 s sleep on this process's event loop woke: how long "
    "other work held the loop (every task of the process waited as long).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class LoopWatch:
    """The probe, as a service of `hub run` (``run``) or of the gateway (``start``, ``stop``)."""

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Sleep and observe until ``stop`` is set."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            asked = loop.time() + TICK
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK)
            if not stop.is_set():
                LOOP_LAG_SECONDS.observe(max(0.0, loop.time() - asked))

    async def start(self) -> None:
        """Start the probe beside the gateway's server."""
        self._stop.clear()
        self._task = asyncio.create_task(self.run(self._stop), name="event-loop-watch")

    async def stop(self) -> None:
        """Stop the probe and wait for it."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            await task
