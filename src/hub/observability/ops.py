"""The operations port of `hub run`: ``/metrics``, ``/healthz`` and ``/readyz``.

`hub run` adds the operations page's routes (``hub.observability.page``) and
``/asyncapi.json`` through ``routes``; the gateway's ops port serves the three alone.

Served by uvicorn with a three-route Starlette app, the ASGI stack the gateway already
runs on, in the hub's own event loop, rather than by prometheus_client's threaded server:
``/readyz`` awaits checks that talk to Kafka through the router's own clients, which live
on this loop. ``/metrics`` is prometheus_client's exposition of the process's default
registry (text or OpenMetrics, as the scraper asks). The server logs no requests (there
is nothing in them worth a line) and leaves SIGINT/SIGTERM to ``run_until_signalled``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import uvicorn
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub.errors import ConfigurationError
from hub.observability.logging import get_logger
from hub.observability.serving import ServiceServer
from hub.settings import OpsSettings

__all__ = ["MAX_CONNECTIONS", "METRICS_CACHE_SECONDS", "Check", "OpsServer", "ops_app"]

MAX_CONNECTIONS = 32
"""Connections the ops port serves at once; more get 503 (a scraper, a few pages, probes)."""
METRICS_CACHE_SECONDS = 1.0

Check = Callable[[], Awaitable[bool]]
"""A readiness check: True when its part of the process is ready."""

_log = get_logger()


def ops_app(
    checks: Mapping[str, Check],
    *,
    timeout_seconds: float = 2.0,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The ops app, with ``routes`` added; ``/readyz`` is 200 only when every check answers True in time."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        names = list(checks)
        results = await asyncio.gather(*(_bounded(checks[name], timeout_seconds) for name in names))
        failing = [name for name, ok in zip(names, results, strict=True) if not ok]
        if failing:
            return JSONResponse({"status": "unavailable", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready"})

    # The exposition is built on the router's own loop: one build a second, whoever asks,
    # so a flood of scrapes cannot stall the router (a stall past its session timeout
    # makes the group rebalance).
    built: dict[str, tuple[float, bytes]] = {}

    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        now = time.monotonic()
        cached = built.get(content_type)
        if cached is None or now - cached[0] >= METRICS_CACHE_SECONDS:
            cached = built[content_type] = (now, encoder(REGISTRY))
        return Response(cached[1], headers={"content-type": content_type})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *routes,
        ]
    )


async def _bounded(check: Check, timeout_seconds: float) -> bool:
    try:
        async with asyncio.timeout(timeout_seconds):
            return await check()
    except Exception:  # a check that fails or hangs says "not ready", never 500
        return False


class OpsServer:
    """Serves the ops app on ``HUB_OPS__HOST``:``HUB_OPS__PORT`` until ``stop`` is set."""

    def __init__(
        self,
        settings: OpsSettings,
        checks: Mapping[str, Check],
        *,
        routes: Sequence[BaseRoute] = (),
    ) -> None:
        app = ops_app(checks, timeout_seconds=settings.readiness_timeout_seconds, routes=routes)
        self._server = ServiceServer(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                ws="none",
                lifespan="off",
                access_log=False,
                log_config=None,
                server_header=False,
                timeout_graceful_shutdown=2,
                # Beyond this many connections at once the port answers 503 at once: it
                # shares the router's event loop, which a flood of requests must not hold up.
                limit_concurrency=MAX_CONNECTIONS,
            )
        )

    @property
    def ports(self) -> list[int]:
        """The ports listened on (useful with port 0)."""
        return self._server.ports

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set."""

        def started() -> None:
            _log.info("ops_server_started", port=self.ports[0] if self.ports else None)

        try:
            await self._server.serve_until(stop, on_started=started)
        except SystemExit:
            # uvicorn exits when it cannot bind (the port is taken): a setting to fix.
            raise ConfigurationError(
                "settings", "HUB_OPS__PORT", "the ops server could not listen on it"
            ) from None
