"""Running the gateway under uvicorn: TLS and client certificates, no access log, graceful stop.

uvicorn's access log would write the raw request path, and ``GET /events/{id}`` carries a
partner's event id there; the app logs each request by endpoint name instead
(``http_request``), so uvicorn's is off and its logging configuration is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Generator, Sequence
from typing import Any

import uvicorn

from hub.gateway.tls import TLSExtensionProtocol
from hub.settings import GatewaySettings

__all__ = ["GatewayServer", "uvicorn_config"]

_GRACEFUL_SHUTDOWN_SECONDS = 10


def uvicorn_config(app: Any, settings: GatewaySettings) -> uvicorn.Config:
    """The uvicorn configuration for the gateway app and its settings."""
    tls: dict[str, Any] = {}
    if settings.tls_certfile is not None:
        tls = {
            "ssl_certfile": str(settings.tls_certfile),
            "ssl_keyfile": str(settings.tls_keyfile),
        }
    if settings.tls_client_ca is not None:
        tls["ssl_ca_certs"] = str(settings.tls_client_ca)
        tls["ssl_cert_reqs"] = (
            ssl.CERT_REQUIRED if settings.tls_client_cert == "required" else ssl.CERT_OPTIONAL
        )
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=TLSExtensionProtocol,
        ws="none",
        lifespan="on",
        access_log=False,
        log_config=None,
        proxy_headers=False,  # no X-Forwarded-*: the gateway trusts no proxy by default
        server_header=False,
        limit_concurrency=settings.limit_concurrency,
        timeout_keep_alive=settings.timeout_keep_alive,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        **tls,
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The hub's process owns SIGINT/SIGTERM (hub.app.run_until_signalled); stop is an Event.
        yield


class GatewayServer:
    """Serves the gateway app until ``stop`` is set; usable as a service of ``run_until_signalled``."""

    def __init__(self, app: Any, settings: GatewaySettings) -> None:
        self._server = _Server(uvicorn_config(app, settings))
        self._started = asyncio.Event()

    @property
    def started(self) -> asyncio.Event:
        """Set once the socket listens and the app's lifespan has started."""
        return self._started

    @property
    def ports(self) -> list[int]:
        """The ports listened on (useful with port 0)."""
        return [
            sock.getsockname()[1]
            for server in self._server.servers
            for sock in (server.sockets or ())
        ]

    async def run(self, stop: asyncio.Event, *, sockets: Sequence[socket.socket] = ()) -> None:
        """Serve until ``stop`` is set, then finish open requests (bounded) and return."""

        async def watch() -> None:
            while not self._server.started:
                if self._server.should_exit:
                    return
                await asyncio.sleep(0.02)
            self._started.set()
            await stop.wait()
            self._server.should_exit = True

        watcher = asyncio.create_task(watch())
        try:
            await self._server.serve(sockets=list(sockets) or None)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
