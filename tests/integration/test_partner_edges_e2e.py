"""A GP's referral posted over HTTPS-style HTTP reaches the wijkteam's webhook, signed, through the real hub."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.testing import valid_example

from .gatewaytest import hub_with_gateway
from .test_webhook_delivery import SECRET, SECRET_ENV, Receiver, serving

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"


async def test_gp_posts_a_referral_and_the_wijkteam_webhook_receives_it_signed(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gateway -> inbound topic -> router -> the wijkteam's topic -> signed webhook, and the GP sees 'delivered'."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    receiver = Receiver()
    async with (
        serving(receiver) as url,
        hub_with_gateway(kafka_bootstrap, tmp_path, url) as running,
    ):
        referral = valid_example(REFERRAL)
        auth = {"Authorization": "Bearer demo-key-gp-de-linde"}
        posted = await running.client.post(
            "/events",
            json=referral,
            headers={**auth, "Content-Type": "application/cloudevents+json"},
        )
        async with asyncio.timeout(60):
            while not receiver.delivered:  # noqa: ASYNC110 -- polling a test double
                await asyncio.sleep(0.1)
            status: dict[str, object] = {}
            while status.get("status") != "delivered":
                response = await running.client.get(f"/events/{referral['id']}", headers=auth)
                status = response.json()
                await asyncio.sleep(0.1)

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
