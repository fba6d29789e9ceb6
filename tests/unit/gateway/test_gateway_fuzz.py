"""Generated requests: the gateway never fails, and never quotes what it was sent."""

from __future__ import annotations

import json

import httpx
from hypothesis import HealthCheck, event, given, settings

from hub.gateway.testing import FuzzRequest, fuzz_requests
from hub.testing import demo_registry, scenario

from .gatewaytest import KEYS

POST_STATUSES = {202, 207, 400, 401, 403, 408, 413, 415, 422, 429}


def problems_in(response: httpx.Response) -> list[dict[str, object]]:
    """The problem bodies in an answer: the body itself, or those of a batch's results."""
    body = response.json()
    if response.status_code == 207:
        return [r["problem"] for r in body["results"] if r["status"] == "rejected"]
    return [body] if response.status_code >= 400 else []


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one app for all examples, as in production
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(request=fuzz_requests(scenario()))
async def test_generated_requests_get_documented_answers_without_echo(
    client: httpx.AsyncClient, request: FuzzRequest
) -> None:
    """Mutated examples each get a documented 2xx/4xx answer whose problems quote no planted value."""
    partner = demo_registry().by_source(request.source)
    key = KEYS[partner.id][0] if partner else "key-gp-de-linde"
    response = await client.post(
        "/events",
        content=request.body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": request.content_type},
    )
    event(f"status {response.status_code}")
    assert response.status_code in POST_STATUSES, response.text
    for problem in problems_in(response):
        text = json.dumps(problem)
        assert [c for c in request.canaries() if c in text] == []
