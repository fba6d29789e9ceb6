"""The event-loop probe: work that holds the loop shows in hub_event_loop_lag_seconds."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from hub.observability.loop import TICK, LoopWatch


def _count_above(seconds: float) -> float:
    """Observations above ``seconds`` so far (the +Inf bucket less the bucket at ``seconds``)."""
    name = "hub_event_loop_lag_seconds_bucket"
    total = REGISTRY.get_sample_value(name, {"le": "+Inf"}) or 0.0
    return total - (REGISTRY.get_sample_value(name, {"le": str(seconds)}) or 0.0)


async def test_a_held_loop_is_observed_and_the_watch_stops() -> None:
    """Holding the loop for 0.3 s gives an observation above 0.25 s; stop ends the probe at once."""
    before = _count_above(0.25)
    watch = LoopWatch()
    await watch.start()
    await asyncio.sleep(TICK / 2)
    time.sleep(0.3)  # noqa: ASYNC251 - synchronous work on the loop, as a stall is
    await asyncio.sleep(TICK * 2)
    await asyncio.wait_for(watch.stop(), 1)
    assert _count_above(0.25) >= before + 1  # a busy machine may add one of its own
