"""Helpers for gateway tests: the hub's topics for one module, the gateway in a thread of its own."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from hub.connectors.registry import PartnerRegistry
from hub.gateway import GatewayServer, GatewaySettings, build_gateway_app
from hub.router import ensure_topics
from hub.settings import KafkaSettings
from hub.topics import TopicLayout


@asynccontextmanager
async def gateway_topics(
    bootstrap: str, registry: PartnerRegistry, *, prefix: str
) -> AsyncIterator[KafkaSettings]:
    """Kafka settings with a prefix of their own and the hub's topics, deleted afterwards."""
    settings = KafkaSettings(
        bootstrap_servers=bootstrap,
        topic_prefix=f"{prefix}{uuid.uuid4().hex[:10]}",
        partitions=1,
    )
    layout = TopicLayout(settings.topic_prefix)
    await ensure_topics(settings, layout, registry)
    yield settings
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([spec.name for spec in layout.all_topics(registry, settings)])
    finally:
        await admin.close()


class ServerThread:
    """The gateway under uvicorn in a thread of its own, so sync clients (schemathesis) work too."""

    def __init__(
        self,
        settings: GatewaySettings,
        kafka: KafkaSettings,
        registry: Any,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        self._settings = settings
        self._kafka = kafka
        self._registry = registry
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then (else +40 ms)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind((host, 0))
        self.port: int = self._socket.getsockname()[1]
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            app = build_gateway_app(self._settings, self._kafka, self._registry)
            server = GatewayServer(app, self._settings)

            async def announce() -> None:
                await server.started.wait()
                self._started.set()

            watcher = asyncio.create_task(announce())
            await server.run(self._stop, sockets=[self._socket])
            watcher.cancel()

        asyncio.run(main())

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._started.wait(timeout=30), "the gateway did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self._socket.close()
        assert not self._thread.is_alive(), "the gateway did not stop"
