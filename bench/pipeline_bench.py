"""Cost of the pipeline per event, and throughput through the hub on a real broker.

Run: .venv/bin/python bench/pipeline_bench.py [--events N] [--kafka BOOTSTRAP]

Two measurements, each against a baseline taken in the same run, because absolute
times on a shared 2-core machine are noise and ratios are not:

1. In memory: ``Pipeline.handle`` (decode, validate, dedupe, route, project, disclosure
   record, state) per referral, against decoding the same binary-mode record alone.
2. On Kafka: referrals through the running router (inbound topic -> transaction ->
   the wijkteam's topic), against a plain produce-then-consume of the same records on
   one topic with the same client settings (acks=all, idempotent, read_committed).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from hub.app import build_hub
from hub.dev.partner_io import receive, send_events
from hub.envelope import from_kafka
from hub.observability.logging import configure_logging
from hub.settings import HubSettings, KafkaSettings
from hub.state import StateStore
from hub.testing import InMemoryPipeline, valid_example

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"


def referrals(count: int) -> list[dict[str, Any]]:
    """Distinct valid referrals (fresh ids), as a GP practice would send them."""
    base = valid_example(REFERRAL)
    events = []
    for n in range(count):
        event = copy.deepcopy(base)
        event["id"] = str(uuid.uuid4())
        event["data"]["referral_id"] = event["subject"] = f"REF-bench-{n:06d}"
        events.append(event)
    return events


def _median_per_event(run: Callable[[], None], count: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) / count * 1e6


def in_memory(count: int, repeats: int) -> dict[str, float]:
    """Microseconds per event: pipeline vs decode only and vs stdlib ``json.loads`` of the value."""
    runner = InMemoryPipeline()
    records = [runner.record(event) for event in referrals(count)]

    def decode_only() -> None:
        for r in records:
            from_kafka(r.key, r.headers, r.value)

    def loads_only() -> None:  # a baseline that does not move with the hub's code
        for r in records:
            json.loads(r.value or b"null")

    def handle_all() -> None:
        runner.state, runner.held = StateStore(), StateStore()  # every run sees new referrals
        runner.feed_records(records)

    loads = _median_per_event(loads_only, count, repeats)
    baseline = _median_per_event(decode_only, count, repeats)
    hub = _median_per_event(handle_all, count, repeats)
    return {
        "loads_us": loads,
        "decode_us": baseline,
        "pipeline_us": hub,
        "ratio": hub / baseline,
        "ratio_loads": hub / loads,
    }


async def on_kafka(bootstrap: str, count: int) -> dict[str, float]:
    """Events per second: through the hub vs a plain produce-then-consume round trip."""
    run = uuid.uuid4().hex[:8]
    settings = HubSettings(
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap, topic_prefix=f"bench{run}", group_id=f"bench-{run}"
        )
    )
    hub = build_hub(settings)
    events = referrals(count)
    swt = hub.layout.deliveries(hub.registry.only("swt"))
    stop = asyncio.Event()
    router = asyncio.create_task(hub.router.run(stop))
    await asyncio.wait_for(hub.router.ready.wait(), 120)

    async def round_trip(send_topic: str, read_topic: str) -> float:
        started = time.perf_counter()
        await send_events(settings.kafka, send_topic, events)
        seen = 0
        async for _ in receive(settings.kafka, [read_topic]):
            seen += 1
            if seen >= count:
                break
        return count / (time.perf_counter() - started)

    # Baseline: the same records, produced to and consumed from one plain topic.
    plain = hub.layout.deadletter  # an existing topic with the same settings, unused here
    baseline = await round_trip(plain, plain)
    through_hub = await round_trip(hub.layout.inbound("gp-de-linde"), swt)
    stop.set()
    await router
    return {"plain_eps": baseline, "hub_eps": through_hub, "ratio": through_hub / baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--kafka", help="bootstrap servers; default: the local broker")
    args = parser.parse_args()
    # Log lines are not what is measured (one `event_routed` per event at INFO in production).
    configure_logging(format="json", level="WARNING")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    memory = in_memory(args.events, args.repeats)
    print(
        f"pipeline in memory: {memory['pipeline_us']:.0f} us/event; decode-only baseline "
        f"{memory['decode_us']:.1f} us/event; ratio {memory['ratio']:.1f}x; json.loads baseline "
        f"{memory['loads_us']:.1f} us/event; ratio {memory['ratio_loads']:.1f}x"
    )
    bootstrap = args.kafka
    if bootstrap is None:
        from hub.dev.localkafka import LocalKafka

        bootstrap = LocalKafka().ensure_running(timeout=300)
    kafka = asyncio.run(on_kafka(bootstrap, args.events))
    print(
        f"through the hub on Kafka: {kafka['hub_eps']:.0f} events/s; plain produce+consume "
        f"baseline {kafka['plain_eps']:.0f} events/s; ratio {kafka['ratio']:.2f}"
    )
    print(
        f"summary: pipeline {memory['ratio']:.1f}x decode in memory; "
        f"{kafka['ratio']:.2f}x plain Kafka throughput"
    )


if __name__ == "__main__":
    main()
