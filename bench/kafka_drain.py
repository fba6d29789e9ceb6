"""Drain rate of the router on Kafka against a raw transactional passthrough, same run.

Run: .venv/bin/python bench/kafka_drain.py [--events 20000] [--kafka BOOTSTRAP] [--profile FILE]

Both sides read the same pre-loaded referrals (valid ones, fresh ids) from a topic with
the hub's partition count, on the same broker:

- hub: the router (in this process, nothing else of the hub running) drains the GP
  practice's inbound topic; the rate is taken on the wijkteam's deliveries topic.
- passthrough: plain aiokafka, consume read_committed, produce the same bytes to another
  topic, ``send_offsets_to_transaction`` and commit per fetched batch.

Each rate runs from the first output record a ``read_committed`` reader sees to the
last, so start-up and state loading are not counted. The passthrough runs right before
and right after the router; the ratio (hub / mean passthrough) is the figure, absolute
rates on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from core_bench import passthrough  # the same passthrough as the core benchmark
from pipeline_bench import referrals

from hub.app import build_hub
from hub.dev.partner_io import binary_mode
from hub.kafka.clients import client_options
from hub.observability.logging import configure_logging
from hub.router import ensure_topics
from hub.settings import HubSettings, KafkaSettings

GP = "gp-de-linde"


async def preload(kafka: KafkaSettings, topics: list[str], events: list[dict[str, Any]]) -> None:
    """Produce every event to every topic, batched (the sender is not what is measured)."""
    producer = AIOKafkaProducer(
        **client_options(kafka), acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        for topic in topics:
            futures = []
            for event in events:
                key, headers, value = binary_mode(event)
                futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def time_output(kafka: KafkaSettings, topic: str, count: int, ready: asyncio.Event) -> float:
    """Records per second on ``topic`` from the first committed record seen to the ``count``-th."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(kafka),
        group_id=None,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    ready.set()
    try:
        seen, first, at_first = 0, 0.0, 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500)
            got = sum(len(records) for records in batch.values())
            if got and not seen:
                # The clock starts when the first transaction's records arrive: those
                # records are not counted in the rate, every later one is.
                first, at_first = time.perf_counter(), got
            seen += got
        return (seen - at_first) / (time.perf_counter() - first)
    finally:
        await consumer.stop()


async def drain(
    bootstrap: str, count: int, profile: str | None, options: dict[str, str]
) -> dict[str, float]:
    """Pre-load, then time the passthrough and the router on the same records."""
    run = uuid.uuid4().hex[:8]
    settings = HubSettings(
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap,
            topic_prefix=f"drain{run}",
            group_id=f"drain-{run}",
            instance_id="drain",
            **options,  # type: ignore[arg-type]  # validated by pydantic
        )
    )
    hub = build_hub(settings)
    kafka = settings.kafka
    await ensure_topics(kafka, hub.layout, hub.registry)
    inbound = hub.layout.inbound(GP)
    # Topics of the hub's own layout that the router neither reads nor writes here (no
    # such partner exists), so they have the same partitions and settings. The
    # passthrough runs before and after the router, on its own copy each time: the
    # machine's load drifts, and the mean of the two brackets the router's run.
    pairs = [
        (hub.layout.inbound(f"copy{n}-in"), hub.layout.inbound(f"copy{n}-out")) for n in (1, 2)
    ]
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topic, kafka.partitions, kafka.replication_factor)
                for pair in pairs
                for topic in pair
            ]
        )
    finally:
        await admin.close()
    events = referrals(count)
    await preload(kafka, [pairs[0][0], pairs[1][0], inbound], events)

    async def raw(source: str, target: str) -> float:
        ready = asyncio.Event()
        timer = asyncio.create_task(time_output(kafka, target, count, ready))
        await ready.wait()
        await passthrough(kafka, source, target, count, kafka.topic_prefix)
        return await timer

    raw_before = await raw(*pairs[0])
    swt = hub.layout.deliveries(hub.registry.only("swt"))
    ready = asyncio.Event()
    timer = asyncio.create_task(time_output(kafka, swt, count, ready))
    await ready.wait()
    stop = asyncio.Event()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    router = asyncio.create_task(hub.router.run(stop))
    try:
        rate = await timer
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)  # type: ignore[arg-type]
        stop.set()
        with contextlib.suppress(Exception):
            await router
    raw_after = await raw(*pairs[1])
    baseline = (raw_before + raw_after) / 2
    return {
        "passthrough_before_eps": raw_before,
        "passthrough_after_eps": raw_after,
        "hub_eps": rate,
        "ratio": rate / baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--kafka", default="127.0.0.1:19092", help="bootstrap servers")
    parser.add_argument("--profile", help="write a cProfile of the router's drain here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a KafkaSettings field for the router, e.g. linger_ms=20 (repeatable)",
    )
    args = parser.parse_args()
    # Log lines are not what is measured.
    configure_logging(format="json", level="WARNING")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    options = dict(item.split("=", 1) for item in args.set)
    result = asyncio.run(drain(args.kafka, args.events, args.profile, options))
    print(
        f"router drain: {result['hub_eps']:.0f} events/s; raw transactional passthrough "
        f"{result['passthrough_before_eps']:.0f} events/s before, "
        f"{result['passthrough_after_eps']:.0f} after; ratio to their mean {result['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
