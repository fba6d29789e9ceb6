"""POST /events in CloudEvents HTTP binary mode: ce-* headers, the event's data as the body."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import structlog

from hub.connectors.registry import load_registry
from hub.gateway.testing import RecordingSink
from hub.observability.logging import configure_logging
from hub.testing import EXAMPLES_DIR, load_example, make_event, personal_values
from tests.sdk import API, APIS, http_batch, http_binary, http_structured

from .gatewaytest import KEYS, echoed_values, referral

# The HTTP binding's rule: printable ASCII but space, '"' and '%' travel as they are.
SAFE = "".join(c for c in map(chr, range(0x21, 0x7F)) if c not in '"%')
AUTH = {"Authorization": f"Bearer {KEYS['gp-de-linde'][0]}"}


async def _send(client: httpx.AsyncClient, headers: dict[str, str], body: bytes) -> httpx.Response:
    return await client.post("/events", content=body, headers={**headers, **AUTH})


def _binary(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return http_binary(event, "new")


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("partitionkey", [True, False])
async def test_binary_mode_produces_the_same_record_as_structured_mode(
    client: httpx.AsyncClient, sink: RecordingSink, api: API, partitionkey: bool
) -> None:
    """The SDK's to_binary (either API, with or without partitionkey) is 202 and produces what structured mode does."""
    event = referral()
    if partitionkey:
        event["partitionkey"] = event["subject"]
    binary = await _send(client, *http_binary(event, api))
    twin = event | {"id": event["id"] + "-s"}
    structured = await _send(client, *http_structured(twin, api))
    assert (binary.status_code, structured.status_code) == (202, 202)
    assert binary.json() == {"id": event["id"], "status": "accepted"}
    from_binary, from_structured = sink.records
    assert (from_binary.topic, from_binary.key, from_binary.value) == (
        from_structured.topic,
        from_structured.key,
        from_structured.value,
    )
    headers = dict(from_binary.headers)
    assert headers == dict(from_structured.headers) | {"ce_id": event["id"].encode()}
    assert "ce_partitionkey" not in headers


@pytest.mark.parametrize("api", APIS)
async def test_an_sdk_batch_is_answered_per_event(client: httpx.AsyncClient, api: API) -> None:
    """A batch of SDK-written events is 207 with one accepted result per event."""
    events = [referral(), referral()]
    events[1]["id"] += "-2"
    response = await _send(client, *http_batch(events, api))
    assert response.status_code == 207
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "accepted"]


async def test_binary_mode_without_an_attribute_names_it(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """A missing ce-id is 422 FIELD_REQUIRED at id, and nothing is produced."""
    headers, body = _binary(referral())
    del headers["ce-id"]
    response = await _send(client, headers, body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["path"], e["code"]) for e in response.json()["errors"]] == [("id", "FIELD_REQUIRED")]
    assert sink.records == []


@pytest.mark.parametrize(
    ("change", "status", "expected"),
    [
        ({"ce-subject": "%FF"}, 422, [("subject", "ENVELOPE_INVALID")]),
        ({"ce-partitionkey": "DL-other"}, 422, [("partitionkey", "SUBJECT_MISMATCH")]),
        ({"ce-clientname": "x"}, 422, [("clientname", "EXTENSION_NOT_ALLOWED")]),
        ({"ce-source": "urn:nld:agb:01765432"}, 403, [("source", "SOURCE_MISMATCH")]),
        ({"Content-Type": "text/plain"}, 415, []),
        ({"Content-Type": "application/json; charset=latin-1"}, 415, []),
    ],
)
async def test_binary_mode_errors_are_problems_with_paths_and_codes(
    client: httpx.AsyncClient, change: dict[str, str], status: int, expected: list[tuple[str, str]]
) -> None:
    """Each binary-mode error is a problem+json body naming the attribute and its code."""
    headers, body = _binary(referral())
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"} | {
        "Content-Type": "application/json"
    }
    response = await _send(client, headers | change, body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["path"], e["code"]) for e in response.json()["errors"]] == expected


async def test_a_binary_body_that_is_not_json_is_400_at_data(client: httpx.AsyncClient) -> None:
    """The body is the data: when it is not JSON the answer is 400 MALFORMED_JSON naming data."""
    headers, _ = _binary(referral())
    response = await _send(client, headers, b"{not json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "MALFORMED_JSON"
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("data", "MALFORMED_JSON")]


async def test_a_structured_body_that_is_not_json_is_400_naming_the_body_as_a_whole(
    client: httpx.AsyncClient,
) -> None:
    """Structured mode's 400 names the path "" (the body), as the Kafka dead letter does."""
    response = await client.post(
        "/events",
        content=b"{",
        headers={**AUTH, "Content-Type": "application/cloudevents+json"},
    )
    assert response.status_code == 400
    assert [(e["path"], e["code"]) for e in response.json()["errors"]] == [("", "MALFORMED_JSON")]


async def test_binary_data_over_256_kib_is_413(client: httpx.AsyncClient) -> None:
    """The event limit counts the event as structured JSON, whichever mode it came in."""
    event = make_event("outcomes.reported")
    event["data"]["results"][0]["indicators"] = {f"indicator_{n:05d}": n for n in range(30_000)}
    headers, body = _binary(event)
    response = await client.post(
        "/events",
        content=body,
        headers={**headers, "Authorization": f"Bearer {KEYS['provider-thuiszorg-zwolle'][0]}"},
    )
    assert response.status_code == 413  # the test app's body limit is 64 KiB
    assert response.json()["code"] in ("BODY_TOO_LARGE", "EVENT_TOO_LARGE")


PERSONAL = {
    "ce-id": "Esther van Dalfsen 1986-02-11",
    "ce-subject": "999990019",
    "ce-esther-van-dalfsen": "Esther van Dalfsen",
    "ce-partitionkey": "Esther van Dalfsen",
}


@pytest.mark.parametrize(("name", "value"), PERSONAL.items())
async def test_personal_values_in_binary_headers_are_never_echoed(
    client: httpx.AsyncClient, name: str, value: str
) -> None:
    """A name or BSN in a ce- header (value or name) is refused without appearing in the problem."""
    headers, body = _binary(referral())
    response = await _send(client, headers | {name: value}, body)
    assert response.status_code == 422
    problem = response.json()
    assert echoed_values({name: value, "value": value}, problem) == set()
    assert "Esther" not in json.dumps(problem)
    assert "999990019" not in json.dumps(problem)


async def test_a_tracestate_header_is_accepted_and_dropped(
    client: httpx.AsyncClient, sink: RecordingSink
) -> None:
    """ce-tracestate (vendor data, here holding a BSN) is checked, then reaches no record."""
    headers, body = _binary(referral())
    response = await _send(client, headers | {"ce-tracestate": "bsn=999990019"}, body)
    assert response.status_code == 202
    (record,) = sink.records
    written = (record.key or b"") + record.value + b"".join(v for _, v in record.headers)
    assert b"999990019" not in written
    assert "ce_tracestate" not in dict(record.headers)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """JSON log lines written by the production configuration, captured in memory."""
    buffer = io.StringIO()
    configure_logging(format="json", level="DEBUG")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    yield buffer
    structlog.reset_defaults()


def _plain_binary(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """Binary mode for any event, valid or not (the SDK refuses to build some invalid ones)."""
    headers = {
        f"ce-{name}": quote(str(value), safe=SAFE)
        for name, value in event.items()
        if name not in ("data", "datacontenttype")
    }
    return headers | {"Content-Type": "application/json"}, json.dumps(event.get("data")).encode()


async def test_no_personal_value_of_any_example_is_in_a_binary_mode_answer_or_log(
    client: httpx.AsyncClient, captured: io.StringIO
) -> None:
    """Every example sent in binary mode, by its sender: no personal value in a problem body or a log line."""
    examples = [load_example(path) for path in sorted(EXAMPLES_DIR.glob("*/*/*.json"))]
    values = {v for event in examples for v in personal_values(event)}
    answers = []
    registry = load_registry()
    for event in examples:
        sender = registry.by_source(str(event.get("source")))
        key = KEYS.get(sender.id if sender else "", KEYS["gp-de-linde"])[0]
        headers, body = _plain_binary(event)
        response = await client.post(
            "/events", content=body, headers={**headers, "Authorization": f"Bearer {key}"}
        )
        answers.append(response.text)
    assert sum(1 for a in answers if '"errors"' in a) > 50
    text = "\n".join(answers) + captured.getvalue()
    assert "event_rejected" in text
    assert sorted(v for v in values if v in text) == []


async def test_the_openapi_description_tells_partners_binary_mode_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    """/openapi.json describes binary mode on POST /events: its ce- headers and its body."""
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/events"]["post"]["requestBody"]
    assert "Binary mode" in body["description"]
    assert "`ce-id`" in body["description"]
    assert "binary" in spec["info"]["description"]


@pytest.mark.parametrize("api", APIS)
async def test_binary_mode_of_an_event_without_datacontenttype_is_json_by_default(
    client: httpx.AsyncClient, sink: RecordingSink, api: API
) -> None:
    """The SDK sends no Content-Type for an event that names no datacontenttype: its data is JSON (the default), 202."""
    event = referral()
    event.pop("datacontenttype", None)
    headers, body = http_binary(event, api)
    assert "content-type" not in {name.lower() for name in headers}
    answer = await _send(client, headers, body)
    assert answer.status_code == 202, answer.json()
    (record,) = sink.records
    assert json.loads(record.value)["referral_id"] == event["data"]["referral_id"]
    assert "content-type" not in dict(record.headers)  # the event named no datacontenttype


async def test_two_content_types_are_415(client: httpx.AsyncClient) -> None:
    """Of two Content-Type headers neither is taken (a proxy may have read the other): 415, in either order."""
    body = json.dumps(referral()).encode()
    for first, second in [
        ("text/plain", "application/cloudevents+json"),
        ("application/cloudevents+json", "text/plain"),
        ("application/cloudevents+json", "application/cloudevents+json"),
    ]:
        answer = await client.post(
            "/events",
            content=body,
            headers=[*AUTH.items(), ("Content-Type", first), ("Content-Type", second)],
        )
        assert answer.status_code == 415
        assert answer.json()["code"] == "CONTENT_TYPE_UNSUPPORTED"
