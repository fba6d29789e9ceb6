"""The operations page's routes on the ops app: the assets, /api/overview and /asyncapi.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from hub.asyncapi import asyncapi_document, render_document
from hub.connectors.registry import DEMO_REGISTRY_PATH, load_registry
from hub.observability import metrics
from hub.observability.ops import ops_app
from hub.observability.page import (
    DEAD_LETTERS_SHOWN,
    LAG_STALE_SECONDS,
    SAFETY_REPORT_ROLE,
    SAFETY_REPORT_TYPE,
    PartnerCard,
    overview,
    page_routes,
)
from hub.settings import HubSettings

from ..operations.test_board import filled_board, headed

_RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "hub-alerts.yml"
_NO_LETTERS: dict[str, Any] = {"checked_at": None, "total": 0, "unresolved": []}
CARDS = [
    PartnerCard("gp-page-test", "Huisartsenpraktijk Test", "gp", "topic"),
    PartnerCard("vt-page-test", "Veilig Thuis Test", SAFETY_REPORT_ROLE, "webhook"),
]


async def _get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as client:
        return await client.get(path)


def _app(asyncapi: bytes | None = None) -> object:
    return ops_app({}, routes=page_routes(CARDS, lambda **_: _NO_LETTERS, asyncapi=asyncapi))


async def test_the_page_and_its_assets_load_from_the_package_and_name_nothing_elsewhere() -> None:
    """/, /page.js and /page.css are served with their types and a CSP of this origin only; no asset names another host."""
    app = _app()
    page = await _get(app, "/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Hub operations</title>" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    script = await _get(app, "/page.js")
    style = await _get(app, "/page.css")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    for asset in (page.text, script.text, style.text):
        hosts = set(re.findall(r"https?://[^\s\"'`/]+", asset))
        assert hosts <= {"http://www.w3.org"}  # the SVG namespace, an identifier, never fetched
    assert "innerHTML" not in script.text


async def test_the_overview_reads_the_process_metrics_by_partner() -> None:
    """/api/overview sums a partner's counters over types and shows what nobody measures as null."""
    metrics.EVENTS_IN.labels("gp-page-test", "unknown").inc(2)
    metrics.EVENTS_IN.labels("gp-page-test", SAFETY_REPORT_TYPE).inc(3)
    metrics.EVENTS_DELIVERED.labels(SAFETY_REPORT_TYPE, "vt-page-test").inc(4)
    metrics.DELIVERY_BACKLOG.labels("vt-page-test").set(1)
    metrics.DELIVERY_OLDEST_SECONDS.labels("vt-page-test").set(12.5)
    metrics.WEBHOOK_PARKED.labels("vt-page-test").set(0)
    answer = await _get(_app(), "/api/overview")
    assert answer.headers["cache-control"] == "no-store"
    rows = {p["id"]: p for p in answer.json()["partners"]}
    assert (rows["gp-page-test"]["in"], rows["gp-page-test"]["out"]) == (5, 0)
    assert rows["gp-page-test"]["backlog"] is None
    assert rows["gp-page-test"]["breaker"] is None
    assert rows["vt-page-test"]["out"] == 4
    assert rows["vt-page-test"]["backlog"] == 1
    assert rows["vt-page-test"]["oldest_undelivered_seconds"] == 12.5
    assert rows["vt-page-test"]["name"] == "Veilig Thuis Test"


def _registry(*, oldest: float, by_type: float | None, parked: int, checked: float) -> Any:
    registry = CollectorRegistry()
    Counter("hub_events_in_total", "", ["partner", "type"], registry=registry)
    Gauge("hub_delivery_oldest_undelivered_seconds", "", ["recipient"], registry=registry).labels(
        "vt-page-test"
    ).set(oldest)
    typed = Gauge(
        "hub_delivery_oldest_undelivered_by_type_seconds", "", ["recipient", "type"],
        registry=registry,
    )  # fmt: skip
    if by_type is not None:
        typed.labels("vt-page-test", SAFETY_REPORT_TYPE).set(by_type)
    Gauge("hub_webhook_parked_records", "", ["partner"], registry=registry).labels(
        "vt-page-test"
    ).set(parked)
    Gauge("hub_webhook_breaker_open", "", ["partner"], registry=registry).labels(
        "vt-page-test"
    ).set(1)
    Gauge("hub_safety_report_deadline_seconds", "", registry=registry).set(300)
    Gauge("hub_lag_checked_timestamp_seconds", "", registry=registry).set(checked)
    return registry


def test_the_safety_report_alert_is_decided_as_the_shipped_rules_decide_it() -> None:
    """Firing when the older of the type's and the recipient's oldest passes the deadline, or one is parked; unknown when the lag is stale."""

    def state(**kwargs: Any) -> tuple[str, Any]:
        found = overview(CARDS, _NO_LETTERS, registry=_registry(**kwargs), now=1000.0)
        return found["safety_report"]["state"], found["partners"][1]["breaker"]

    assert state(oldest=10, by_type=None, parked=0, checked=999) == ("ok", "open")
    assert state(oldest=10, by_type=301, parked=0, checked=999)[0] == "firing"
    assert state(oldest=301, by_type=5, parked=0, checked=999)[0] == "firing"
    assert state(oldest=0, by_type=None, parked=1, checked=999)[0] == "firing"
    assert state(oldest=0, by_type=None, parked=0, checked=1000 - LAG_STALE_SECONDS - 1)[0] == (
        "unknown"
    )
    assert state(oldest=0, by_type=None, parked=0, checked=0)[0] == "unknown"


def test_the_page_watches_what_the_alert_rules_watch() -> None:
    """The role, the type and the staleness the page uses are those of deploy/prometheus/hub-alerts.yml."""
    rules = _RULES.read_text(encoding="utf-8")
    assert f'type="{SAFETY_REPORT_TYPE}"' in rules
    assert f'role="{SAFETY_REPORT_ROLE}"' in rules
    assert f"time() - hub_lag_checked_timestamp_seconds > {int(LAG_STALE_SECONDS)}" in rules


async def test_the_asyncapi_document_is_served_as_given() -> None:
    """/asyncapi.json is the document `hub asyncapi` writes for the deployment, as JSON."""
    settings = HubSettings()
    document = render_document(asyncapi_document(settings, load_registry(DEMO_REGISTRY_PATH)))
    answer = await _get(_app(document), "/asyncapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == document
    assert json.loads(answer.content)["asyncapi"] == "3.0.0"
    assert (await _get(_app(), "/asyncapi.json")).status_code == 404  # the gateway's ops port


def test_the_dead_letters_pass_through_unchanged() -> None:
    """The board's snapshot is the overview's dead letters, as the board made it."""
    letters = {"checked_at": 5.0, "total": 2, "unresolved": [{"id": "dl-0-1"}]}
    assert overview(CARDS, letters, registry=CollectorRegistry())["dead_letters"] == letters


async def test_the_overview_carries_the_kpi_snapshot_when_this_hub_aggregates() -> None:
    """/api/overview's kpis is the aggregator's snapshot as given, or None without one; the page has its panel."""
    kpis = {"ready": True, "month": "2025-03", "kpis": [], "budgets": [], "open": {"waiting": 2}}
    with_kpis = ops_app({}, routes=page_routes(CARDS, lambda **_: _NO_LETTERS, kpis=lambda: kpis))
    assert (await _get(with_kpis, "/api/overview")).json()["kpis"] == kpis
    assert (await _get(_app(), "/api/overview")).json()["kpis"] is None
    assert 'data-testid="kpi-table"' in (await _get(_app(), "/")).text


async def test_the_overview_lists_the_newest_dead_letters_and_counts_them_all() -> None:
    """Of 10,050 dead letters /api/overview lists the newest DEAD_LETTERS_SHOWN, with the board's totals and its counts per partner and code; ids and codes only."""
    records = [headed("gp-page-test", "UNKNOWN_REFERENCE", n, minute=n) for n in range(10_000)]
    records += [headed("vt-page-test", "FIELD_UNKNOWN", n, minute=n) for n in range(10_000, 10_050)]
    board = filled_board(records, replayed_ids={"dl-0-10049"})
    app = ops_app({}, routes=page_routes(CARDS, board.snapshot))
    letters = (await _get(app, "/api/overview")).json()["dead_letters"]
    assert DEAD_LETTERS_SHOWN == 200
    assert len(letters["unresolved"]) == DEAD_LETTERS_SHOWN
    assert letters["unresolved"][0]["id"] == "dl-0-10048"  # the newest not replayed
    assert letters["unresolved"][-1]["id"] == "dl-0-9849"
    assert set(letters["unresolved"][0]) == {
        "id", "partner", "code", "written_at", "age_seconds", "replays"
    }  # fmt: skip
    assert (letters["limit"], letters["partner"], letters["matching"]) == (200, None, 9_999)
    assert (letters["total"], letters["held"], letters["unresolved_count"]) == (
        10_050,
        10_000,  # KEEP: the 50 oldest went
        9_999,
    )
    assert letters["by_partner"] == [
        {"partner": "gp-page-test", "count": 9_950},
        {"partner": "vt-page-test", "count": 49},
    ]
    assert letters["by_code"] == [
        {"code": "UNKNOWN_REFERENCE", "count": 9_950},
        {"code": "FIELD_UNKNOWN", "count": 49},
    ]
    assert letters["by_partner_and_code"] == [
        {"partner": "gp-page-test", "code": "UNKNOWN_REFERENCE", "count": 9_950},
        {"partner": "vt-page-test", "code": "FIELD_UNKNOWN", "count": 49},
    ]


async def test_the_overview_lists_one_partners_dead_letters_when_asked() -> None:
    """?dead_letters_partner=ID lists that partner's newest only; the counts stay the whole board's."""
    records = [headed("gp-page-test", "UNKNOWN_REFERENCE", n, minute=n) for n in range(300)]
    records += [headed("vt-page-test", "FIELD_UNKNOWN", n, minute=n) for n in range(300, 303)]
    app = ops_app({}, routes=page_routes(CARDS, filled_board(records).snapshot))
    answer = await _get(app, "/api/overview?dead_letters_partner=gp-page-test")
    letters = answer.json()["dead_letters"]
    assert (letters["partner"], letters["matching"], letters["unresolved_count"]) == (
        "gp-page-test",
        300,
        303,
    )
    assert len(letters["unresolved"]) == DEAD_LETTERS_SHOWN
    assert {r["partner"] for r in letters["unresolved"]} == {"gp-page-test"}
    assert letters["unresolved"][0]["id"] == "dl-0-299"
    everyone = (await _get(app, "/api/overview?dead_letters_partner=")).json()["dead_letters"]
    assert (everyone["partner"], everyone["unresolved"][0]["id"]) == (None, "dl-0-302")
