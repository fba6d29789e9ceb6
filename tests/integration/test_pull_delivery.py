"""Pull delivery on the real broker: GET /deliveries reads the calling partner's own stream.

The hub (router, and for the catch-up test the webhook deliverer) runs in this event
loop; the gateway app runs in memory over httpx's ASGI transport, with its real Kafka
reader. Deliveries are decoded with the CNCF CloudEvents SDK, new API and old, as a
partner's code would.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from cloudevents.v1.http import from_dict

from hub.app import build_hub
from hub.cli.preview import preview_lines
from hub.connectors.registry import DEMO_REGISTRY_PATH
from hub.delivery.pull import decode_cursor, encode_cursor
from hub.delivery.sequence import position_of
from hub.gateway import GatewaySettings, build_gateway_app
from hub.privacy.views import view_schema_url
from hub.routing import build_context
from hub.settings import HubSettings, WebhookSettings
from hub.testing import make_event, scenario

from .hubtest import HubUnderTest, isolated_settings
from .test_webhook_delivery import SECRET, SECRET_ENV, Receiver, serving, wait_until

BATCH = "application/cloudevents-batch+json"
REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
PULL_GATEWAY = GatewaySettings(pull_wait_seconds=0.3, rate_limit="100000/minute")


def referral() -> dict[str, Any]:
    """A GP de Linde referral of its own (id, referral id and subject), for the wijkteam."""
    referral_id = f"REF-pull-{uuid.uuid4().hex[:8]}"
    return make_event(REFERRAL, envelope={"subject": referral_id}, referral_id=referral_id)


def key(partner_id: str) -> dict[str, str]:
    """The demo registry's API key of a partner."""
    return {"Authorization": f"Bearer demo-key-{partner_id}"}


def registry_file(tmp_path: Path, deliveries: Mapping[str, Mapping[str, Any]]) -> Path:
    """The demo registry with some partners' delivery replaced."""
    raw = yaml.safe_load(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"))
    for partner in raw["partners"]:
        if partner["id"] in deliveries:
            partner["delivery"] = dict(deliveries[partner["id"]])
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@asynccontextmanager
async def pulling_hub(
    settings: HubSettings,
) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    """Every service of `hub run` and the gateway app over these settings; a client for the gateway."""
    settings.gateway = PULL_GATEWAY
    hub = build_hub(settings)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(service(stop)) for service in hub.services()]
    app = build_gateway_app(settings.gateway, settings.kafka, hub.registry)
    try:
        await asyncio.wait_for(hub.router.ready.wait(), 60)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=60
            ) as client,
        ):
            yield HubUnderTest(hub), client
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


async def pull(
    client: httpx.AsyncClient, partner_id: str, query: Mapping[str, str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page: its events as the answer holds them, and the query of the next page."""
    response = await client.get("/deliveries", params=query, headers=key(partner_id))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == BATCH
    url = response.links["next"]["url"]
    next_query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    return response.json(), next_query


async def pull_all(
    client: httpx.AsyncClient, partner_id: str, query: Mapping[str, str]
) -> tuple[list[dict[str, Any]], int, dict[str, str]]:
    """Every delivery after the query's cursor, following Link until a page is empty; with the page count."""
    events: list[dict[str, Any]] = []
    pages = 0
    while True:
        page, next_query = await pull(client, partner_id, query)
        if not page:
            if "after" in query:  # nothing new; the cursor may step over transaction markers
                was = decode_cursor(query["after"]).positions
                now = decode_cursor(next_query["after"]).positions
                assert all(now[p] >= offset for p, offset in was.items())
            return events, pages, next_query
        pages += 1
        assert len(page) <= int(query["limit"])
        events += page
        query = next_query


def decode_with_sdk(event: dict[str, Any], index: int) -> dict[str, Any]:
    """The event read by the CNCF SDK (new API for even, old API for odd indexes), back as a dict."""
    raw = json.dumps(event).encode()
    if index % 2 == 0:
        read = JSONFormat().read(SdkEvent, raw)
        attributes = dict(read.get_attributes())
        attributes["time"] = read.get_time().isoformat()  # type: ignore[union-attr]
        return {**attributes, "data": read.get_data()}
    old = from_dict(json.loads(raw))
    return {**old.get_attributes(), "data": old.data}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


async def test_each_partner_pulls_what_was_routed_to_it_page_by_page_and_nothing_else(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """After the example scenario, every partner pulls exactly its preview's deliveries (pull partners and Kafka partners alike), in pages, each with a sequence and its view's dataschema, read by the SDK."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)  # three partitions
    settings.partners_file = registry_file(
        tmp_path, {"swt-zwolle": {"kind": "pull"}, "gp-de-linde": {"kind": "pull"}}
    )
    events = scenario()
    async with pulling_hub(settings) as (hub, client):
        registry = hub.hub.registry
        for event in events:
            sender = registry.by_source(event["source"])
            assert sender is not None
            await hub.send(sender.id, [event])
            await hub.wait_for_status([event], timeout=90)
        pulled = {
            partner.id: await pull_all(client, partner.id, {"limit": "4"}) for partner in registry
        }

    expected = preview_lines(
        [json.dumps(e).encode() for e in events], build_context(settings, registry)
    )
    types = {e["id"]: e["type"] for e in events}
    want: dict[str, Counter[tuple[str, str]]] = {p.id: Counter() for p in registry}
    for line in expected:
        if "data" in line:
            want[line["recipient"]][(types[line["event"]], _canonical(line["data"]))] += 1

    for partner in registry:
        got, pages, _ = pulled[partner.id]
        read = [decode_with_sdk(event, index) for index, event in enumerate(got)]
        assert read == got  # the SDK reads every attribute and the data as the hub wrote them
        assert Counter((e["type"], _canonical(e["data"])) for e in read) == want[partner.id]
        assert len({e["id"] for e in got}) == len(got)
        assert pages >= -(-len(got) // 4)
        for event in got:
            assert event["dataschema"] == view_schema_url(partner.role, event["type"])
        sequences: dict[str, list[str]] = {}
        for event in got:
            sequences.setdefault(event["subject"], []).append(event["sequence"])
        for subject_sequences in sequences.values():
            # One subject, one partition; its deliveries in release order, sequences growing.
            assert len({position_of(s)[0] for s in subject_sequences}) == 1
            assert subject_sequences == sorted(subject_sequences)
    assert len(pulled["swt-zwolle"][0]) > 8  # the wijkteam gets most; several pages


async def test_a_cursor_continues_where_the_last_page_ended_and_an_expired_one_is_410(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A saved cursor returns only what was routed after it, as often as asked; a garbled one is 400, one past the stream's end 410."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)
    settings.partners_file = registry_file(tmp_path, {"swt-zwolle": {"kind": "pull"}})
    first, second = referral(), referral()
    async with pulling_hub(settings) as (hub, client):
        await hub.send("gp-de-linde", [first])
        await hub.wait_for_status([first])
        before, pages, cursor = await pull_all(client, "swt-zwolle", {"limit": "10"})
        await hub.send("gp-de-linde", [second])
        await hub.wait_for_status([second])
        after, _, _ = await pull_all(client, "swt-zwolle", cursor)
        again, _, _ = await pull_all(client, "swt-zwolle", cursor)  # a cursor can be reused

        garbled = await client.get(
            "/deliveries",
            params={"after": encode_cursor({0: 0, 1: 0, 2: 0}) + "A"},
            headers=key("swt-zwolle"),
        )
        past_end = await client.get(
            "/deliveries",
            params={"after": encode_cursor({0: 10**6})},
            headers=key("swt-zwolle"),
        )

    assert [e["data"]["referral_id"] for e in before] == [first["data"]["referral_id"]]
    assert pages == 1
    assert [e["data"]["referral_id"] for e in after] == [second["data"]["referral_id"]]
    assert again == after
    assert garbled.status_code == 400
    assert garbled.json()["errors"][0]["path"] == "after"
    assert past_end.status_code == 410
    assert past_end.json()["code"] == "CURSOR_EXPIRED"


async def test_a_cursor_past_retention_is_410(kafka_bootstrap: str, tmp_path: Path) -> None:
    """When retention has deleted what the cursor points at, the answer is 410 CURSOR_EXPIRED, not a 500."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path, partitions=1)
    settings.partners_file = registry_file(tmp_path, {"swt-zwolle": {"kind": "pull"}})
    referrals = [referral() for _ in range(3)]
    async with pulling_hub(settings) as (hub, client):
        await hub.send("gp-de-linde", referrals)
        await hub.wait_for_status(referrals)
        page, next_query = await pull(client, "swt-zwolle", {"limit": "1"})
        await _delete_records_before(hub, hub.deliveries_topic("swt-zwolle"), offset=2)
        expired = await client.get("/deliveries", params=next_query, headers=key("swt-zwolle"))
        restarted, _, _ = await pull_all(client, "swt-zwolle", {"limit": "10"})

    assert len(page) == 1
    assert expired.status_code == 410
    assert expired.headers["content-type"] == "application/problem+json"
    assert expired.json()["code"] == "CURSOR_EXPIRED"
    # Starting again without a cursor reads what the stream still holds.
    assert [e["id"] for e in restarted] != []
    assert page[0]["id"] not in {e["id"] for e in restarted}


async def test_a_cursor_into_a_stream_deleted_and_refilled_is_410(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """An operator deletes and recreates a stream, which refills past the old cursor: 410, not a read from the middle."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path, partitions=1)
    settings.partners_file = registry_file(tmp_path, {"swt-zwolle": {"kind": "pull"}})
    referrals = [referral() for _ in range(2)]
    async with pulling_hub(settings) as (hub, client):
        await hub.send("gp-de-linde", referrals)
        await hub.wait_for_status(referrals)
        before, _, cursor = await pull_all(client, "swt-zwolle", {"limit": "10"})
        topic = hub.deliveries_topic("swt-zwolle")
        await _recreate_with(hub, topic, [_delivery_record(n) for n in range(8)])
        reset = await client.get("/deliveries", params=cursor, headers=key("swt-zwolle"))
        restarted, _, _ = await pull_all(client, "swt-zwolle", {"limit": "10"})

    assert len(before) == 2
    assert reset.status_code == 410
    assert reset.json()["code"] == "CURSOR_EXPIRED"
    assert [e["id"] for e in restarted] == [f"refilled-{n}" for n in range(8)]


def _delivery_record(n: int) -> tuple[bytes, list[tuple[str, bytes]], bytes]:
    """A delivery as the router writes one (binary mode), of the wijkteam's stream."""
    from hub.envelope import to_kafka

    return to_kafka(
        {
            "specversion": "1.0",
            "id": f"refilled-{n}",
            "source": "urn:nld:oin:00000001234567890000:systeem:huisarts-de-linde",
            "type": "nl.sociaaldomein.referrals.submitted.v1",
            "time": "2026-03-03T09:15:00+00:00",
            "subject": f"REF-refilled-{n}",
            "datacontenttype": "application/json",
            "data": {"referral_id": f"REF-refilled-{n}"},
        }
    )


async def _recreate_with(
    hub: HubUnderTest, topic: str, records: list[tuple[bytes, list[tuple[str, bytes]], bytes]]
) -> None:
    """What an operator's reset does: delete the topic, create it anew, and records arrive."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=hub.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        for _ in range(100):  # deletion completes in the background
            try:
                await admin.create_topics([NewTopic(topic, 1, 1)])
                break
            except TopicAlreadyExistsError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"{topic} was not recreated")
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=hub.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for key_, headers, value in records:
            await producer.send_and_wait(topic, value, key=key_, headers=headers)
    finally:
        await producer.stop()


async def _delete_records_before(hub: HubUnderTest, topic: str, *, offset: int) -> None:
    """What retention does: the broker deletes a partition's records before an offset."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

    admin = AIOKafkaAdminClient(bootstrap_servers=hub.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(offset)})
    finally:
        await admin.close()


async def test_a_webhook_partner_catches_up_by_pull_after_its_endpoint_was_down(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While its endpoint is down the wijkteam pulls its stream: it gets what the webhook could not deliver, and what it had already, with the same ids and sequences, to skip."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    down = {"on": False}
    receiver = Receiver(script=lambda _n, _event: 503 if down["on"] else 204)
    async with serving(receiver) as url:
        settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)
        settings.partners_file = registry_file(
            tmp_path, {"swt-zwolle": {"kind": "webhook", "url": url, "secret_env": SECRET_ENV}}
        )
        settings.webhooks = WebhookSettings(
            max_attempts=3,
            initial_backoff_seconds=0.01,
            max_backoff_seconds=0.05,
            jitter_seconds=0.01,
            breaker_cooldown_seconds=0.2,
        )
        before, during = referral(), [referral() for _ in range(3)]
        async with pulling_hub(settings) as (hub, client):
            await hub.send("gp-de-linde", [before])
            await wait_until(lambda: len(receiver.delivered) == 1, timeout=60)
            down["on"] = True
            await hub.send("gp-de-linde", during)
            await hub.wait_for_status(during)
            # The webhook gives up on them (parked for replay); the partner pulls meanwhile.
            await wait_until(lambda: len(receiver.requests) >= 1 + 3 * len(during), timeout=60)
            pulled, _, cursor = await pull_all(client, "swt-zwolle", {"limit": "2"})
            refused = {r["event"]["id"] for r in receiver.requests[1:]}
            later = referral()
            await hub.send("gp-de-linde", [later])
            await hub.wait_for_status([later])
            caught_up, _, _ = await pull_all(client, "swt-zwolle", cursor)

    [webhooked] = receiver.delivered
    by_id = {e["id"]: e for e in pulled}
    # What the webhook delivered is in the stream once more, identical: the id tells it apart.
    assert by_id[webhooked["id"]] == webhooked
    assert sorted(e["data"]["referral_id"] for e in pulled) == sorted(
        e["data"]["referral_id"] for e in [before, *during]
    )
    missed = {e["id"] for e in pulled} - {webhooked["id"]}
    assert missed == refused
    assert [e["data"]["referral_id"] for e in caught_up] == [later["data"]["referral_id"]]
