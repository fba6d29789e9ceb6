"""A real Prometheus scrapes a running `hub run`: counters move as events flow, and a safety
report Veilig Thuis cannot take raises HubSafetyReportUndelivered."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from hub.connectors.registry import DEMO_REGISTRY_PATH
from hub.dev.partner_io import send_events
from hub.topics import TopicLayout

from .hubtest import eventually, hub_process, isolated_settings
from .prometheustest import prometheus_scraping, query

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
SAFETY_REPORT = "nl.sociaaldomein.safety-reports.submitted.v1"
SECRET_ENV = "HUB_TEST_WEBHOOK_SECRET"
SECRET = "whsec_" + base64.b64encode(b"integration-test-secret-32bytes!").decode()
_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _example(type_dir: str, name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((_EXAMPLES / type_dir / "valid" / name).read_text())
    event["id"] = str(uuid.uuid4())
    return event


def _registry_with_unreachable_veilig_thuis(path: Path) -> Path:
    """The demo registry, but Veilig Thuis takes webhooks at an address where nothing listens."""
    raw = yaml.safe_load(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"))
    for partner in raw["partners"]:
        if partner["role"] == "veilig-thuis":
            partner["delivery"] = {
                "kind": "webhook",
                "url": f"http://127.0.0.1:{_free_port()}/hook",
                "secret_env": SECRET_ENV,
            }
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


async def test_prometheus_sees_events_flow_and_an_undelivered_safety_report(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """After a referral and a safety report flow, Prometheus's API shows the counters moved and the VT alert firing."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)
    ops_port = _free_port()
    log = tmp_path / "hub.log"
    process = hub_process(
        settings,
        log,
        extra_env={
            "HUB_PARTNERS_FILE": str(_registry_with_unreachable_veilig_thuis(tmp_path / "p.yaml")),
            SECRET_ENV: SECRET,
            "HUB_OPS__PORT": str(ops_port),
            "HUB_OPS__LAG_INTERVAL_SECONDS": "1",
            "HUB_OPS__SAFETY_REPORT_DEADLINE_SECONDS": "5",
        },
    )
    ops = f"http://127.0.0.1:{ops_port}"
    try:
        with prometheus_scraping(f"127.0.0.1:{ops_port}") as prometheus:

            def ready() -> bool:
                try:
                    return httpx.get(f"{ops}/readyz", timeout=5).status_code == 200
                except httpx.TransportError:
                    return process.poll() is not None  # ended: the assertion below says so

            eventually(ready, 120, "hub run never became ready")
            assert process.poll() is None, log.read_text()
            layout = TopicLayout(settings.kafka.topic_prefix)
            await send_events(
                settings.kafka,
                layout.inbound("gp-de-linde"),
                [_example("referrals.submitted", "poh-ggz-referral.json")],
            )
            await send_events(
                settings.kafka,
                layout.inbound("swt-zwolle"),
                [_example("safety-reports.submitted", "acute-danger.json")],
            )

            moved = eventually(
                lambda: query(
                    prometheus,
                    f'hub_deliveries_total{{type="{REFERRAL}",recipient="swt-zwolle"}} > 0',
                ),
                60,
                "Prometheus never saw the referral's delivery",
            )
            assert moved[0]["metric"]["job"] == "hub"
            events_in = query(prometheus, "sum by (partner, type) (hub_events_in_total)")
            seen = {(r["metric"]["partner"], r["metric"]["type"]) for r in events_in}
            assert {("gp-de-linde", REFERRAL), ("swt-zwolle", SAFETY_REPORT)} <= seen

            firing = eventually(
                lambda: query(
                    prometheus,
                    'ALERTS{alertname="HubSafetyReportUndelivered",alertstate="firing"}',
                ),
                90,
                "HubSafetyReportUndelivered never fired",
            )
            assert firing[0]["metric"]["recipient"] == "veilig-thuis-ijsselland"
            assert query(prometheus, "hub_router_retrying == 0")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
