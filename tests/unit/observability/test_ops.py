"""The ops port's app: health, readiness naming what fails, and the metrics exposition."""

from __future__ import annotations

import asyncio
import multiprocessing

import httpx

from hub.audit.feed import (
    RECORDS_INVALID,
    RECORDS_STORED,
    WRITE_SECONDS,
    AuditFeedProcess,
    BatchReport,
)
from hub.observability import metrics, ops
from hub.observability.ops import ops_app
from hub.settings import AuditSettings, KafkaSettings, LoggingSettings, OpsSettings
from hub.topics import TopicLayout


async def _ready() -> bool:
    return True


async def _not_ready() -> bool:
    return False


async def _broken() -> bool:
    raise RuntimeError("a check that fails")


async def _hanging() -> bool:
    await asyncio.sleep(60)
    return True


async def _get(app: object, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as client:
        return await client.get(path, headers=headers)


async def test_readyz_is_200_when_every_check_passes() -> None:
    """Every check True: 200 and status ready; /healthz answers regardless."""
    app = ops_app({"kafka": _ready, "state": _ready})
    ready = await _get(app, "/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    health = await _get(app, "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


async def test_readyz_names_each_failing_check_in_order() -> None:
    """A check that says False, raises or outlasts the timeout is failing; 503 names those, in order."""
    app = ops_app(
        {"kafka": _hanging, "state": _ready, "router": _not_ready, "feed": _broken},
        timeout_seconds=0.1,
    )
    ready = await _get(app, "/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "failing": ["kafka", "router", "feed"]}


async def test_metrics_serve_the_hub_metrics_as_text_or_openmetrics() -> None:
    """/metrics holds the hub's metrics; OpenMetrics when the scraper asks for it."""
    metrics.ROUTER_RETRYING.set(1)
    text = await _get(ops_app({}), "/metrics")
    assert text.headers["content-type"].startswith("text/plain")
    assert "hub_router_retrying 1.0" in text.text.splitlines()
    opened = await _get(ops_app({}), "/metrics", accept="application/openmetrics-text")
    assert opened.headers["content-type"].startswith("application/openmetrics-text")
    assert opened.text.rstrip().endswith("# EOF")
    metrics.ROUTER_RETRYING.set(0)


async def test_the_audit_feeds_reports_are_counted_in_the_parent() -> None:
    """A BatchReport sent by the feed's process moves the stored, invalid and write-time metrics here."""
    receive, send = multiprocessing.Pipe(duplex=False)
    stored = RECORDS_STORED.labels(kind="disclosure")._value.get()
    attempts = RECORDS_STORED.labels(kind="attempt")._value.get()
    invalid = RECORDS_INVALID._value.get()
    writes = WRITE_SECONDS._sum.get()
    send.send(BatchReport(disclosures=7, attempts=2, invalid=1, write_seconds=0.5))
    send.close()  # the child has ended: the reader reads to the pipe's end
    feed = AuditFeedProcess(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        audit=AuditSettings(),
        layout=TopicLayout("hub"),
        logging=LoggingSettings(),
    )
    feed._child._read_reports(receive, asyncio.get_running_loop())
    await asyncio.sleep(0)  # the reports are handed to the loop
    assert RECORDS_STORED.labels(kind="disclosure")._value.get() - stored == 7
    assert RECORDS_STORED.labels(kind="attempt")._value.get() - attempts == 2
    assert RECORDS_INVALID._value.get() - invalid == 1
    assert WRITE_SECONDS._sum.get() - writes == 0.5
    receive.close()


async def test_the_exposition_is_built_at_most_once_a_second_and_the_port_bounds_connections() -> (
    None
):
    """A flood of scrapes shares one build; the server answers 503 past MAX_CONNECTIONS."""
    app = ops_app({"kafka": _ready})
    before = (await _get(app, "/metrics")).text
    metrics.ROUTER_RETRIES.inc()
    cached = (await _get(app, "/metrics")).text
    assert cached == before  # within the second: the same bytes
    server = ops.OpsServer(OpsSettings(port=0), {"kafka": _ready})
    assert server._server.config.limit_concurrency == ops.MAX_CONNECTIONS
