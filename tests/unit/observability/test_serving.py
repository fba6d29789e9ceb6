"""The uvicorn server both HTTP ports run on: it serves until its stop Event is set."""

from __future__ import annotations

import asyncio
import socket

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hub.observability.serving import ServiceServer


def _server() -> ServiceServer:
    app = Starlette(routes=[Route("/", lambda _: PlainTextResponse("up"))])
    return ServiceServer(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    )


async def test_it_serves_says_when_it_listens_and_ends_when_told() -> None:
    """``on_started`` fires once the port listens; setting ``stop`` ends the serving."""
    server, stop, started = _server(), asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(server.serve_until(stop, on_started=started.set))
    await asyncio.wait_for(started.wait(), timeout=10)
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{server.ports[0]}/")
    assert (answer.status_code, answer.text) == (200, "up")
    stop.set()
    await asyncio.wait_for(serving, timeout=10)
    assert serving.exception() is None


async def test_it_serves_on_the_sockets_it_is_given() -> None:
    """A socket handed in is the one served, and no other port is opened."""
    given = socket.socket()
    given.bind(("127.0.0.1", 0))
    port = given.getsockname()[1]
    server, stop, started = _server(), asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(server.serve_until(stop, on_started=started.set, sockets=[given]))
    try:
        await asyncio.wait_for(started.wait(), timeout=10)
        assert server.ports == [port]
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=10)
        given.close()
