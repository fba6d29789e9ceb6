"""The contract's size and entry limits at the HTTP edge: 413 EVENT_TOO_LARGE, 422 TOO_LONG, per event in a batch."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub.envelope import MAX_EVENT_BYTES, event_size
from hub.gateway import GatewaySettings
from hub.gateway.testing import RecordingSink
from hub.testing import make_event

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
    """The issue's outcome of thousands of indicators (over 256 KiB) is answered 413 EVENT_TOO_LARGE, nothing produced."""
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
