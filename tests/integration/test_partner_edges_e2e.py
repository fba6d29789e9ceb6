"""A GP's referral posted over HTTPS-style HTTP reaches the wijkteam's webhook, signed, through the real hub."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
import yaml

from hub.app import build_hub
from hub.connectors.registry import WebhookDelivery, load_registry
from hub.gateway import GatewayServer, build_gateway_app
from hub.testing import valid_example

from .hubtest import isolated_settings
from .test_webhook_delivery import SECRET, SECRET_ENV, Receiver, serving

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"


def _registry_with_swt_webhook(tmp_path: Path, url: str) -> Path:
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


async def test_gp_posts_a_referral_and_the_wijkteam_webhook_receives_it_signed(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gateway -> inbound topic -> router -> the wijkteam's topic -> signed webhook, and the GP sees 'delivered'."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    receiver = Receiver()
    async with serving(receiver) as url:
        settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)
        settings.partners_file = _registry_with_swt_webhook(tmp_path, url)
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
            referral = valid_example(REFERRAL)
            auth = {"Authorization": "Bearer demo-key-gp-de-linde"}
            async with httpx.AsyncClient(base_url=base, headers=auth, timeout=10) as client:
                posted = await client.post(
                    "/events",
                    json=referral,
                    headers={"Content-Type": "application/cloudevents+json"},
                )
                async with asyncio.timeout(60):
                    while not receiver.delivered:  # noqa: ASYNC110 -- polling a test double
                        await asyncio.sleep(0.1)
                    status: dict[str, object] = {}
                    while status.get("status") != "delivered":
                        status = (await client.get(f"/events/{referral['id']}")).json()
                        await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.gather(*services)
            sock.close()

    assert posted.status_code == 202
    assert posted.json() == {"id": referral["id"], "status": "accepted"}
    assert receiver.unverified == 0
    assert receiver.duplicates == 0
    [delivered] = receiver.delivered
    assert delivered["type"] == REFERRAL
    assert delivered["source"] == referral["source"]
    assert delivered["data"]["referral_id"] == referral["data"]["referral_id"]
    headers = receiver.requests[0]["headers"]
    assert headers["webhook-id"] == delivered["id"]
    assert headers["webhook-signature"].startswith("v1,")
    assert status["recipients"] == ["swt-zwolle"]
