"""A new wire format is one more adapter: given to the gateway and the pipeline, it needs no other change."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import httpx

from hub.errors import ErrorCode, ErrorDetail, InvalidEvent
from hub.gateway import StatusBook, create_app
from hub.gateway.testing import RecordingSink, with_credentials
from hub.inbound import HTTP_ADAPTERS, KAFKA_ADAPTERS, HttpMessage, KafkaMessage, Reading
from hub.pipeline import InboundRecord, Pipeline
from hub.routing import build_context
from hub.settings import GatewaySettings, HubSettings
from hub.testing import InMemoryPipeline, load_example
from hub.topics import TopicLayout

XML = "application/x-toy-event+xml"
REFERRAL = "referrals.submitted/valid/poh-ggz-referral.json"


def to_xml(event: dict[str, Any]) -> bytes:
    """A toy partner format: one element per attribute, the data as JSON text."""
    root = ElementTree.Element("event")
    for name, value in event.items():
        child = ElementTree.SubElement(root, name)
        child.text = json.dumps(value) if name == "data" else str(value)
    return ElementTree.tostring(root)


def from_xml(body: bytes) -> Reading:
    try:
        root = ElementTree.fromstring(body)  # test input only; a real adapter uses defusedxml
        event = {child.tag: child.text or "" for child in root}
        event["data"] = json.loads(event.get("data", "null"))
    except (ElementTree.ParseError, ValueError):
        return Reading.unreadable([ErrorDetail("", ErrorCode.ENVELOPE_INVALID, "Not a toy event.")])
    return Reading(event=event)


class ToyHttp:
    many = False

    def accepts(self, message: HttpMessage) -> bool:
        return message.header("content-type") == XML

    def read(self, message: HttpMessage) -> list[Reading]:
        reading = from_xml(message.body)
        if reading.event is None:
            raise InvalidEvent(reading.errors)
        return [reading]


class ToyKafka:
    def accepts(self, headers: Sequence[tuple[str, bytes]]) -> bool:
        return ("content-type", XML.encode()) in headers

    def read(self, record: KafkaMessage) -> Reading:
        return from_xml(record.value or b"")

    def identify(self, record: KafkaMessage) -> str | None:
        return None

    def stored_headers(self, record: KafkaMessage) -> tuple[tuple[str, bytes], ...] | None:
        return tuple(record.headers)


async def test_the_gateway_takes_a_new_format_from_one_more_adapter() -> None:
    """An adapter given to create_app is chosen by its content type; its event is produced as any other."""
    registry = with_credentials(InMemoryPipeline().registry, api_keys={"gp-de-linde": ["key"]})
    sink = RecordingSink()
    app = create_app(
        settings=GatewaySettings(),
        registry=registry,
        layout=TopicLayout("test"),
        sink=sink,
        book=StatusBook(max_records=10, recent_ids=10),
        adapters=(*HTTP_ADAPTERS, ToyHttp()),
    )
    event = load_example(REFERRAL)
    headers = {"Authorization": "Bearer key", "Content-Type": XML}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        accepted = await client.post("/events", content=to_xml(event), headers=headers)
        garbage = await client.post("/events", content=b"<event", headers=headers)
        structured = await client.post(
            "/events",
            content=json.dumps(event | {"id": "other-id"}),
            headers=headers | {"Content-Type": "application/cloudevents+json"},
        )
    assert (accepted.status_code, structured.status_code) == (202, 202)
    assert (garbage.status_code, garbage.json()["code"]) == (422, "ENVELOPE_INVALID")
    toy, plain = sink.records
    assert (toy.key, toy.value) == (plain.key, plain.value)


def test_the_pipeline_reads_a_new_format_from_one_more_adapter() -> None:
    """An adapter given to Pipeline reads the records whose headers it accepts; they route as any other."""
    hub = InMemoryPipeline()
    now = datetime(2026, 1, 5, tzinfo=UTC)
    ctx = dataclasses.replace(build_context(HubSettings(), hub.registry), now=lambda: now)
    pipeline = Pipeline(hub.layout, hub.registry, ctx, lambda: now, (ToyKafka(), *KAFKA_ADAPTERS))
    event = load_example(REFERRAL)
    topic = hub.layout.inbound("gp-de-linde")
    record = InboundRecord(topic, 0, 0, None, to_xml(event), (("content-type", XML.encode()),))
    state, held = hub.state.overlay(), hub.held.overlay()
    out = pipeline.handle(record, state, held)
    swt = hub.layout.deliveries(hub.registry.only("swt"))
    assert [r.topic for r in out].count(swt) == 1
    garbage = dataclasses.replace(record, value=b"<event", offset=1)
    (letter,) = [
        r for r in pipeline.handle(garbage, state, held) if r.topic == hub.layout.deadletter
    ]
    assert json.loads(letter.value or b"")["reason"]["code"] == "ENVELOPE_INVALID"


def test_a_roles_own_format_is_read_for_that_roles_partners_only() -> None:
    """A connector's adapter reads its role's records; another role's partner cannot use it."""
    hub = InMemoryPipeline()
    now = datetime(2026, 1, 5, tzinfo=UTC)
    ctx = dataclasses.replace(build_context(HubSettings(), hub.registry), now=lambda: now)
    pipeline = Pipeline(
        hub.layout, hub.registry, ctx, lambda: now, role_adapters={"provider": (ToyKafka(),)}
    )
    event = load_example(REFERRAL)
    record = InboundRecord(
        hub.layout.inbound("gp-de-linde"),
        0,
        0,
        None,
        to_xml(event),
        (("content-type", XML.encode()),),
    )
    (letter,) = [
        r
        for r in pipeline.handle(record, hub.state.overlay(), hub.held.overlay())
        if r.topic == hub.layout.deadletter
    ]
    # The gp's records are read with the common formats only: its toy XML is taken for a
    # structured-mode value (a record without ce_ headers) and is not JSON.
    assert json.loads(letter.value or b"")["reason"]["code"] == "MALFORMED_JSON"
