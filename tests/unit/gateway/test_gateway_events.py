"""POST /events: one event or a batch, validated, produced in binary mode, answered per event."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from hub.connectors.registry import PartnerRegistry
from hub.envelope import from_kafka
from hub.gateway import StatusBook, status_key
from hub.gateway.testing import RecordingSink
from hub.testing import invalid_examples, load_example, make_event, sender_of

from .gatewaytest import (
    BATCH,
    REFERRAL,
    AppFactory,
    auth,
    echoed_values,
    poh_ggz_referral,
    referral,
)

INVALID_EXAMPLES = [
    pytest.param(load_example(example.file), id=f"{example.file.parts[-3]}/{example.file.stem}")
    for example in invalid_examples()
]


async def _post(client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post("/events", content=content, headers={**auth(), **headers})


async def test_valid_referral_is_accepted_and_produced_in_binary_mode(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """A GP's valid referral answers 202 and lands on its inbound topic, key = subject, ce_ headers."""
    event = poh_ggz_referral()
    response = await _post(client, event)
    assert response.status_code == 202
    assert response.json() == {"id": event["id"], "status": "accepted"}
    (record,) = sink.records
    assert record.topic == "test.inbound.gp-de-linde"
    assert record.key == event["subject"].encode()
    headers = dict(record.headers)
    assert headers["ce_id"] == event["id"].encode()
    assert headers["ce_source"] == event["source"].encode()
    assert headers["ce_type"] == REFERRAL.encode()
    assert headers["content-type"] == b"application/json"
    decoded = from_kafka(record.key, record.headers, record.value)
    assert decoded["data"]["referral_id"] == event["data"]["referral_id"]
    assert decoded["data"]["client"]["address"]["postcode"] == "8021PK"  # normalised


@pytest.mark.parametrize(
    "content_type",
    [
        "application/cloudevents+json",
        "application/json",
        "application/cloudevents+json; charset=utf-8",
        'Application/JSON; charset="UTF-8"',
    ],
)
async def test_structured_mode_content_types_are_accepted(
    client: httpx.AsyncClient, content_type: str
) -> None:
    """Structured mode is accepted as cloudevents+json or plain JSON, with a UTF-8 charset or none."""
    response = await _post(client, referral(), **{"Content-Type": content_type})
    assert response.status_code == 202


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/json; charset=latin-1", "multipart/form-data"],
)
async def test_other_content_types_get_415(client: httpx.AsyncClient, content_type: str) -> None:
    """Any other media type or charset answers 415 CONTENT_TYPE_UNSUPPORTED."""
    response = await _post(client, referral(), **{"Content-Type": content_type})
    assert response.status_code == 415
    assert response.json()["code"] == "CONTENT_TYPE_UNSUPPORTED"


async def test_missing_content_type_gets_415(client: httpx.AsyncClient) -> None:
    """A body without a Content-Type answers 415."""
    headers = {"Authorization": auth()["Authorization"]}
    response = await client.post("/events", content=json.dumps(referral()), headers=headers)
    assert response.status_code == 415


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"",
        b'{"id": NaN}',
        b'{"id": "a", "id": "b"}',
        b"\xff\xfe{}",
        '{"id": "\u00e9"}'.encode("utf-16"),
        b"[" * 50_000,
        b'{"n": ' + b"9" * 5000 + b"}",
    ],
    ids=["truncated", "empty", "nan", "duplicate-key", "not-utf8", "utf16", "deep", "huge-int"],
)
async def test_malformed_json_gets_400(client: httpx.AsyncClient, body: bytes) -> None:
    """A body that is not strict UTF-8 JSON answers 400 MALFORMED_JSON."""
    response = await _post(client, body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "MALFORMED_JSON"
    # Named with its path, as every rejection is (the body as a whole), as on Kafka.
    assert [(e["path"], e["code"]) for e in response.json()["errors"]] == [("", "MALFORMED_JSON")]


async def test_structured_body_that_is_not_an_object_gets_422(client: httpx.AsyncClient) -> None:
    """A JSON array sent as one event answers 422 ENVELOPE_INVALID at the root path."""
    response = await _post(client, [referral()])
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"path": "", "code": "ENVELOPE_INVALID", "message": "A CloudEvent must be a JSON object."}
    ]


async def test_contract_violation_gets_422_with_every_error(client: httpx.AsyncClient) -> None:
    """An event breaking several rules answers 422 listing each path and code, values left out."""
    event = referral()
    event["data"]["client"]["bsn"] = "123456789"
    event["data"]["client"]["address"]["postcode"] = "0123AB"
    response = await _post(client, event)
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "urn:sociaaldomein:hub:problem:invalid-event"
    assert body["title"] == "Unprocessable Entity"
    assert body["status"] == 422
    assert body["detail"] == "The event breaks the message contract; see errors."
    assert body["code"] == "BSN_INVALID"
    assert [(e["path"], e["code"]) for e in body["errors"]] == [
        ("data.client.bsn", "BSN_INVALID"),
        ("data.client.address.postcode", "POSTCODE_INVALID"),
    ]
    assert "123456789" not in response.text
    assert "0123AB" not in response.text


async def test_spoofed_source_gets_403_source_mismatch(client: httpx.AsyncClient) -> None:
    """A GP sending as another GP's source answers 403 naming SOURCE_MISMATCH, nothing else."""
    response = await _post(client, referral(), Authorization="Bearer key-gp-het-anker")
    assert response.status_code == 403
    assert response.json() == {
        "type": "urn:sociaaldomein:hub:problem:forbidden",
        "title": "Forbidden",
        "status": 403,
        "detail": "The source is not the URN registered for this partner.",
        "code": "SOURCE_MISMATCH",
        "errors": [
            {
                "path": "source",
                "code": "SOURCE_MISMATCH",
                "message": "The source is not the sending partner's registered source.",
            }
        ],
    }


async def test_type_of_another_role_gets_403_type_not_allowed(client: httpx.AsyncClient) -> None:
    """A GP sending a wijkteam type (as its own source) answers 403 TYPE_NOT_ALLOWED."""
    event = make_event("referrals.status-changed", envelope={"source": referral()["source"]})
    response = await _post(client, event)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "TYPE_NOT_ALLOWED"
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("type", "TYPE_NOT_ALLOWED")]


async def test_resend_is_answered_202_and_produced_once(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """Sending the same (source, id) again answers 202 like the first time, without a second record."""
    event = referral()
    first = await _post(client, event)
    second = await _post(client, event)
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json() == second.json()
    assert len(sink.records) == 1


async def test_event_the_router_already_processed_is_not_produced_again(
    client: httpx.AsyncClient, sink: RecordingSink, book: StatusBook
) -> None:
    """A resend of an event with a router status record answers 202 and is not produced."""
    event = referral()
    record = {"status": "delivered", "partner": "gp-de-linde", "recipients": ["swt-zwolle"]}
    book.apply(status_key(event["source"], event["id"]), json.dumps(record).encode())
    response = await _post(client, event)
    assert response.status_code == 202
    assert sink.records == []


async def test_kafka_not_acknowledging_gets_503_with_retry_after(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """When Kafka does not acknowledge in time the answer is 503 with Retry-After; a retry works."""
    sink.acknowledge = False
    response = await _post(client, referral())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "UNAVAILABLE"
    sink.acknowledge = True
    assert (await _post(client, referral())).status_code == 202
    assert len(sink.records) == 1


async def test_kafka_not_connected_gets_503_before_validation(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """Without a producer connection every event answers 503, valid or not."""
    sink.connected = False
    response = await _post(client, {"not": "an event"})
    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"


async def test_batch_answers_each_event_in_order(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """A batch answers 207 with one result per event: accepted ones carry the id, others a problem."""
    good = referral()
    bad = referral()
    bad["id"] = "second"
    bad["data"]["client"]["bsn"] = "123456789"
    response = await _post(client, [good, bad, 7], **{"Content-Type": BATCH})
    assert response.status_code == 207
    results = response.json()["results"]
    assert results[0] == {"index": 0, "status": "accepted", "id": good["id"]}
    assert results[1]["index"] == 1
    assert results[1]["status"] == "rejected"
    assert results[1]["problem"]["status"] == 422
    assert results[1]["problem"]["errors"][0]["code"] == "BSN_INVALID"
    assert results[2]["problem"]["errors"] == [
        {"path": "", "code": "ENVELOPE_INVALID", "message": "A CloudEvent must be a JSON object."}
    ]
    assert [r.headers for r in sink.records] == [sink.records[0].headers]


async def test_repeat_within_a_batch_is_produced_once(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """The same event twice in one batch is produced once and both answer accepted."""
    event = referral()
    response = await _post(client, [event, event], **{"Content-Type": BATCH})
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert len(sink.records) == 1


async def test_batch_with_kafka_failing_says_retry_after(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """Events Kafka did not take are rejected with 503 in the batch, and Retry-After is set."""
    sink.acknowledge = False
    response = await _post(client, [referral()], **{"Content-Type": BATCH})
    assert response.status_code == 207
    assert response.headers["retry-after"] == "5"
    assert response.json()["results"][0]["problem"]["code"] == "UNAVAILABLE"


async def test_batch_over_the_limit_gets_413(make_app: AppFactory, settings: Any) -> None:
    """More events than max_batch_events answers 413 BATCH_TOO_LARGE and produces nothing."""
    sink = RecordingSink()
    app = make_app(settings=settings.model_copy(update={"max_batch_events": 2}), sink=sink)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        response = await _post(client, [referral()] * 3, **{"Content-Type": BATCH})
    assert response.status_code == 413
    assert response.json()["code"] == "BATCH_TOO_LARGE"
    assert sink.records == []


@pytest.mark.parametrize("body", [[], {"events": []}, "x"], ids=["empty", "object", "string"])
async def test_batch_that_is_not_a_non_empty_array_gets_422(
    client: httpx.AsyncClient, body: Any
) -> None:
    """A batch body must be a JSON array of at least one event."""
    response = await _post(client, body, **{"Content-Type": BATCH})
    assert response.status_code == 422
    assert response.json()["code"] == "ENVELOPE_INVALID"


@pytest.mark.parametrize("event", INVALID_EXAMPLES)
async def test_invalid_examples_are_refused_without_echoing_input(
    client: httpx.AsyncClient, sink: RecordingSink, registry: PartnerRegistry, event: Any
) -> None:
    """Every shared invalid example is refused (4xx) and its problem body quotes none of its values."""
    try:
        partner = sender_of(event, registry).id
    except LookupError:  # an example whose source is nobody's: send it as a GP
        partner = "gp-de-linde"
    response = await _post(client, event, Authorization=f"Bearer key-{partner}")
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert echoed_values(event, response.json()) == set()
    assert sink.records == []
