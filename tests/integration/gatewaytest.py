"""Helpers for gateway tests: the hub's topics for one module, the gateway in a thread of its own."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from hub.app import Hub, build_hub
from hub.connectors.registry import PartnerRegistry, WebhookDelivery, load_registry
from hub.gateway import GatewayServer, GatewaySettings, build_gateway_app
from hub.router import ensure_topics
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

from .hubtest import isolated_settings
from .test_webhook_delivery import SECRET_ENV


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


def registry_with_swt_webhook(tmp_path: Path, url: str) -> Path:
    """The demo registry, with the wijkteam taking deliveries on a webhook."""
    partners = []
    for partner in load_registry():
        if partner.id == "swt-zwolle":
            partner = partner.model_copy(
                update={"delivery": WebhookDelivery(url=url, secret_env=SECRET_ENV)}
            )
        partners.append(partner.model_dump(mode="json"))
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"partners": partners}), encoding="utf-8")
    return path


@dataclass
class HubWithGateway:
    """The hub's services and the gateway, running; a client for the gateway."""

    hub: Hub
    client: httpx.AsyncClient


@asynccontextmanager
async def hub_with_gateway(
    kafka_bootstrap: str, tmp_path: Path, webhook_url: str
) -> AsyncIterator[HubWithGateway]:
    """Router, webhook deliverer (the wijkteam on ``webhook_url``) and gateway, over this test's topics."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path, partitions=1)
    settings.partners_file = registry_with_swt_webhook(tmp_path, webhook_url)
    hub = build_hub(settings)
    stop = asyncio.Event()
    services = [asyncio.create_task(service(stop)) for service in hub.services()]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    gateway = GatewayServer(
        build_gateway_app(settings.gateway, settings.kafka, hub.registry), settings.gateway
    )
    services.append(asyncio.create_task(gateway.run(stop, sockets=[sock])))
    try:
        await asyncio.wait_for(hub.router.ready.wait(), 60)
        await asyncio.wait_for(gateway.started.wait(), 30)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield HubWithGateway(hub, client)
    finally:
        stop.set()
        await asyncio.gather(*services)
        sock.close()
