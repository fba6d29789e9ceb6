"""The operations page of a real `hub run`, in Debian's headless Chromium driven by Playwright.

Chromium comes from Debian's package (``scripts/debian-install``, via ``tests.debian``);
Playwright never downloads a browser of its own here. The machine's network may be
closed, so Chromium runs without its background connections.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from playwright.async_api import Page, async_playwright, expect

from hub.dev.partner_io import send_events
from hub.kpi import month_of
from hub.observability.page import DEAD_LETTERS_SHOWN
from hub.schemas import TYPES
from hub.settings import HubSettings
from hub.testing import personal_values, valid_example
from hub.topics import TopicLayout

from ..debian import require
from .hubtest import eventually, hub_cli, hub_process, isolated_settings
from .test_ops_metrics import (
    SECRET,
    SECRET_ENV,
    _free_port,
    _registry_with_unreachable_veilig_thuis,
)

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
REQUESTED = "nl.sociaaldomein.provisions.requested.v1"
DECIDED = "nl.sociaaldomein.provisions.decided.v1"
SAFETY_REPORT = "nl.sociaaldomein.safety-reports.submitted.v1"
STATUS = "nl.sociaaldomein.referrals.status-changed.v1"
BUDGET = "nl.sociaaldomein.budgets.status-reported.v1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 90_000


def event_of(type_: str, **data: Any) -> dict[str, Any]:
    """The shared valid example of a type, with a fresh id and the given data fields replaced."""
    event = copy.deepcopy(valid_example(type_))
    event["id"] = str(uuid.uuid4())
    event["data"].update(data)
    event["subject"] = str(event["data"][TYPES[type_].subject_field])
    return event


async def _dlq_replay(settings: HubSettings, ident: str) -> dict[str, Any]:
    """`hub dlq replay ID --wait 60 --json`, run as an operator runs it."""
    code, out, err = await hub_cli(
        settings, "dlq", "replay", ident, "--operator", "ops-page-test", "--wait", "60", "--json"
    )
    assert code == 0, err
    answer: dict[str, Any] = json.loads(out)
    return answer


async def _text(page: Page) -> str:
    return str(await page.evaluate("document.body.innerText"))


async def test_the_ops_page_shows_flows_dead_letters_and_their_replay_in_chromium(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The page loads with the registry's partners, a live count moves as events flow, an unroutable event's dead letter appears with its code and is gone after `hub dlq replay`, this month's waiting time and budget appear in the KPI panel; of many dead letters the newest DEAD_LETTERS_SHOWN are listed as "showing N of M" beside their counts per partner, whose button lists that partner's alone; no personal value is on the page."""
    chromium = require("chromium", "chromium")["chromium"]
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)
    ops_port = _free_port()
    log = tmp_path / "hub.log"
    registry = _registry_with_unreachable_veilig_thuis(tmp_path / "partners.yaml")
    process = hub_process(
        settings,
        log,
        extra_env={
            "HUB_PARTNERS_FILE": str(registry),
            SECRET_ENV: SECRET,
            "HUB_OPS__PORT": str(ops_port),
            "HUB_OPS__LAG_INTERVAL_SECONDS": "1",
            "HUB_OPS__DEADLETTERS_INTERVAL_SECONDS": "1",
            "HUB_OPS__SAFETY_REPORT_DEADLINE_SECONDS": "5",
            "HUB_WEBHOOKS__BREAKER_FAILURE_THRESHOLD": "2",
        },
    )
    ops = f"http://127.0.0.1:{ops_port}"
    layout = TopicLayout(settings.kafka.topic_prefix)
    sent: list[dict[str, Any]] = []
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{ops}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return process.poll() is not None  # ended: the assertion below says so

        eventually(ready, 120, "hub run never became ready")
        assert process.poll() is None, log.read_text()

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),  # a fresh profile for each run
                executable_path=chromium,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1400, "height": 1000},
            )
            try:
                page = browser.pages[0] if browser.pages else await browser.new_page()
                await page.goto(ops)
                await expect(page).to_have_title("Hub operations")
                await expect(page.get_by_text("Huisartsenpraktijk De Linde")).to_be_visible()
                await expect(page.locator("[data-testid=in-gp-de-linde]")).to_have_text("0")

                # A live count moves while events flow.
                referrals = [event_of(REFERRAL, referral_id=f"REF-page-{n}") for n in range(3)]
                sent += referrals
                await send_events(settings.kafka, layout.inbound("gp-de-linde"), referrals)
                await expect(page.locator("[data-testid=in-gp-de-linde]")).to_have_text(
                    "3", timeout=WAIT_MS
                )
                await expect(page.locator("[data-testid=out-swt-zwolle]")).not_to_have_text(
                    "0", timeout=WAIT_MS
                )

                # A decision before its request is dead-lettered: it appears with its code.
                request = event_of(REQUESTED, request_id="REQ-page-1")
                decision = event_of(DECIDED, request_id="REQ-page-1")
                sent += [request, decision]
                await send_events(settings.kafka, layout.inbound("backoffice-zwolle"), [decision])
                row = page.locator("tr[data-deadletter]", has_text="UNKNOWN_REFERENCE")
                await expect(row).to_have_count(1, timeout=WAIT_MS)
                ident = await row.get_attribute("data-deadletter")
                assert ident is not None
                assert ident.startswith("dl-")
                await expect(row).to_contain_text("backoffice-zwolle")
                await page.screenshot(
                    path=str(tmp_path / "ops-page-dead-letter.png"), full_page=True
                )

                # A safety report Veilig Thuis cannot take: the breaker opens, the alert fires.
                report = event_of(SAFETY_REPORT)
                sent.append(report)
                await send_events(settings.kafka, layout.inbound("swt-zwolle"), [report])
                await expect(page.locator("[data-testid=safety-alert]")).to_have_attribute(
                    "data-state", "firing", timeout=WAIT_MS
                )
                await expect(
                    page.locator("[data-testid=breaker-veilig-thuis-ijsselland]")
                ).to_have_text("open", timeout=WAIT_MS)

                # The request arrives; the operator replays the dead letter; it is gone.
                await send_events(settings.kafka, layout.inbound("swt-zwolle"), [request])
                await expect(page.locator("[data-testid=in-swt-zwolle]")).to_have_text(
                    "2", timeout=WAIT_MS
                )
                done = await _dlq_replay(settings, ident)
                assert done["replays"][0]["result"] == {
                    "outcome": "routed",
                    "recipients": ["swt-zwolle"],
                }
                await expect(page.locator(f'tr[data-deadletter="{ident}"]')).to_have_count(
                    0, timeout=WAIT_MS
                )
                await expect(page.locator("[data-testid=dead-letter-count]")).to_contain_text(
                    "(showing 0 of 0,", timeout=WAIT_MS
                )
                await expect(page.locator("[data-testid=dead-letter-scope]")).to_contain_text(
                    "1 dead letter(s) within the topic's retention, replayed ones included"
                )

                # A referral whose intake is scheduled this month: the KPI panel counts it.
                now = datetime.now(UTC)
                waiting = event_of(REFERRAL, referral_id="REF-page-kpi")
                waiting["time"] = (now - timedelta(hours=30)).isoformat()
                scheduled = event_of(STATUS, referral_id="REF-page-kpi", status="intake-scheduled")
                scheduled["time"] = now.isoformat()
                budget = event_of(BUDGET, period=month_of(now))
                sent += [waiting, scheduled, budget]
                await send_events(settings.kafka, layout.inbound("gp-de-linde"), [waiting])
                await send_events(settings.kafka, layout.inbound("swt-zwolle"), [scheduled])
                await send_events(settings.kafka, layout.inbound("backoffice-zwolle"), [budget])
                kpi = page.locator('tr[data-kpi="Wijkteam Zwolle-Zuid|waiting"]')
                await expect(kpi).to_have_count(1, timeout=WAIT_MS)
                await expect(kpi).to_contain_text("30.0 h")  # the mean
                await expect(page.locator("[data-testid=kpi-month]")).to_have_text(month_of(now))
                await expect(
                    page.locator('tr[data-budget="Wijkteam Zwolle-Zuid"]')
                ).to_contain_text("€ 117.302,50", timeout=WAIT_MS)

                # More dead letters than the page lists: the newest, and the counts of all.
                unknown = [
                    event_of(DECIDED, request_id=f"REQ-page-bulk-{n}")
                    for n in range(DEAD_LETTERS_SHOWN + 3)
                ]
                invalid = [event_of(REFERRAL, referral_id=f"REF-page-bad-{n}") for n in range(2)]
                for event in invalid:
                    event["data"]["client"]["bsn"] = "999900019"  # fails the 11-proof
                sent += unknown + invalid
                await send_events(settings.kafka, layout.inbound("backoffice-zwolle"), unknown)
                await send_events(settings.kafka, layout.inbound("gp-de-linde"), invalid)
                shown_count = page.locator("[data-testid=dead-letter-count]")
                await expect(shown_count).to_contain_text(
                    f"(showing {DEAD_LETTERS_SHOWN} of {DEAD_LETTERS_SHOWN + 5},", timeout=WAIT_MS
                )
                await expect(page.locator("tr[data-deadletter]")).to_have_count(DEAD_LETTERS_SHOWN)
                await expect(
                    page.locator("[data-testid=dl-partner-count-backoffice-zwolle]")
                ).to_have_text(str(DEAD_LETTERS_SHOWN + 3))
                await expect(
                    page.locator('tr[data-dl-partner="backoffice-zwolle"]')
                ).to_contain_text(f"UNKNOWN_REFERENCE {DEAD_LETTERS_SHOWN + 3}")
                await expect(
                    page.locator("[data-testid=dl-partner-count-gp-de-linde]")
                ).to_have_text("2")
                await page.locator("[data-testid=dl-list-gp-de-linde]").click()
                await expect(shown_count).to_contain_text(
                    "(showing 2 of 2 from gp-de-linde,", timeout=WAIT_MS
                )
                await expect(page.locator("tr[data-deadletter]")).to_have_count(2)
                await page.locator("[data-testid=dl-list-all]").click()
                await expect(shown_count).to_contain_text(
                    f"(showing {DEAD_LETTERS_SHOWN} of {DEAD_LETTERS_SHOWN + 5},", timeout=WAIT_MS
                )

                await page.screenshot(path=str(tmp_path / "ops-page.png"), full_page=True)
                kept = Path(tempfile.gettempdir()) / f"hub-ops-page-{uuid.uuid4().hex[:8]}"
                kept.mkdir()
                for name in ("ops-page-dead-letter.png", "ops-page.png"):
                    shutil.copyfile(tmp_path / name, kept / name)
                print(
                    f"\nops page screenshots: {kept}/ops-page-dead-letter.png, {kept}/ops-page.png"
                )

                shown = await _text(page) + await page.content()
                async with httpx.AsyncClient(base_url=ops, timeout=10) as client:
                    overview = (await client.get("/api/overview")).text
                    asyncapi = (await client.get("/asyncapi.json")).json()
            finally:
                await browser.close()

        # The organisations' names are the registry's and public; an event that names one
        # (a referrer, a city in an address) is not shown by the page for that reason.
        names = [str(p.get("name")) for p in yaml.safe_load(registry.read_text())["partners"]]
        # So is a team's: the KPI panel shows it by design (a safety report's reporter
        # organisation is the same team here).
        names.append("Wijkteam Zwolle-Zuid")
        personal = {
            value
            for event in sent
            for value in personal_values(event)
            if not any(value in name for name in names)
        }
        assert len(personal) > 5
        assert [v for v in personal if v in shown] == []
        assert [v for v in personal if v in overview] == []
        assert asyncapi["asyncapi"] == "3.0.0"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
