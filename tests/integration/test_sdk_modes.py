"""A partner's CNCF CloudEvents SDK end to end: it sends in every mode, and reads every delivery kind.

Real gateway (uvicorn), real broker, real router, real webhook; the SDK's new API
(``cloudevents.core``) and its old one (``cloudevents.v1``) both.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from hub.dev.partner_io import receive
from hub.kafka import producer
from hub.settings import KafkaSettings
from hub.testing import make_event
from tests.sdk import (
    APIS,
    KafkaRecord,
    http_batch,
    http_binary,
    http_structured,
    kafka_binary,
    kafka_structured,
    read_http,
    read_kafka,
)

from .gatewaytest import hub_with_gateway
from .test_webhook_delivery import SECRET, SECRET_ENV, Receiver, serving

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
STATUS_CHANGED = "nl.sociaaldomein.referrals.status-changed.v1"
GP = {"Authorization": "Bearer demo-key-gp-de-linde"}
SWT = {"Authorization": "Bearer demo-key-swt-zwolle"}


@dataclass
class RawReceiver(Receiver):
    """The webhook receiver, keeping each request's headers and body as they came."""

    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        self.raw.append((dict(request.headers), await request.body()))
        return await super().endpoint(request)


def referral(name: str, *, partitionkey: bool = False) -> dict[str, Any]:
    """A GP referral of its own (referral id and subject ``DL-<name>``)."""
    referral_id = f"DL-{name}"
    event = make_event(REFERRAL, referral_id=referral_id, envelope={"subject": referral_id})
    if partitionkey:
        event["partitionkey"] = referral_id
    return event


async def produce(kafka: KafkaSettings, topic: str, records: list[KafkaRecord]) -> None:
    """Produce records exactly as given (key, headers, value), as a partner's producer does."""
    writer = producer(kafka, linger_ms=0)
    await writer.start()
    try:
        for key, headers, value in records:
            await writer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await writer.stop()


@pytest.mark.timeout(240)
async def test_every_sdk_mode_is_accepted_and_every_delivery_reads_with_the_sdk(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP structured, batch and binary, Kafka binary and structured (with and without
    partitionkey), from both SDK APIs, reach the wijkteam's webhook; both APIs read the
    webhook deliveries and the GP's Kafka topic delivery; each sender finds its status."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    receiver = RawReceiver()
    over_http: list[dict[str, Any]] = []
    over_kafka: list[dict[str, Any]] = []
    requests: list[tuple[dict[str, str], bytes]] = []
    for api in APIS:
        for partitionkey in (False, True):
            pk = "-pk" if partitionkey else ""
            structured = referral(f"hs-{api}{pk}", partitionkey=partitionkey)
            binary = referral(f"hb-{api}{pk}", partitionkey=partitionkey)
            batch = [referral(f"hm{n}-{api}{pk}", partitionkey=partitionkey) for n in (1, 2)]
            requests += [
                http_structured(structured, api),
                http_binary(binary, api),
                http_batch(batch, api),
            ]
            over_http += [structured, binary, *batch]
    records: list[KafkaRecord] = []
    for api in APIS:
        for partitionkey in (False, True):
            pk = "-pk" if partitionkey else ""
            binary = referral(f"kb-{api}{pk}", partitionkey=partitionkey)
            structured = referral(f"ks-{api}{pk}", partitionkey=partitionkey)
            records += [kafka_binary(binary, api), kafka_structured(structured, api)]
            over_kafka += [binary, structured]
    # An invalid event in Kafka structured mode must be findable by its id.
    broken = referral("ks-broken")
    broken["data"]["client"]["bsn"] = "999999991"
    records.append(kafka_structured(broken, "new"))
    # The referral the wijkteam's status feedback is about (its consent allows feedback).
    feedback_on = referral("feedback")
    feedback_on["data"]["consent"] = {
        "status_feedback": True,
        "recorded_on": feedback_on["time"][:10],
    }
    sent = [*over_http, *over_kafka, feedback_on]

    async with (
        serving(receiver) as url,
        hub_with_gateway(kafka_bootstrap, tmp_path, url) as run,
    ):
        layout, kafka = run.hub.layout, run.hub.settings.kafka
        answers = [
            await run.client.post("/events", content=body, headers={**headers, **GP})
            for headers, body in requests
        ]
        headers, body = http_binary(feedback_on, "new")
        answers.append(await run.client.post("/events", content=body, headers={**headers, **GP}))
        await produce(kafka, layout.inbound("gp-de-linde"), records)
        async with asyncio.timeout(90):
            while len(receiver.delivered) < len(sent):  # noqa: ASYNC110 -- polling a test double
                await asyncio.sleep(0.1)

        # The wijkteam tells the GP the referral was received, in HTTP binary mode (old API).
        status = make_event(
            STATUS_CHANGED, referral_id="DL-feedback", envelope={"subject": "DL-feedback"}
        )
        headers, body = http_binary(status, "old")
        feedback = await run.client.post("/events", content=body, headers={**headers, **SWT})
        gp_topic = layout.deliveries(run.hub.registry.get("gp-de-linde"))  # type: ignore[arg-type]
        delivered_to_gp = []
        async with asyncio.timeout(60):
            async for record in receive(kafka, [gp_topic]):
                delivered_to_gp.append(record)
                break

        statuses = {}
        async with asyncio.timeout(60):
            for event in [*sent, broken]:
                while True:
                    answer = await run.client.get(f"/events/{event['id']}", headers=GP)
                    if answer.status_code == 200 and answer.json()["status"] != "accepted":
                        statuses[event["id"]] = answer.json()
                        break
                    await asyncio.sleep(0.2)

    assert [a.status_code for a in answers] == [
        207 if body[:1] == b"[" else 202 for _, body in requests
    ] + [202]
    assert feedback.status_code == 202
    # Deliveries carry the hub's own ids; the referral id tells which event each one is.
    assert sorted(e["data"]["referral_id"] for e in receiver.delivered) == sorted(
        e["data"]["referral_id"] for e in sent
    )

    # Webhook deliveries, read by the SDK's both APIs, are the events as the hub releases them.
    by_referral = {e["data"]["referral_id"]: e for e in sent}
    delivered_ids = set(receiver.delivered_ids())
    for headers, body in receiver.raw:
        for api in APIS:
            read = read_http(headers, body, api)
            assert read["id"] in delivered_ids
            original = by_referral[read["data"]["referral_id"]]
            assert (read["source"], read["type"], read["subject"]) == (
                original["source"],
                original["type"],
                original["subject"],
            )
            assert "partitionkey" not in read
            assert "tracestate" not in read

    # The GP's Kafka topic delivery, read by both APIs (the key reads as partitionkey).
    (record,) = delivered_to_gp
    for api in APIS:
        read = read_kafka(record.key, record.headers, record.value or b"", api)
        assert read["id"] == dict(record.headers)["ce_id"].decode()
        assert (read["type"], read["subject"]) == (STATUS_CHANGED, "DL-feedback")
        assert read["partitionkey"] == "DL-feedback"  # the SDKs' name for the Kafka key
        assert read["data"]["referral_id"] == "DL-feedback"

    assert {statuses[e["id"]]["status"] for e in sent} == {"delivered"}
    assert statuses[broken["id"]]["status"] == "dead-lettered"
    assert statuses[broken["id"]]["codes"] == ["BSN_INVALID"]
