"""A uvicorn server run as one of the process's services: it serves until an Event is set.

The gateway and the ops port both run this way. uvicorn's own SIGINT/SIGTERM handlers are
left out: the hub's process owns those signals (``hub.app.run_until_signalled``) and
tells each service to stop by setting its Event.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Generator, Sequence

import uvicorn

__all__ = ["ServiceServer"]

_STARTED_POLL_SECONDS = 0.02  # uvicorn has no event for "listening"; its flag is polled


class ServiceServer(uvicorn.Server):
    """A uvicorn server that serves until ``stop`` is set and says when it listens."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Install no signal handlers: the hub's process owns SIGINT/SIGTERM."""
        yield

    @property
    def ports(self) -> list[int]:
        """The ports listened on (useful with port 0)."""
        return [sock.getsockname()[1] for server in self.servers for sock in (server.sockets or ())]

    async def serve_until(
        self,
        stop: asyncio.Event,
        *,
        on_started: Callable[[], None],
        sockets: Sequence[socket.socket] = (),
    ) -> None:
        """Serve until ``stop`` is set, then finish (uvicorn's graceful shutdown) and return.

        ``on_started`` is called once the socket listens and the lifespan has started; not
        when uvicorn gives up before that (a port it cannot bind).
        """

        async def watch() -> None:
            while not self.started:
                if self.should_exit:
                    return
                await asyncio.sleep(_STARTED_POLL_SECONDS)
            on_started()
            await stop.wait()
            self.should_exit = True

        watcher = asyncio.create_task(watch())
        try:
            await self.serve(sockets=list(sockets) or None)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
