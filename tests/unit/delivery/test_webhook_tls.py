"""The webhook clients' TLS context: the CA bundle is loaded once, off the event loop, for every partner."""

from __future__ import annotations

import asyncio
import base64
import ssl
import threading
from typing import Any

import httpx
import pytest

import hub.delivery.webhook
from hub.connectors.registry import Partner, WebhookDelivery
from hub.delivery.channel import http_client, tls_context
from hub.delivery.webhook import WebhookDeliverer
from hub.settings import KafkaSettings, RetrySettings, WebhookSettings
from hub.topics import TopicLayout

SECRET = "whsec_" + base64.b64encode(b"x" * 32).decode()


@pytest.fixture
def bundle_loads(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """The thread of each load of a CA bundle into any TLS context, from now on."""
    loads: list[threading.Thread] = []
    load = ssl.SSLContext.load_verify_locations

    def noted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(threading.current_thread())
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", noted)
    return loads


def test_clients_given_the_context_load_no_bundle_of_their_own(
    bundle_loads: list[threading.Thread],
) -> None:
    """Twenty partners' clients built with one context: the bundle was loaded once, for the context."""
    tls = tls_context()
    clients = [http_client(WebhookSettings(), None, tls) for _ in range(20)]
    assert len(bundle_loads) == 1
    for client in clients:
        asyncio.run(client.aclose())


async def test_the_deliverer_loads_the_bundle_once_in_a_thread(
    bundle_loads: list[threading.Thread], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five partners' loops (Kafka unreachable) each build a client; one load, not on the loop's thread."""
    built: list[httpx.AsyncClient] = []

    def counted(*args: Any) -> httpx.AsyncClient:
        client = http_client(*args)
        built.append(client)
        return client

    monkeypatch.setattr(hub.delivery.webhook, "http_client", counted)
    deliverer = WebhookDeliverer(
        [
            Partner(
                id=f"hook-{n}",
                role="backoffice",
                source=f"urn:nld:oin:hook-{n}",
                delivery=WebhookDelivery(url=f"https://hooks.example/{n}", secret_env="SECRET"),
            )
            for n in range(5)
        ],
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        webhooks=WebhookSettings(),
        layout=TopicLayout("t"),
        retry=RetrySettings(initial_seconds=0.05, max_seconds=0.1),
        environ={"SECRET": SECRET},
    )
    stop = asyncio.Event()
    running = asyncio.create_task(deliverer.run(stop, grace_seconds=0.5))
    async with asyncio.timeout(20):
        while len(built) < 5:  # noqa: ASYNC110 -- the partners' loops build them
            await asyncio.sleep(0.01)
    stop.set()
    await running
    assert len(bundle_loads) == 1
    assert bundle_loads[0] is not threading.main_thread()
