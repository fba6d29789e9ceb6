"""The contract's size and entry limits at the HTTP edge: 413 EVENT_TOO_LARGE, 422 TOO_LONG, per event in a batch."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from hub.envelope import MAX_EVENT_BYTES, event_size
from hub.gateway import GatewaySettings
from hub.gateway.testing import RecordingSink
from hub.inbound import KafkaBinary
from hub.schemas import validate_event
from hub.testing import make_event, sender_of

from .gatewaytest import BATCH, AppFactory, auth

PROVIDER = "provider-thuiszorg-zwolle"


@pytest.fixture
async def roomy(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway whose body limit (1 MiB, the default) lets an oversized event through to intake."""
    app = make_app(settings=GatewaySettings(max_body_bytes=1_048_576, rate_limit="10000/minute"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=30
        ) as client,
    ):
        yield client


def outcome(indicators: int) -> dict[str, Any]:
    """The provider's outcome report with this many indicators in its first result."""
    event = make_event("outcomes.reported")
    event["data"]["results"][0]["indicators"] = {
        f"zelfredzaamheid_indicator_{n:05d}": n * 1.5 for n in range(indicators)
    }
    return event


async def test_a_924_kb_outcome_gets_413_event_too_large(
    roomy: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """An outcome of thousands of indicators (over 256 KiB) is answered 413 EVENT_TOO_LARGE, nothing produced."""
    event = outcome(21_000)
    body = json.dumps(event).encode()
    assert 900_000 < len(body) < 1_048_576
    response = await roomy.post("/events", content=body, headers=auth(PROVIDER))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "EVENT_TOO_LARGE"
    assert problem["errors"] == [
        {
            "path": "",
            "code": "EVENT_TOO_LARGE",
            "message": "The event is over 256 KiB (its compact JSON); split it over several events.",
        }
    ]
    assert sink.records == []


async def test_thousands_of_indicators_under_256_kib_get_422_too_long(
    roomy: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """2,000 indicators fit in 256 KiB but break the 100-entry limit: 422 TOO_LONG at their path."""
    event = outcome(2_000)
    assert event_size(event) < MAX_EVENT_BYTES
    response = await roomy.post("/events", content=json.dumps(event), headers=auth(PROVIDER))
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "TOO_LONG"
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        ("data.results[0].indicators", "TOO_LONG")
    ]
    assert sink.records == []


async def test_a_batch_answers_the_oversized_event_413_and_takes_the_others(
    roomy: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """In a batch, the oversized event alone is rejected (status 413 in its result); the others are accepted."""
    small, large, after = outcome(3), outcome(9_000), outcome(4)
    assert event_size(large) > MAX_EVENT_BYTES
    response = await roomy.post(
        "/events",
        content=json.dumps([small, large, after]),
        headers=auth(PROVIDER, content_type=BATCH),
    )
    assert response.status_code == 207
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "accepted"),
    ]
    problem = results[1]["problem"]
    assert (problem["status"], problem["code"]) == (413, "EVENT_TOO_LARGE")
    assert [dict(r.headers)["ce_id"].decode() for r in sink.records] == [small["id"], after["id"]]


AREAS = (
    "financien-op-orde",
    "regie-eigen-leven",
    "sociaal-netwerk",
    "veiligheid",
    "schoon-leefbaar-huis",
    "dagbesteding-participatie",
    "zelfstandig-wonen",
)


def outcome_of_size(size: int, **envelope: Any) -> dict[str, Any]:
    """A valid outcome report whose compact JSON is exactly ``size`` bytes (``None`` in ``envelope`` leaves an attribute out)."""
    event = make_event("outcomes.reported")
    for name, value in envelope.items():
        if value is None:
            del event[name]
        else:
            event[name] = value
    results: list[dict[str, Any]] = []
    event["data"]["results"] = results
    # Indicator names of 200 code points, most of them two bytes: a valid event grows fast.
    for index, area in enumerate(AREAS):
        indicators: dict[str, int] = {}
        results.append(
            {
                "result_area": area,
                "status": "in-progress",
                "assessed_on": "2025-04-30",
                "explanation": "x",
                "indicators": indicators,
            }
        )
        for n in range(100):
            if event_size(event) > size - 3_000:
                break
            indicators[f"{index}{n:03d}" + "é" * 196] = n
    results[0]["explanation"] += "x" * (size - event_size(event))
    assert event_size(event) == size
    return event


def _request(event: dict[str, Any], mode: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of the event in structured, batch or binary mode, written compactly."""
    if mode == "binary":
        headers = auth(PROVIDER, content_type=event.get("datacontenttype", "application/json"))
        headers |= {f"ce-{k}": v for k, v in event.items() if k not in ("data", "datacontenttype")}
        return headers, _compact(event["data"])
    if mode == "batch":
        return auth(PROVIDER, content_type=BATCH), b"[" + _compact(event) + b"]"
    return auth(PROVIDER), _compact(event)


def _compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _answer(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    if response.status_code == 207:
        (result,) = body["results"]
        if result["status"] == "accepted":
            return 202, "accepted"
        return result["problem"]["status"], result["problem"]["code"]
    return response.status_code, body.get("code", body.get("status"))


@pytest.mark.parametrize("mode", ["structured", "batch", "binary"])
async def test_an_event_of_exactly_256_kib_is_taken_and_one_byte_more_is_413(
    roomy: httpx.AsyncClient, sink: RecordingSink, mode: str
) -> None:
    """In every HTTP mode (per event in a batch) 256 KiB is accepted and 256 KiB + 1 byte is 413 EVENT_TOO_LARGE."""
    fits, over = outcome_of_size(MAX_EVENT_BYTES), outcome_of_size(MAX_EVENT_BYTES + 1)
    headers, body = _request(fits, mode)
    assert _answer(await roomy.post("/events", content=body, headers=headers)) == (202, "accepted")
    headers, body = _request(over, mode)
    answer = await roomy.post("/events", content=body, headers=headers)
    assert _answer(answer) == (413, "EVENT_TOO_LARGE")
    assert [dict(r.headers)["ce_id"].decode() for r in sink.records] == [fits["id"]]


@pytest.mark.parametrize(
    "time", ["2025-05-01T07:00:00Z", "2025-05-01T07:00:00.5z", "2025-05-01T09:00:00+02:00"]
)
async def test_an_event_taken_at_the_limit_is_not_too_large_for_the_router(
    roomy: httpx.AsyncClient, sink: RecordingSink, time: str
) -> None:
    """A 256 KiB event without datacontenttype, its time as sent, reads back from its inbound record at the same size: the router does not dead-letter it EVENT_TOO_LARGE."""
    event = outcome_of_size(MAX_EVENT_BYTES, time=time, datacontenttype=None)
    headers, body = _request(event, "structured")
    assert _answer(await roomy.post("/events", content=body, headers=headers)) == (202, "accepted")
    (record,) = sink.records
    names = [name for name, _ in record.headers]
    assert "content-type" not in names
    assert dict(record.headers)["ce_time"] == time.encode()
    reading = KafkaBinary().read(record)
    assert reading.event is not None
    assert event_size(reading.event) == MAX_EVENT_BYTES
    valid = validate_event(reading.event, sender=sender_of(event))
    assert valid.time == datetime.fromisoformat(time.upper())


async def test_an_event_with_its_datacontenttype_keeps_it_on_the_inbound_record(
    roomy: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """An event that names its datacontenttype is written with a content-type header, as before."""
    event = make_event("outcomes.reported")
    headers, body = _request(event, "structured")
    assert _answer(await roomy.post("/events", content=body, headers=headers)) == (202, "accepted")
    (record,) = sink.records
    assert ("content-type", b"application/json") in record.headers
