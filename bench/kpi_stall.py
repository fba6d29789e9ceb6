"""How long the KPI aggregator holds the event loop it shares with the router, catching up on a backlog.

Run: .venv/bin/python bench/kpi_stall.py [--events N] [--unbounded] [--kafka HOST:PORT]

Pre-loads ``--events`` referrals on the GP's inbound topic (six partitions), starts a
``KpiAggregator`` as `hub run` does and, beside it on the same event loop, a probe that
sleeps 5 ms at a time and records how late it wakes: the longest such delay is how long
the router would have waited. Prints the longest and the 99th percentile delay and how
many exceeded 50 ms, until every referral is an open pair. ``--unbounded`` takes every
record the readers hold in one round, as the aggregator did before its rounds were
bounded (docs/benchmarks.md, "Seventh pass").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from bench.harness import Referrals, hub_with_topics, probed, send_encoded  # noqa: E402

import hub.kpi.aggregator  # noqa: E402
from hub.app import kafka_adapters  # noqa: E402
from hub.kpi.aggregator import KpiAggregator  # noqa: E402


async def measure(bootstrap: str, count: int) -> dict[str, float]:
    """Loop delays (ms) while an aggregator catches up on ``count`` referrals."""
    settings, hub_ = await hub_with_topics(bootstrap)
    await send_encoded(settings.kafka, hub_.layout.inbound("gp-de-linde"), Referrals().take(count))
    aggregator = KpiAggregator(
        kafka=settings.kafka,
        layout=hub_.layout,
        registry=hub_.registry,
        retention_days=730,
        interval_seconds=1,
        adapters=kafka_adapters(),
        state_directory=Path(tempfile.mkdtemp()),
    )
    stop = asyncio.Event()

    async def counted() -> None:
        try:
            started = time.perf_counter()
            while time.perf_counter() - started < 300:
                await asyncio.sleep(0.5)
                if aggregator.snapshot()["open"].get("waiting", 0) >= count:
                    return
        finally:
            stop.set()

    async def caught_up() -> None:
        await asyncio.gather(aggregator.run(stop), counted())

    seen, _ = await probed(caught_up)
    return seen.figures()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--unbounded", action="store_true", help="one round takes everything")
    parser.add_argument(
        "--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    args = parser.parse_args()
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    if args.unbounded:
        hub.kpi.aggregator._ROUND_RECORDS = None  # type: ignore[assignment]
    result = asyncio.run(measure(args.kafka, args.events))
    print(
        f"{'unbounded' if args.unbounded else 'bounded'}: caught up in {result['seconds']:.1f} s; "
        f"loop held up to {result['max_ms']:.0f} ms (p99 {result['p99_ms']:.0f} ms, "
        f"{result['over_50ms']:.0f} times over 50 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
