"""GET /deliveries: a partner pages through its own deliveries with a cursor."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import jsonschema
import pytest
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI

from hub.delivery.pull import decode_cursor, encode_cursor
from hub.envelope import CloudEvent, to_kafka
from hub.gateway import GatewaySettings
from hub.kafka import OffsetsOutOfRange, StreamPage
from hub.topics import TopicLayout

from .gatewaytest import KEYS, AppFactory

BATCH = "application/cloudevents-batch+json"
TYPE = "nl.sociaaldomein.referrals.status-changed.v1"
VIEW = "https://schemas.sociaaldomein.example/v1/views/gp/referrals.status-changed.json"
LAYOUT = TopicLayout("test")


def delivery(subject: str, n: int) -> CloudEvent:
    return CloudEvent(
        id=f"d-{subject}-{n}",
        source="urn:nld:oin:00000001234567890000:systeem:wijkteam",
        type=TYPE,
        time="2026-03-03T09:15:00+00:00",
        subject=subject,
        data={"referral_id": subject, "status": "accepted", "n": n},
        dataschema=VIEW,
    )


class FakeStream:
    """Partitions of records per topic, with an oldest retained offset; reads like StreamReader."""

    def __init__(self) -> None:
        self.topics: dict[str, dict[int, list[ConsumerRecord[bytes, bytes]]]] = {}
        self.oldest: dict[tuple[str, int], int] = {}
        self.reads: list[tuple[str, Mapping[int, int] | None, int]] = []
        self.fail: BaseException | None = None
        self.delay = 0.0

    def add(
        self, topic: str, partition: int, event: CloudEvent | bytes, partitions: int = 3
    ) -> None:
        parts = self.topics.setdefault(topic, {p: [] for p in range(partitions)})
        if isinstance(event, CloudEvent):
            key, headers, value = to_kafka(event)
        else:
            key, headers, value = b"x", [], event
        offset = len(parts[partition]) * 2  # transaction markers take offsets too
        parts[partition].append(
            ConsumerRecord(topic, partition, offset, 0, 0, key, value, None, 0, 0, headers)
        )

    async def read(
        self,
        topic: str,
        after: Mapping[int, int] | None,
        *,
        max_records: int,
        wait_seconds: float,
        anchors: Mapping[int, int] | None = None,
    ) -> StreamPage:
        self.reads.append((topic, after, max_records))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        parts = self.topics.get(topic, {p: [] for p in range(3)})
        after = after or {}
        expired = [p for p, o in after.items() if o < self.oldest.get((topic, p), 0)]
        unknown = [p for p in after if p not in parts]
        if expired or unknown:
            raise OffsetsOutOfRange(topic, expired, unknown)
        records, positions, found_anchors = [], {}, {}
        for p, found in sorted(parts.items()):
            start = after.get(p, self.oldest.get((topic, p), 0))
            anchor = (anchors or {}).get(p)
            if anchor is not None and anchor >= self.oldest.get((topic, p), 0):
                there = [r for r in found if r.offset >= anchor]
                if there:
                    found_anchors[p] = there[0] if there[0].offset < start else None
            taken = [r for r in found if r.offset >= start][: max_records - len(records)]
            records += taken
            positions[p] = taken[-1].offset + 1 if taken else start
        return StreamPage(records, positions, found_anchors)


@pytest.fixture
def stream() -> FakeStream:
    return FakeStream()


@pytest.fixture
async def pull_client(make_app: AppFactory, stream: FakeStream) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = make_app(deliveries=stream)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=10
        ) as http,
    ):
        yield http


def key(partner: str = "gp-de-linde") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[partner][0]}"}


def next_query(response: httpx.Response) -> dict[str, str]:
    url = response.links["next"]["url"]
    assert url.startswith("/deliveries?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def gp_topic() -> str:
    return "test.deliveries.gp-de-linde"


async def test_a_partner_gets_its_deliveries_as_a_cloudevents_batch(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """Its deliveries come as structured-mode CloudEvents with sequence and dataschema, and a Link to the next page."""
    stream.add(gp_topic(), 0, delivery("REF-1", 0))
    stream.add(gp_topic(), 0, delivery("REF-1", 1))
    stream.add(gp_topic(), 2, delivery("REF-2", 0))
    response = await pull_client.get("/deliveries", headers=key())
    assert response.status_code == 200
    assert response.headers["content-type"] == BATCH
    assert response.headers["cache-control"] == "no-store"
    events = response.json()
    assert [e["id"] for e in events] == ["d-REF-1-0", "d-REF-1-1", "d-REF-2-0"]
    assert [e["sequence"] for e in events] == [
        "00000-0000000000000000000",
        "00000-0000000000000000002",
        "00002-0000000000000000000",
    ]
    assert events[0] == {
        **delivery("REF-1", 0).to_structured(),
        "sequence": "00000-0000000000000000000",
    }
    assert events[0]["dataschema"] == VIEW
    query = next_query(response)
    assert query["limit"] == "100"
    assert decode_cursor(query["after"]).positions == {0: 3, 1: 0, 2: 1}
    assert stream.reads == [(gp_topic(), None, 100)]


async def test_the_cursor_pages_through_the_stream_and_an_empty_page_keeps_it(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """Following the Link pages with the limit; at the end the page is empty and the cursor stays."""
    for n in range(5):
        stream.add(gp_topic(), 1, delivery("REF-1", n))
    seen: list[str] = []
    query = {"limit": "2"}
    pages = 0
    while True:
        response = await pull_client.get("/deliveries", params=query, headers=key())
        assert response.status_code == 200
        page = response.json()
        pages += 1
        if not page:
            assert next_query(response) == query
            break
        assert len(page) <= 2
        seen += [e["id"] for e in page]
        query = next_query(response)
    assert seen == [f"d-REF-1-{n}" for n in range(5)]
    assert pages == 4


async def test_a_partner_reads_only_its_own_stream(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """The topic read is the caller's own; another partner's cursor reads nothing of that partner.

    The cursor's anchor (the other stream's delivery at offset 0) is not what the caller's
    stream holds there, so the answer is 410, as for a reset stream.
    """
    stream.add("test.deliveries.gp-het-anker", 0, delivery("REF-9", 0))
    stream.add(gp_topic(), 0, delivery("REF-1", 0))
    other = await pull_client.get("/deliveries", headers=key("gp-het-anker"))
    assert [e["id"] for e in other.json()] == ["d-REF-9-0"]
    mine = await pull_client.get("/deliveries", params=next_query(other), headers=key())
    assert mine.status_code == 410
    assert "REF-1" not in mine.text
    assert [topic for topic, _, _ in stream.reads] == [
        "test.deliveries.gp-het-anker",
        gp_topic(),
    ]


async def test_without_credentials_nothing_is_read(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """No or a wrong key answers 401 and reads nothing."""
    assert (await pull_client.get("/deliveries")).status_code == 401
    wrong = await pull_client.get("/deliveries", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "UNAUTHENTICATED"
    assert stream.reads == []


@pytest.mark.parametrize(
    "query",
    [
        {"after": "garbage!"},
        {"after": ""},
        {"after": encode_cursor({0: 1}) + "A"},
        {"after": "A" * 3000},
        [("after", encode_cursor({0: 1})), ("after", encode_cursor({0: 2}))],
    ],
)
async def test_a_malformed_cursor_is_400_naming_after(
    pull_client: httpx.AsyncClient, stream: FakeStream, query: Any
) -> None:
    """A cursor the hub did not write answers 400 CURSOR_INVALID at path `after`, not echoing it."""
    response = await pull_client.get("/deliveries", params=query, headers=key())
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "CURSOR_INVALID"
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("after", "CURSOR_INVALID")]
    assert "garbage" not in response.text
    assert stream.reads == []


@pytest.mark.parametrize(
    "limit", ["0", "-1", "501", "1.5", "ten", "", "1e2", "\u0661", "99999999999"]
)
async def test_a_limit_outside_1_to_the_maximum_is_400_naming_limit(
    pull_client: httpx.AsyncClient, stream: FakeStream, limit: str
) -> None:
    """`limit` must be a whole number from 1 to pull_max_events (500)."""
    response = await pull_client.get("/deliveries", params={"limit": limit}, headers=key())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "LIMIT_INVALID"
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("limit", "LIMIT_INVALID")]
    assert stream.reads == []


async def test_the_largest_limit_is_accepted(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """limit=500 (the default maximum) reads up to 500."""
    response = await pull_client.get("/deliveries", params={"limit": "500"}, headers=key())
    assert response.status_code == 200
    assert stream.reads == [(gp_topic(), None, 500)]


async def test_a_cursor_past_retention_is_410_cursor_expired(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """Offsets the stream no longer holds answer 410 CURSOR_EXPIRED (problem+json), not a 500."""
    stream.add(gp_topic(), 0, delivery("REF-1", 0))
    stream.oldest[(gp_topic(), 0)] = 10
    response = await pull_client.get(
        "/deliveries", params={"after": encode_cursor({0: 2, 1: 0, 2: 0})}, headers=key()
    )
    assert response.status_code == 410
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "CURSOR_EXPIRED"
    assert body["type"] == "urn:sociaaldomein:hub:problem:gone"
    assert "without `after`" in body["detail"]


async def test_a_cursor_into_a_reset_stream_is_410_not_read_from_the_middle(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """A stream deleted and recreated by an operator, refilled past the cursor, is 410 CURSOR_EXPIRED.

    Read from its offset alone, the old cursor would skip the new stream's first deliveries.
    """
    for n in range(2):
        stream.add(gp_topic(), 0, delivery("REF-1", n))
    first = await pull_client.get("/deliveries", headers=key())
    assert len(first.json()) == 2
    stream.topics.clear()  # deleted and recreated, then refilled past the old offset
    for n in range(5):
        stream.add(gp_topic(), 0, delivery("REF-2", n))
    again = await pull_client.get("/deliveries", params=next_query(first), headers=key())
    assert again.status_code == 410
    assert again.json()["code"] == "CURSOR_EXPIRED"
    restart = await pull_client.get("/deliveries", headers=key())
    assert [e["id"] for e in restart.json()] == [f"d-REF-2-{n}" for n in range(5)]


async def test_on_the_same_stream_the_anchored_cursor_reads_on(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """The anchor checks out: the next page is what came after, the anchor itself not again."""
    stream.add(gp_topic(), 0, delivery("REF-1", 0))
    first = await pull_client.get("/deliveries", headers=key())
    stream.add(gp_topic(), 0, delivery("REF-1", 1))
    stream.add(gp_topic(), 1, delivery("REF-3", 0))
    second = await pull_client.get("/deliveries", params=next_query(first), headers=key())
    assert [e["id"] for e in second.json()] == ["d-REF-1-1", "d-REF-3-0"]
    third = await pull_client.get("/deliveries", params=next_query(second), headers=key())
    assert third.json() == []
    assert decode_cursor(next_query(third)["after"]).anchors.keys() == {0, 1}


async def test_an_anchor_retention_took_is_not_judged(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """When only the anchored delivery is gone (retention), nothing unread was lost: read on."""
    stream.add(gp_topic(), 0, delivery("REF-1", 0))
    first = await pull_client.get("/deliveries", headers=key())
    stream.add(gp_topic(), 0, delivery("REF-1", 1))
    stream.oldest[(gp_topic(), 0)] = 1  # the anchor at 0 deleted, the next offset (1) kept
    second = await pull_client.get("/deliveries", params=next_query(first), headers=key())
    assert [e["id"] for e in second.json()] == ["d-REF-1-1"]


async def test_a_cursor_for_partitions_the_stream_lacks_is_410(
    pull_client: httpx.AsyncClient,
) -> None:
    """A cursor naming a partition the stream does not have (a reset stream) is expired too."""
    response = await pull_client.get(
        "/deliveries", params={"after": encode_cursor({7: 0})}, headers=key()
    )
    assert response.status_code == 410
    assert response.json()["code"] == "CURSOR_EXPIRED"


async def test_kafka_trouble_is_503_with_retry_after(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """When Kafka cannot serve the read, the answer is 503 UNAVAILABLE with Retry-After."""
    stream.fail = KafkaConnectionError()
    response = await pull_client.get("/deliveries", headers=key())
    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"
    assert response.headers["retry-after"] == "5"


async def test_a_read_past_the_timeout_is_503(
    make_app: AppFactory, stream: FakeStream, settings: GatewaySettings
) -> None:
    """A read that takes longer than pull_timeout_seconds is cut off with 503, not left hanging."""
    stream.delay = 5.0
    quick = settings.model_copy(update={"pull_timeout_seconds": 0.2, "pull_wait_seconds": 0.1})
    app = make_app(settings=quick, deliveries=stream)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=10
        ) as http,
    ):
        response = await http.get("/deliveries", headers=key())
    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"


async def test_one_partner_cannot_hold_every_reader(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """Past pull_max_per_partner reads in flight a partner gets 429; another partner still reads."""
    stream.delay = 0.3
    first = [asyncio.create_task(pull_client.get("/deliveries", headers=key())) for _ in range(3)]
    other = await pull_client.get("/deliveries", headers=key("gp-het-anker"))
    answers = sorted(r.status_code for r in await asyncio.gather(*first))
    assert answers == [200, 200, 429]
    assert other.status_code == 200
    again = await pull_client.get("/deliveries", headers=key())  # the slots were given back
    assert again.status_code == 200


async def test_a_record_the_hub_did_not_write_is_skipped(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """A record that is no CloudEvent does not stop the stream: skipped, and the cursor moves past it."""
    stream.add(gp_topic(), 0, b"not json")
    stream.add(gp_topic(), 0, delivery("REF-1", 1))
    response = await pull_client.get("/deliveries", headers=key())
    assert [e["id"] for e in response.json()] == ["d-REF-1-1"]
    assert decode_cursor(next_query(response)["after"]).positions[0] == 3


async def test_no_personal_data_in_the_link_or_headers(
    pull_client: httpx.AsyncClient, stream: FakeStream
) -> None:
    """The cursor holds offsets only: nothing of the deliveries is in the headers."""
    stream.add(gp_topic(), 0, delivery("REF-1", 0))
    response = await pull_client.get("/deliveries", headers=key())
    headers = json.dumps(dict(response.headers))
    for value in ("REF-1", "d-REF-1-0", "accepted", "wijkteam"):
        assert value not in headers
    cursor = next_query(response)["after"]
    assert decode_cursor(cursor).positions == {0: 1, 1: 0, 2: 0}


async def test_without_a_stream_the_endpoint_is_404(client: httpx.AsyncClient) -> None:
    """An app built without a deliveries stream (tests, tools) answers 404 NOT_FOUND."""
    response = await client.get("/deliveries", headers=key())
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


async def test_the_openapi_document_describes_the_endpoint(
    pull_client: httpx.AsyncClient,
) -> None:
    """GET /deliveries has its parameters, its batch answer and its problems in the OpenAPI document."""
    document = (await pull_client.get("/openapi.json")).json()
    operation = document["paths"]["/deliveries"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["after", "limit"]
    assert set(operation["responses"]) == {"200", "400", "401", "404", "410", "429", "503"}
    content = operation["responses"]["200"]["content"]
    assert list(content) == [BATCH]
    assert "Link" in operation["responses"]["200"]["headers"]
    assert "sequence" in document["components"]["schemas"]["Delivery"]["required"]
    assert operation["security"]
    for status in ("429", "503"):  # a generated client learns how long to wait
        assert "Retry-After" in operation["responses"][status]["headers"]
    # Each route describes its own problems: no cursor on GET /events/{id}, no event here.
    status_route = document["paths"]["/events/{event_id}"]["get"]["responses"]
    assert "CURSOR" not in status_route["400"]["description"]
    assert "event" not in operation["responses"]["404"]["description"]


async def test_the_delivery_schema_admits_a_rendered_document(
    pull_client: httpx.AsyncClient,
) -> None:
    """A provider that asked for iWmo gets XML as a string: its generated client must take it."""
    document = (await pull_client.get("/openapi.json")).json()
    schema = document["components"]["schemas"]["Delivery"]
    common = {
        "specversion": "1.0",
        "id": "9f1c0f3e-0000-5000-8000-000000000001",
        "source": "urn:nld:oin:00000001234567890000:systeem:backoffice",
        "type": "nl.sociaaldomein.assignments.issued.v1",
        "time": "2025-03-24T09:05:00+01:00",
        "subject": "25000107",
        "sequence": "00000-0000000000000000001",
    }
    rendered = {**common, "datacontenttype": "application/xml", "data": "<?xml version=..."}
    as_json = {**common, "datacontenttype": "application/json", "data": {"x": 1}}
    for delivery in (rendered, as_json):
        jsonschema.validate(delivery, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**as_json, "data": 1}, schema)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pull_default_events": 600}, "pull_default_events must not exceed pull_max_events"),
        ({"pull_wait_seconds": 20.0}, "pull_wait_seconds must be below pull_timeout_seconds"),
    ],
)
def test_pull_settings_that_cannot_work_are_refused(changes: dict[str, Any], message: str) -> None:
    """A default page over the maximum, or a wait as long as the whole timeout, stops the start."""
    with pytest.raises(ValueError, match=message):
        GatewaySettings(**changes)
