"""What one reading of the lag monitor costs `hub run`'s event loop with many partners and backlogs.

Run: .venv/bin/python bench/lag_monitor_stall.py [--partners N] [--backlog N] [--kafka HOST:PORT]

Registers ``--partners`` webhook GPs beside the three singleton partners and gives each a
backlog: ``--backlog`` referrals on its inbound topic the router has not consumed, and as
many deliveries (written in transactions, as the router writes them) its deliverer has not
taken. Then, with a probe beside it on the same event loop (5 ms sleeps; how late it wakes
is how long the router would have waited), it times two readings of a ``LagMonitor`` as
`hub run` makes them every ``HUB_OPS__LAG_INTERVAL_SECONDS``. The topics are deleted
afterwards. docs/benchmarks.md, "The lag monitor and the webhook deliverer".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from bench.core_bench import quiet_logging  # noqa: E402
from bench.harness import (  # noqa: E402
    Referrals,
    client_options,
    delete_topics_of,
    probed,
)
from tests.integration.hubtest import isolated_settings  # noqa: E402

from hub.app import freeze_start_up  # noqa: E402
from hub.connectors.registry import PartnerRegistry  # noqa: E402
from hub.kafka.lag import LagReader  # noqa: E402
from hub.monitor import LagMonitor  # noqa: E402
from hub.observability import metrics  # noqa: E402
from hub.settings import KafkaSettings  # noqa: E402
from hub.testing import many_webhook_partners  # noqa: E402
from hub.topics import TopicLayout  # noqa: E402


async def create_topics(kafka: KafkaSettings, names: list[str]) -> None:
    """Create the topics the monitor reads, a hundred per request."""
    admin = AIOKafkaAdminClient(**client_options(kafka), request_timeout_ms=60_000)
    await admin.start()
    try:
        for start in range(0, len(names), 100):
            await admin.create_topics(
                [NewTopic(n, kafka.partitions, 1) for n in names[start : start + 100]]
            )
    finally:
        await admin.close()
    await asyncio.sleep(2)  # leaders elected for every partition


async def write_backlogs(
    kafka: KafkaSettings, layout: TopicLayout, registry: PartnerRegistry, backlog: int
) -> None:
    """``backlog`` referrals on each GP's inbound topic and as many on its deliveries topic."""
    producer = AIOKafkaProducer(
        **client_options(kafka),
        transactional_id=f"bench-lag-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
        linger_ms=5,
    )
    await producer.start()
    referrals = Referrals()
    try:
        for partner in registry.with_role("gp"):
            async with producer.transaction():
                for key, headers, value in referrals.take(backlog):
                    await producer.send(layout.inbound(partner.id), value, key=key, headers=headers)
                    await producer.send(layout.deliveries(partner), value, key=key, headers=headers)
    finally:
        await producer.stop()


async def main(bootstrap: str, count: int, backlog: int) -> None:
    settings = isolated_settings(bootstrap, partitions=3)
    kafka = settings.kafka
    layout = TopicLayout(kafka.topic_prefix)
    registry = many_webhook_partners(count)
    names = [layout.inbound(p.id) for p in registry]
    names += [layout.deliveries(p) for p in registry.with_role("gp")]
    names += [layout.parked(p.id) for p in registry.with_role("gp")]
    names.append(layout.disclosures)
    try:
        await create_topics(kafka, names)
        await write_backlogs(kafka, layout, registry, backlog)
        monitor = LagMonitor(kafka=kafka, layout=layout, registry=registry, interval_seconds=30)
        reader = LagReader(kafka)
        await reader.start()
        freeze_start_up()  # as `hub run` does once it is built
        try:
            for which in ("first", "second"):
                seen, _ = await probed(lambda: monitor.check(reader))
                f = seen.figures()
                print(
                    f"{count} webhook partners, {backlog} behind each; {which} reading: "
                    f"{f['seconds']:.2f} s, loop held up to {f['max_ms']:.0f} ms, "
                    f"p99 {f['p99_ms']:.0f} ms, {f['over_50ms']:.0f} delays over 50 ms"
                )
        finally:
            await reader.close()
        router = sum(
            metrics.ROUTER_LAG.labels(p.id, str(n))._value.get()
            for p in registry.with_role("gp")
            for n in range(kafka.partitions)
        )
        # Written here in transactions (partners do not): a marker a partition each counts too.
        markers = count * kafka.partitions
        print(f"router lag read: {router:.0f} ({count * backlog} referrals and {markers} markers)")
    finally:
        await delete_topics_of(kafka, kafka.topic_prefix + ".")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=100)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument(
        "--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    arguments = parser.parse_args()
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    quiet_logging()
    asyncio.run(main(arguments.kafka, arguments.partners, arguments.backlog))
