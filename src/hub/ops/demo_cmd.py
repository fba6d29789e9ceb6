"""`hub demo`: start a broker if needed, run the hub, send the example scenario, show what each partner receives.

Each run uses its own topic prefix, so the demo can be run again and again against the
same local broker without its events being suppressed as duplicates of the last run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from typing import Any

__all__ = ["SCENARIO", "configure", "run"]

# The order a real case would follow; each step sends the shared valid example of that type.
SCENARIO: tuple[str, ...] = (
    "referrals.submitted",
    "referrals.status-changed",
    "cases.opened",
    "safety-reports.submitted",
    "safety-reports.feedback",
    "safety-cases.handed-over",
    "provisions.requested",
    "provisions.decided",
    "assignments.issued",
    "cases.plan-updated",
    "care.started",
    "outcomes.reported",
    "care.stopped",
    "assignment-requests.submitted",
    "budgets.status-reported",
    "cases.closed",
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `hub demo`."""
    parser.add_argument(
        "--once",
        action="store_true",
        help="exit after the scenario has been delivered (default: keep the hub running)",
    )
    parser.add_argument(
        "--show-data", action="store_true", help="print delivered data, not only field names"
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    return asyncio.run(_demo(once=args.once, show_data=args.show_data))


def _paths(data: Any, prefix: str = "") -> list[str]:
    if isinstance(data, dict):
        out: list[str] = []
        for key, value in data.items():
            out.extend(_paths(value, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return sorted({p for item in data for p in _paths(item, f"{prefix}[]")})
    return [prefix]


async def _demo(*, once: bool, show_data: bool) -> int:
    from hub.app import build_hub, configure_process
    from hub.ops.localkafka import LocalKafka
    from hub.ops.partner_io import receive, send_events
    from hub.settings import HubSettings
    from hub.testing import valid_example

    settings = HubSettings()
    if not settings.kafka.bootstrap_servers:
        print(
            "No HUB_KAFKA__BOOTSTRAP_SERVERS set: starting a local Kafka broker (first run downloads it)..."
        )
        settings.kafka.bootstrap_servers = LocalKafka().ensure_running(timeout=180)
    if "HUB_KAFKA__TOPIC_PREFIX" not in os.environ:
        settings.kafka.topic_prefix = f"demo{time.strftime('%Y%m%d%H%M%S')}"
    settings.logging.format = "console"
    settings.logging.level = "WARNING"
    configure_process(settings)
    hub = build_hub(settings)
    print(f"Kafka: {settings.kafka.bootstrap_servers}   topics: {settings.kafka.topic_prefix}.*")

    stop = asyncio.Event()
    router_task = asyncio.create_task(hub.router.run(stop))
    await asyncio.wait_for(hub.router.ready.wait(), timeout=120)
    print("Hub running. Sending the demo scenario as the partners would:\n")

    by_id: dict[str, str] = {}
    for short in SCENARIO:
        event = valid_example(f"nl.sociaaldomein.{short}.v1")
        sender = hub.registry.by_source(event["source"])
        assert sender is not None, f"example for {short} has an unregistered source"
        by_id[event["id"]] = short
        await send_events(settings.kafka, hub.layout.inbound(sender.id), [event])
        print(f"  {sender.id:<27} sent     {short}")
    print("\nWhat each partner received (deny by default: only the fields it may see):\n")

    topics = [hub.layout.deliveries(p) for p in hub.registry] + [hub.layout.deadletter]
    recipient_of = {hub.layout.deliveries(p): p.id for p in hub.registry}
    seen_swt_referral = False
    async for record in receive(settings.kafka, topics, idle_seconds=8.0):
        if record.topic == hub.layout.deadletter:
            reason = record.json()["reason"]
            print(f"  DEAD-LETTER {reason['code']:<26} {[e['path'] for e in reason['errors']]}")
            continue
        event = record.event()
        short = event["type"].removeprefix("nl.sociaaldomein.").removesuffix(".v1")
        recipient = recipient_of[record.topic]
        seen_swt_referral |= recipient == "swt-zwolle" and short == "referrals.submitted"
        shown = event["data"] if show_data else ", ".join(_paths(event["data"]))
        print(f"  {recipient:<27} received {short:<30} {shown}")
    if seen_swt_referral:
        print("\nThe GP's referral reached the wijkteam (swt-zwolle).")
    if once:
        stop.set()
        await router_task
        return 0 if seen_swt_referral else 1
    print("\nThe hub keeps running; press Ctrl-C to stop.")
    with contextlib.suppress(asyncio.CancelledError):
        await router_task
    return 0
