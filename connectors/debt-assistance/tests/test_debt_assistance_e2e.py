"""End to end on a real Kafka broker: the wijkteam asks over HTTP, debt assistance answers.

The hub (router and audit feed) and the gateway run in this process on topics of their own;
the debt-assistance partner pulls its deliveries (``GET /deliveries``) and sends its status
over HTTP like any partner; the wijkteam reads its Kafka topic.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from hub_debt_assistance import CONNECTOR

from hub.app import Hub, build_hub, http_adapters
from hub.dev.partner_io import Received, receive
from hub.gateway import GatewayServer, build_gateway_app
from hub.settings import AuditSettings, HubSettings, KafkaSettings, RetrySettings
from hub.testing import load_example

BOOTSTRAP = os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "")
PARTNERS = Path(__file__).resolve().parent / "partners.yaml"
EXAMPLES = Path(str(CONNECTOR.examples))
SWT = {"Authorization": "Bearer demo-key-swt-zwolle"}
DEBT = {"Authorization": "Bearer demo-key-schuldhulp-zwolle"}
STRUCTURED = {"Content-Type": "application/cloudevents+json"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not BOOTSTRAP, reason="needs a broker: set HUB_KAFKA__BOOTSTRAP_SERVERS"),
]


def _event(name: str) -> dict[str, Any]:
    event = load_example(EXAMPLES / name)
    event["id"] = str(uuid.uuid4())
    return event


@asynccontextmanager
async def _running(tmp_path: Path) -> AsyncIterator[tuple[Hub, httpx.AsyncClient]]:
    """The router, the audit feed and the gateway on this test's topics; deleted afterwards."""
    run = uuid.uuid4().hex[:10]
    settings = HubSettings(
        partners_file=PARTNERS,
        audit=AuditSettings(store_url=f"sqlite:///{tmp_path / 'audit.sqlite3'}"),
        kafka=KafkaSettings(
            bootstrap_servers=BOOTSTRAP,
            topic_prefix=f"t{run}",
            group_id=f"router-{run}",
            instance_id="test",
            partitions=1,
        ),
        retry=RetrySettings(initial_seconds=0.1, max_seconds=1.0),
    )
    hub = build_hub(settings)
    stop = asyncio.Event()
    services = [asyncio.create_task(service(stop)) for service in hub.services()]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    app = build_gateway_app(
        settings.gateway, settings.kafka, hub.registry, role_adapters=http_adapters()
    )
    gateway = GatewayServer(app, settings.gateway)
    services.append(asyncio.create_task(gateway.run(stop, sockets=[sock])))
    try:
        await asyncio.wait_for(hub.router.ready.wait(), 60)
        await asyncio.wait_for(gateway.started.wait(), 30)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield hub, client
    finally:
        stop.set()
        await asyncio.gather(*services)
        sock.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            topics = hub.layout.all_topics(hub.registry, settings.kafka)
            await admin.delete_topics([spec.name for spec in topics])
        finally:
            await admin.close()


async def _first(hub: Hub, partner_id: str) -> Received:
    """The first delivery on a partner's topic."""
    partner = hub.registry.get(partner_id)
    assert partner is not None
    async with asyncio.timeout(60):
        async for record in receive(hub.settings.kafka, [hub.layout.deliveries(partner)]):
            return record
    raise AssertionError("unreachable")


async def _pulled(client: httpx.AsyncClient) -> dict[str, Any]:
    """The first delivery the debt-assistance partner pulls, following the pages' Link."""
    url = "/deliveries?limit=10"
    async with asyncio.timeout(60):
        while True:
            page = await client.get(url, headers=DEBT)
            assert page.status_code == 200, page.text
            if page.json():
                first: dict[str, Any] = page.json()[0]
                return first
            url = page.links["next"]["url"]


async def _disclosures(hub: Hub, event_ids: set[str]) -> list[dict[str, Any]]:
    """The disclosure records of these events, once each has at least one."""
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(60):
        async for record in receive(hub.settings.kafka, [hub.layout.disclosures]):
            value = json.loads(record.value or b"{}")
            if value.get("event_id") in event_ids:
                found.append(value)
            if {r["event_id"] for r in found} == event_ids:
                return found
    raise AssertionError("unreachable")


async def test_request_delivered_with_consent_withheld_without_and_the_status_reaches_swt(
    tmp_path: Path,
) -> None:
    """swt posts two requests; the partner pulls the one with consent; its status reaches swt."""
    asked = _event("debt-assistance.requested/valid/with-consent.json")
    unconsented = _event("debt-assistance.requested/valid/without-consent.json")
    status = _event("debt-assistance.status-changed/valid/intake-scheduled.json")

    async with _running(tmp_path) as (hub, client):
        answers = [
            await client.post("/events", json=event, headers={**SWT, **STRUCTURED})
            for event in (asked, unconsented)
        ]
        received = await _pulled(client)
        answers.append(await client.post("/events", json=status, headers={**DEBT, **STRUCTURED}))
        to_swt = (await _first(hub, "swt-zwolle")).event()
        records = await _disclosures(hub, {asked["id"], unconsented["id"], status["id"]})

    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert (received["type"], received["subject"]) == (asked["type"], asked["subject"])
    assert received["dataschema"].endswith(
        "/v1/views/debt-assistance/debt-assistance.requested.json"
    )
    assert sorted(received["data"]) == [
        "client", "consent", "household_size", "reason", "request_id", "requested_on",
    ]  # fmt: skip
    assert (to_swt["type"], to_swt["data"]) == (status["type"], status["data"])
    outcome = {(r["event_id"], r["recipient"]): (r["outcome"], r.get("reason")) for r in records}
    assert outcome == {
        (asked["id"], "schuldhulp-zwolle"): ("delivered", None),
        (unconsented["id"], "schuldhulp-zwolle"): ("withheld", "NO_CONSENT_DEBT_ASSISTANCE"),
        (status["id"], "swt-zwolle"): ("delivered", None),
    }
