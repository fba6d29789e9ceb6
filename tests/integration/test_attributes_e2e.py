"""The contract's attribute rules end to end: real gateway (uvicorn), real broker, real router and webhook."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hub.app import Hub
from hub.dev.partner_io import Received, receive, send_events
from hub.kafka import producer
from hub.testing import make_event

from .gatewaytest import hub_with_gateway
from .test_webhook_delivery import SECRET, SECRET_ENV, Receiver, serving

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
STRUCTURED = "application/cloudevents+json"
# Markers planted in the trace state: a BSN (not in any example) and two vendor values.
PLANTED_BSN = "999990019"
HTTP_TRACESTATE = f"bsn={PLANTED_BSN},vendor=zqhttpstate"
KAFKA_TRACESTATE = "vendor=zqkafkastate"
MARKERS = (PLANTED_BSN.encode(), b"zqhttpstate", b"zqkafkastate")


def _auth(partner_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-key-{partner_id}", "Content-Type": STRUCTURED}


async def _everything(hub: Hub) -> list[Received]:
    """Every record on every topic of the hub, once nothing new arrived for 3 s."""
    topics = [spec.name for spec in hub.layout.all_topics(hub.registry, hub.settings.kafka)]
    return [r async for r in receive(hub.settings.kafka, topics, idle_seconds=3.0)]


async def test_tracestate_and_partitionkey_reach_no_delivery_and_no_hub_topic(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tracestate and partitionkey, sent over HTTP and over Kafka (binary and structured mode), are accepted but reach no webhook and no hub topic."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    receiver = Receiver()
    over_http = make_event(REFERRAL, referral_id="REF-attr-http")
    over_http |= {
        "subject": "REF-attr-http",
        "tracestate": HTTP_TRACESTATE,
        "partitionkey": "REF-attr-http",
    }
    over_kafka = make_event(REFERRAL, referral_id="REF-attr-kafka")
    over_kafka |= {
        "subject": "REF-attr-kafka",
        "tracestate": KAFKA_TRACESTATE,
        "partitionkey": "REF-attr-kafka",
    }
    # Kafka structured mode: the trace state rides in the value; once valid, once dead-lettered.
    structured = make_event(REFERRAL, referral_id="REF-attr-structured")
    structured |= {
        "subject": "REF-attr-structured",
        "tracestate": KAFKA_TRACESTATE,
        "partitionkey": "REF-attr-structured",
    }
    invalid = make_event(REFERRAL, referral_id="REF-attr-invalid")
    invalid |= {"subject": "REF-attr-invalid", "tracestate": KAFKA_TRACESTATE}
    invalid["data"]["client"]["bsn"] = "999999991"
    structured_records = [
        (e["subject"].encode(), [("content-type", b"application/cloudevents+json")], e)
        for e in (structured, invalid)
    ]
    async with serving(receiver) as url, hub_with_gateway(kafka_bootstrap, tmp_path, url) as run:
        posted = await run.client.post(
            "/events", content=json.dumps(over_http), headers=_auth("gp-de-linde")
        )
        layout = run.hub.layout
        await send_events(run.hub.settings.kafka, layout.inbound("gp-de-linde"), [over_kafka])
        writer = producer(run.hub.settings.kafka, linger_ms=0)
        await writer.start()
        try:
            for key, headers, event in structured_records:
                await writer.send_and_wait(
                    layout.inbound("gp-de-linde"),
                    key=key,
                    headers=headers,
                    value=json.dumps(event).encode(),
                )
        finally:
            await writer.stop()
        async with asyncio.timeout(60):
            while len(receiver.delivered) < 3:  # noqa: ASYNC110 -- polling a test double
                await asyncio.sleep(0.1)
        records = await _everything(run.hub)

    assert posted.status_code == 202
    assert sorted(e["data"]["referral_id"] for e in receiver.delivered) == [
        "REF-attr-http",
        "REF-attr-kafka",
        "REF-attr-structured",
    ]
    for request in receiver.requests:
        names = {name.lower() for name in request["headers"]}
        assert not {n for n in names if "tracestate" in n or "partitionkey" in n}
        text = json.dumps(request["headers"]).encode() + json.dumps(request["event"]).encode()
        assert [m for m in MARKERS if m in text] == []
    for event in receiver.delivered:
        assert "tracestate" not in event
        assert "partitionkey" not in event

    # The partner's own record on its inbound topic is as the partner wrote it; nothing else.
    partner_written = layout.inbound("gp-de-linde"), over_kafka["id"].encode()
    checked = 0
    for record in records:
        headers = dict(record.headers)
        if (record.topic, headers.get("ce_id")) == partner_written:
            assert headers["ce_tracestate"] == KAFKA_TRACESTATE.encode()
            continue
        if record.topic == layout.inbound("gp-de-linde") and "ce_id" not in headers:
            continue  # the partner's own structured-mode records, as it wrote them
        checked += 1
        assert "ce_tracestate" not in headers, record.topic
        assert "ce_partitionkey" not in headers, record.topic
        raw = (record.key or b"") + (record.value or b"") + b"".join(headers.values())
        assert [m for m in MARKERS if m in raw] == [], record.topic
    topics = {record.topic for record in records}
    assert {layout.inbound("gp-de-linde"), layout.status} <= topics
    assert checked >= 7  # the HTTP event inbound, three deliveries, four status records at least
    [letter] = [r.json() for r in records if r.topic == layout.deadletter]
    assert letter["event_id"] == invalid["id"]
    assert letter["record"] is None  # its value holds the trace state: kept by reference


async def test_a_924_kb_outcome_gets_413_from_the_running_gateway(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 924-KB outcome (thousands of indicators) is 413 EVENT_TOO_LARGE over a real socket; 2,000 indicators 422 TOO_LONG."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    huge = make_event("outcomes.reported")
    huge["data"]["results"][0]["indicators"] = {
        f"zelfredzaamheid_indicator_{n:05d}": n * 1.5 for n in range(21_000)
    }
    many = make_event("outcomes.reported")
    many["data"]["results"][0]["indicators"] = {f"indicator_{n:04d}": n for n in range(2_000)}
    body = json.dumps(huge).encode()
    assert 900_000 < len(body) < 1_048_576
    async with serving(Receiver()) as url, hub_with_gateway(kafka_bootstrap, tmp_path, url) as run:
        too_large = await run.client.post(
            "/events", content=body, headers=_auth("provider-thuiszorg-zwolle")
        )
        too_long = await run.client.post(
            "/events", content=json.dumps(many), headers=_auth("provider-thuiszorg-zwolle")
        )
        inbound = run.hub.layout.inbound("provider-thuiszorg-zwolle")
        on_topic = [r async for r in receive(run.hub.settings.kafka, [inbound], idle_seconds=2.0)]

    assert too_large.status_code == 413
    assert too_large.json()["code"] == "EVENT_TOO_LARGE"
    assert [(e["path"], e["code"]) for e in too_large.json()["errors"]] == [("", "EVENT_TOO_LARGE")]
    assert too_long.status_code == 422
    assert [(e["path"], e["code"]) for e in too_long.json()["errors"]] == [
        ("data.results[0].indicators", "TOO_LONG")
    ]
    assert on_topic == []
