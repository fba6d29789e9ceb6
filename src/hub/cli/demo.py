"""`hub demo`: start a broker if needed, run the hub, play the example scenario, show what each partner receives.

Each run uses its own topic prefix, so the demo can be run again and again against the
same local broker without its events being suppressed as duplicates of the last run.
The scenario is the chained story in examples/scenario.yaml; each event is sent by its
partner only after the hub has decided the previous one, as real partners answer only
what they have received.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from typing import Any

__all__ = ["configure", "run"]

_PREFIX = "nl.sociaaldomein."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `hub demo`."""
    parser.add_argument(
        "--once",
        action="store_true",
        help="exit after the scenario has been played (default: keep the hub running)",
    )
    parser.add_argument(
        "--show-data", action="store_true", help="print delivered data, not only field names"
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    return asyncio.run(_demo(once=args.once, show_data=args.show_data))


def _short(event_type: str) -> str:
    return event_type.removeprefix(_PREFIX).removesuffix(".v1")


def _fields(data: Any) -> str:
    """The delivered fields, one level deep: ``referral_id, client{bsn,...}, goals[2]{goal_id,...}``."""
    parts = []
    for key, value in data.items():
        if isinstance(value, dict):
            parts.append(f"{key}{{{','.join(value)}}}")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            inner = sorted({k for item in value for k in item})
            parts.append(f"{key}[{len(value)}]{{{','.join(inner)}}}")
        else:
            parts.append(key)
    return " ".join(parts)


async def _demo(*, once: bool, show_data: bool) -> int:
    from hub.app import build_hub, configure_process
    from hub.dev.localkafka import LocalKafka
    from hub.dev.partner_io import receive, send_events
    from hub.errors import ConfigurationError
    from hub.kafka import quiet_client_logs
    from hub.settings import read_settings
    from hub.testing import scenario

    try:
        settings = read_settings()
    except ConfigurationError as exc:
        print(f"hub demo: {exc}", file=sys.stderr)
        return 2
    if not settings.kafka.bootstrap_servers:
        print("No HUB_KAFKA__BOOTSTRAP_SERVERS set: starting a local Kafka broker", flush=True)
        print("(the first run downloads Kafka 3.9.1 with Maven; that takes a minute)", flush=True)
        settings.kafka.bootstrap_servers = LocalKafka().ensure_running(timeout=300)
    if "HUB_KAFKA__TOPIC_PREFIX" not in os.environ:
        settings.kafka.topic_prefix = f"demo{time.strftime('%Y%m%d%H%M%S')}"
    if "HUB_AUDIT__STORE_URL" not in os.environ:
        settings.audit.store_url = f"sqlite:///.hub-run/{settings.kafka.topic_prefix}-audit.sqlite3"
    settings.logging.format = "console"
    settings.logging.level = "WARNING"
    configure_process(settings)
    hub = build_hub(settings)
    layout, registry = hub.layout, hub.registry
    # Leadership settling on new topics makes the client log transient errors it retries itself.
    quiet_client_logs()
    print(f"Kafka {settings.kafka.bootstrap_servers}, topics {settings.kafka.topic_prefix}.*")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C and `kill` stop the hub cleanly
        loop.add_signal_handler(signum, stop.set)
    services = [asyncio.create_task(service(stop)) for service in hub.services()]
    await asyncio.wait_for(hub.router.ready.wait(), timeout=120)
    print("Hub running. Partners send the example scenario; each line below is what a")
    print("partner received (deny by default: only the fields it may see).\n")

    recipient_of = {layout.deliveries(p): p.id for p in registry}
    decided: set[bytes] = set()
    arrivals: dict[tuple[str, str], int] = {}

    async def show_deliveries() -> None:
        async for record in receive(settings.kafka, [*recipient_of, layout.deadletter]):
            if record.topic == layout.deadletter:
                reason = record.json()["reason"]
                print(f"      x dead-lettered: {reason['code']} at {reason['errors'][0]['path']}")
                continue
            event = record.event()
            recipient = recipient_of[record.topic]
            key = (recipient, _short(event["type"]))
            arrivals[key] = arrivals.get(key, 0) + 1
            shown = event["data"] if show_data else _fields(event["data"])
            print(f"      -> {recipient:<26} {shown}", flush=True)

    async def follow_status() -> None:
        async for record in receive(settings.kafka, [layout.status, layout.disclosures]):
            value = record.json() or {}
            if record.topic == layout.disclosures:
                if value.get("outcome") == "withheld":
                    print(f"      -- {value['recipient']:<26} withheld: {value['reason']}")
                continue
            if record.key is not None:
                decided.add(record.key)

    watchers = [asyncio.create_task(show_deliveries()), asyncio.create_task(follow_status())]
    try:
        for event in scenario():
            if stop.is_set():
                print("Stopping.")
                return 0
            sender = registry.by_source(event["source"])
            assert sender is not None, "every example is sent by a registered partner"
            print(f"  {sender.id} sends {_short(event['type'])}", flush=True)
            await send_events(settings.kafka, layout.inbound(sender.id), [event])
            key = f"{event['source']} {event['id']}".encode()
            async with asyncio.timeout(60):
                while key not in decided and not stop.is_set():  # noqa: ASYNC110 -- two conditions
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # let the delivery lines print before the next event
        await asyncio.sleep(1.0)
        reached = arrivals.get(("swt-zwolle", "referrals.submitted"), 0) > 0
        print(
            "\nThe GP's referral reached the wijkteam (swt-zwolle)."
            if reached
            else "\nThe GP's referral did NOT reach the wijkteam: see the log above."
        )
        if once:
            return 0 if reached else 1
        print("The hub keeps running (hub run does the same without the scenario). Ctrl-C stops.")
        await stop.wait()
        print("Stopping.")
        return 0
    finally:
        stop.set()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        await asyncio.gather(*services, return_exceptions=True)
