"""``hub.app.after``: a service of `hub run` that starts only once the router's topics exist."""

from __future__ import annotations

import asyncio

from hub.app import after


async def test_the_service_starts_once_ready_is_set() -> None:
    ready, stop = asyncio.Event(), asyncio.Event()
    started: list[bool] = []

    async def service(stop_: asyncio.Event) -> None:
        started.append(True)
        await stop_.wait()

    task = asyncio.create_task(after(ready, service)(stop))
    await asyncio.sleep(0.01)
    assert started == []
    ready.set()
    await asyncio.sleep(0.01)
    assert started == [True]
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_a_stop_before_ready_ends_it_without_starting_the_service() -> None:
    ready, stop = asyncio.Event(), asyncio.Event()
    started: list[bool] = []

    async def service(_: asyncio.Event) -> None:
        started.append(True)

    task = asyncio.create_task(after(ready, service)(stop))
    stop.set()
    await asyncio.wait_for(task, 1)
    assert started == []


async def test_the_service_starts_after_at_most_that_long_without_ready() -> None:
    """A router that cannot create its topics does not hold up delivery and the lag monitor for good."""
    ready, stop = asyncio.Event(), asyncio.Event()
    started: list[bool] = []

    async def service(stop_: asyncio.Event) -> None:
        started.append(True)
        await stop_.wait()

    task = asyncio.create_task(after(ready, service, at_most=0.05)(stop))
    await asyncio.sleep(0.5)
    assert started == [True]
    stop.set()
    await asyncio.wait_for(task, 1)
