"""The app around the events: problems for everything, no 500, health, OpenAPI and offline docs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
import structlog

from hub.gateway.testing import RecordingSink
from hub.observability.logging import configure_logging
from hub.schemas import ValidEvent

from .gatewaytest import BATCH, STRUCTURED, AppFactory, auth, referral


def production_processors() -> list[Any]:
    """The production processor chain without its renderer, so captured lines are what ships."""
    configure_logging(format="json")
    try:
        return list(structlog.get_config()["processors"])[:-1]
    finally:
        structlog.reset_defaults()


async def _call(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        return await client.request(method, path, **kwargs)


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    """An unknown path answers a problem body, not FastAPI's default."""
    response = await client.get("/999900018")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "NOT_FOUND"
    assert "999900018" not in response.text


async def test_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    """A wrong method answers 405 with the Allow header and a problem body."""
    response = await client.put("/events", headers=auth())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_a_bug_answers_503_processing_failed_and_logs_no_data(
    make_app: AppFactory,
) -> None:
    """An unexpected exception becomes a 503 problem PROCESSING_FAILED; the log has its type only."""

    def broken(raw: Mapping[str, Any], sender: Any) -> ValidEvent:
        raise RuntimeError(f"bug while reading {raw['data']['client']['bsn']}")

    app = make_app(validator=broken)
    with structlog.testing.capture_logs(processors=production_processors()) as logs:
        response = await _call(
            app, "POST", "/events", content=json.dumps(referral()), headers=auth()
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "PROCESSING_FAILED"
    assert "999900018" not in response.text
    (failed,) = [entry for entry in logs if entry["event"] == "event_check_failed"]
    assert failed["exc_type"] == "RuntimeError"
    assert "999900018" not in repr(failed)


async def test_a_bug_outside_validation_is_caught_too(make_app: AppFactory) -> None:
    """Even a failure in the sink ends in a problem body, never a bare 500."""

    class Exploding(RecordingSink):
        async def send(self, records: Any) -> list[bool]:
            raise RuntimeError("999900018")

    app = make_app(sink=Exploding())
    with structlog.testing.capture_logs(processors=production_processors()) as logs:
        response = await _call(
            app, "POST", "/events", content=json.dumps(referral()), headers=auth()
        )
    assert response.status_code == 503
    assert response.json()["code"] == "PROCESSING_FAILED"
    assert "999900018" not in response.text
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == ["request_failed"]


async def test_healthz_answers_while_the_process_runs(client: httpx.AsyncClient) -> None:
    """/healthz needs neither credentials nor Kafka."""
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_follows_kafka(client: httpx.AsyncClient, sink: RecordingSink) -> None:
    """/readyz is 200 while Kafka answers and 503 with Retry-After when it does not."""
    assert (await client.get("/readyz")).status_code == 200
    sink.reachable = False
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


async def test_openapi_describes_bodies_answers_and_security(client: httpx.AsyncClient) -> None:
    """/openapi.json has the three media types, a schema per event type, problems and security."""
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/events"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/cloudevents+json",
        "application/json",
        "application/cloudevents-batch+json",
    }
    batch = post["requestBody"]["content"][BATCH]["schema"]
    assert (batch["minItems"], batch["maxItems"]) == (1, 100)
    assert len(spec["components"]["schemas"]["CloudEvent"]["oneOf"]) == 16
    assert set(post["responses"]) == {
        "202", "207", "400", "401", "403", "408", "413", "415", "422", "429", "503",
    }  # fmt: skip
    assert "application/problem+json" in post["responses"]["422"]["content"]
    assert post["security"] == [{"bearer": []}, {"apiKey": []}, {"mutualTLS": []}]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_docs_load_nothing_from_elsewhere(client: httpx.AsyncClient) -> None:
    """/docs serves Swagger UI whose scripts, styles and icon all come from the app itself."""
    page = await client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets
    assert all(asset.startswith("/docs/assets/") for asset in assets)
    for asset in assets:
        assert (await client.get(asset)).status_code == 200
    assert "http://" not in page.text
    assert "https://" not in page.text


async def test_docs_can_be_switched_off(make_app: AppFactory, settings: Any) -> None:
    """With docs=False there is no /docs."""
    app = make_app(settings=settings.model_copy(update={"docs": False}))
    assert (await _call(app, "GET", "/docs")).status_code == 404


async def test_request_log_names_only_known_methods(client: httpx.AsyncClient) -> None:
    """A client's own method word is any text (a name): it is logged as "other"."""
    with structlog.testing.capture_logs() as logs:
        await client.request("DALFSEN", "/events")
    (line,) = [entry for entry in logs if entry["event"] == "http_request"]
    assert line["method"] == "other"
    assert "DALFSEN" not in repr(line)


@pytest.mark.parametrize("path", ["/events/DL-2025-0317", "/events"])
async def test_request_log_names_the_route_not_the_path(
    client: httpx.AsyncClient, path: str
) -> None:
    """The request log line carries the endpoint's name, never the raw path with an id."""
    with structlog.testing.capture_logs() as logs:
        if path == "/events":
            await client.post("/events", content=b"{}", headers=auth(content_type=STRUCTURED))
        else:
            await client.get(path, headers=auth())
    (line,) = [entry for entry in logs if entry["event"] == "http_request"]
    assert line["route"] in {"post_events", "get_event_status"}
    assert "DL-2025-0317" not in repr(line)
    assert line["partner"] == "gp-de-linde"
