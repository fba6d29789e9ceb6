"""POST /iwmo/v1/messages against the real broker: a provider's 305 becomes care.started for swt and backoffice."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import trustme
import yaml

from hub.app import Hub, build_hub, http_endpoints
from hub.connectors.registry import load_registry
from hub.dev.partner_io import receive
from hub.gateway import GatewayServer, build_gateway_app
from hub.iwmo import MessageKind, ensure_structure, identificatie_301, parse_document
from hub.testing import load_example

from .hubtest import isolated_settings

UNIT_DATA = Path(__file__).parents[1] / "unit"
PROVIDER = "provider-thuiszorg-zwolle"
PROVIDER_AUTH = {"Authorization": "Bearer demo-key-provider-thuiszorg-zwolle"}
XML = {"Content-Type": "application/xml"}
CARE_STARTED = "nl.sociaaldomein.care.started.v1"


def wmo305_for_the_example_assignment() -> bytes:
    """The documented 305, rewritten for examples/assignments.issued/valid/new-outputgericht.json."""
    body = (UNIT_DATA / "cli" / "data" / "wmo305-started.xml").read_text(encoding="utf-8")
    for old, new in (
        ("999900031", "999900018"),
        ("1948-07-01", "1986-02-11"),
        ("Wiersma", "Dalfsen"),
        (">ter<", ">van<"),
        (">JH<", ">EM<"),
        ("26000311", "25000107"),
        (">03<", ">02<"),
        ("03B12", "02A05"),
        ("2026-09-01", "2025-04-01"),
        ("2026-10-01", "2025-04-02"),
        ("2026-10-02", "2025-04-03"),
        ("TZ-305-0016", "IT-305-0001"),
    ):
        assert old in body
        body = body.replace(old, new)
    return body.encode("utf-8")


def wmo307_for_an_unknown_assignment() -> bytes:
    """The example 307 with a ToewijzingNummer no assignment has."""
    body = (UNIT_DATA / "iwmo" / "data" / "wmo307.xml").read_bytes()
    return body.replace(b"26000311", b"25009999")


def wmo302(identificatie: str) -> bytes:
    """The example approving 302, answering the 301 with this Identificatie."""
    body = (UNIT_DATA / "iwmo" / "data" / "wmo302-approved.xml").read_bytes()
    return body.replace(b">5f1e2d3c4b5a<", f">{identificatie}<".encode())


@dataclass
class Running:
    hub: Hub
    client: httpx.AsyncClient


@asynccontextmanager
async def hub_with_iwmo_gateway(bootstrap: str, tmp_path: Path) -> AsyncIterator[Running]:
    """Router and a gateway with iWmo over HTTPS, the home-care provider with ``iwmo: true``."""
    settings = isolated_settings(bootstrap, audit_dir=tmp_path, partitions=1)
    # HTTPS, as a provider posts: a throw-away CA and the gateway's certificate from it.
    ca = trustme.CA()
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    settings.gateway = settings.gateway.model_copy(
        update={"tls_certfile": server_pem, "tls_keyfile": server_pem}
    )
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    partners = [
        p.model_copy(update={"iwmo": p.id == PROVIDER}).model_dump(mode="json")
        for p in load_registry()
    ]
    settings.partners_file = tmp_path / "partners.yaml"
    settings.partners_file.write_text(yaml.safe_dump({"partners": partners}), encoding="utf-8")
    hub = build_hub(settings)
    stop = asyncio.Event()
    services = [asyncio.create_task(service(stop)) for service in hub.services()]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    app = build_gateway_app(
        settings.gateway,
        settings.kafka,
        hub.registry,
        endpoints=http_endpoints(),
        deployment=settings,
    )
    gateway = GatewayServer(app, settings.gateway)
    services.append(asyncio.create_task(gateway.run(stop, sockets=[sock])))
    try:
        await asyncio.wait_for(hub.router.ready.wait(), 60)
        await asyncio.wait_for(gateway.started.wait(), 30)
        base = f"https://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base, timeout=30, verify=trust) as client:
            yield Running(hub, client)
    finally:
        stop.set()
        await asyncio.gather(*services)
        sock.close()


async def _status(client: httpx.AsyncClient, event_id: str, auth: dict[str, str]) -> str:
    """The event's status once the router has decided (polling GET /events/{id})."""
    async with asyncio.timeout(60):
        while True:
            response = await client.get(f"/events/{event_id}", headers=auth)
            if response.status_code == 200 and response.json()["status"] != "accepted":
                return str(response.json()["status"])
            await asyncio.sleep(0.2)


async def _post(client: httpx.AsyncClient, body: bytes, auth: dict[str, str]) -> httpx.Response:
    """POST a document; 503 (the iWmo state still loading) is retried as a partner would."""
    async with asyncio.timeout(60):
        while True:
            response = await client.post("/iwmo/v1/messages", content=body, headers={**auth, **XML})
            if response.status_code != 503:
                return response
            await asyncio.sleep(0.5)


async def test_a_provider_posts_iwmo_and_the_hub_answers_as_the_spec_says(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A provider's iWmo life, end to end over HTTPS: the assignment reaches the iwmo provider as a WMO301
    that its 302 acknowledges; 305 -> 306 and care.started for swt and backoffice exactly as
    from a JSON provider; 307 unknown -> 9019, nothing published; level 1; 403."""
    issued = load_example("assignments.issued/valid/new-outputgericht.json")
    backoffice = {"Authorization": "Bearer demo-key-backoffice-zwolle"}
    async with hub_with_iwmo_gateway(kafka_bootstrap, tmp_path) as running:
        client = running.client
        layout = running.hub.layout
        kafka = running.hub.settings.kafka
        posted = await client.post(
            "/events",
            json=issued,
            headers={**backoffice, "Content-Type": "application/cloudevents+json"},
        )
        assert posted.status_code == 202
        assert await _status(client, issued["id"], backoffice) == "delivered"

        started = await _post(client, wmo305_for_the_example_assignment(), PROVIDER_AUTH)
        stopped = await _post(client, wmo307_for_an_unknown_assignment(), PROVIDER_AUTH)
        replayed = await _post(client, wmo305_for_the_example_assignment(), PROVIDER_AUTH)
        malformed = await _post(client, b"<Bericht", PROVIDER_AUTH)
        other = await _post(
            client,
            wmo305_for_the_example_assignment(),
            {"Authorization": "Bearer demo-key-provider-jeugdhulp-ijssel"},
        )

        delivered: dict[str, dict[str, object]] = {}
        topics = {
            layout.deliveries(running.hub.registry.get(p)): p  # type: ignore[arg-type]
            for p in ("swt-zwolle", "backoffice-zwolle")
        }
        async with asyncio.timeout(60):
            async for record in receive(kafka, list(topics)):
                event = record.event()
                if event["type"] == CARE_STARTED:
                    delivered[topics[record.topic]] = event
                if len(delivered) == 2:
                    break
        inbound = [r async for r in receive(kafka, [layout.inbound(PROVIDER)], idle_seconds=2)]
        # The provider has iwmo: true, so the router delivered the assignment as a WMO301
        # (and recorded it under iwmo-301:<agb>:<identificatie> in its state changelog,
        # in the same transaction); the provider answers it with a 302.
        provider = running.hub.registry.get(PROVIDER)
        assert provider is not None
        async with asyncio.timeout(60):
            async for record in receive(kafka, [layout.deliveries(provider)]):
                if dict(record.headers).get("ce_type") == b"nl.sociaaldomein.assignments.issued.v1":
                    wmo301 = record
                    break
        identificatie = identificatie_301(issued["source"], issued["id"])
        unmatched = await _post(client, wmo302("0123456789ab"), PROVIDER_AUTH)
        matched = await _post(client, wmo302(identificatie), PROVIDER_AUTH)
        assignment_status = await client.get(f"/events/{issued['id']}", headers=backoffice)
        care_id = str(inbound[0].event()["id"])  # deliveries carry ids of their own
        provider_status = await _status(client, care_id, PROVIDER_AUTH)

    assert started.status_code == 200
    assert started.headers["content-type"] == "application/xml"
    assert b"<BerichtCode>419</BerichtCode>" in started.content
    assert b"RetourCode" not in started.content  # approval: the Header alone
    assert replayed.content == started.content
    for partner in ("swt-zwolle", "backoffice-zwolle"):
        event = delivered[partner]
        assert event["source"] == "urn:nld:agb:73730001"
        assert event["subject"] == "25000107"
        # The data a JSON provider's care.started carries, nothing more (no client data).
        assert event["data"] == {
            "assignment_number": "25000107",
            "provider_agb": "73730001",
            "product": {"category": "02", "code": "02A05"},
            "started_on": "2025-04-02",
            "delivery_status": "new",
        }
    assert provider_status == "delivered"
    # Binary mode, as POST /events writes it; the 307 and the replay published nothing.
    [record] = inbound
    assert record.event()["type"] == CARE_STARTED
    assert ("content-type", b"application/json") in record.headers
    assert stopped.status_code == 200
    assert b"<BerichtCode>421</BerichtCode>" in stopped.content
    assert b"<RetourCode>9019</RetourCode>" in stopped.content
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "XML_MALFORMED"
    assert malformed.json()["path"] == "/"
    assert other.status_code == 403
    assert other.json()["code"] == "TYPE_NOT_ALLOWED"
    headers = dict(wmo301.headers)
    assert headers["content-type"] == b"application/xml"
    ensure_structure(parse_document(wmo301.value, max_bytes=len(wmo301.value)), MessageKind.WMO301)
    assert f">{identificatie}</".encode() in wmo301.value  # its BerichtIdentificatie
    assert unmatched.status_code == 422
    assert unmatched.json()["code"] == "RETOUR_UNMATCHED"
    assert matched.status_code == 204
    [retour] = assignment_status.json()["iwmo"]
    assert retour["provider_agb"] == "73730001"
    assert retour["identificatie"] == identificatie
    assert retour["retour"] == "acknowledged"
