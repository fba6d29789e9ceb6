"""`hub run`'s CPU per event at a steady offered load: the KPI aggregator in a child process, off, or as before.

Run: .venv/bin/python bench/kpi_process.py [--rate 1000] [--seconds 20] [--runs 2]
     [--before SRC] [--kafka HOST:PORT]

Starts `hub run` on fresh topics, offers ``--rate`` referrals a second for ``--seconds``
(after a 5 s warm-up) as the GP sends them, waits until the wijkteam has read every one,
and reports per event the CPU time of `hub run`'s own process (the router's, which every
service in it shares) and of its children (the audit feed's, the KPI aggregator's), with
the latency percentiles from the partner's send to the wijkteam's read. Variants, run in
turn ``--runs`` times each: ``child`` (the KPI aggregator in a process of its own, as now),
``off`` (``HUB_OPS__KPI=false``), and ``before`` when ``--before`` names the ``src``
directory of a checkout from before the change (the aggregator in the router's process).
CPU time is what to compare: on a shared machine the latencies move with everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from bench.core_bench import (  # noqa: E402
    Fresh,
    _paced,
    _percentiles,
    _wait_arrived,
    arrivals,
    fresh,
    quiet_logging,
)
from bench.harness import HubProcess, Referrals  # noqa: E402


def _hub(run: Fresh, variant: str, before: Path | None) -> HubProcess:
    env = {"HUB_LOGGING__LEVEL": "WARNING", "HUB_ENVIRONMENT": "development"}
    if variant == "off":
        env["HUB_OPS__KPI"] = "false"
    if variant == "before":
        assert before is not None
        env["PYTHONPATH"] = str(before)  # ahead of the editable install's path
    return HubProcess(run.settings, run.work_dir / "hub.log", extra_env=env)


async def one(
    bootstrap: str, variant: str, rate: float, seconds: float, before: Path | None
) -> dict[str, Any]:
    """One run of a variant: CPU per event of `hub run` and its children, and the latencies."""
    async with fresh(bootstrap, keep_topics=False) as run:
        arrived: dict[bytes | None, float] = {}

        async def watch() -> None:
            async for keys in arrivals(run.kafka, run.deliveries):
                now = time.perf_counter()
                for key in keys:
                    arrived.setdefault(key, now)

        hub = _hub(run, variant, before)
        hub.start()
        watcher = asyncio.create_task(watch())
        try:
            referrals = Referrals()
            probe: dict[bytes | None, float] = {}
            await _paced(run.kafka, run.inbound, referrals, 50, 1, probe)
            await _wait_arrived(arrived, probe, hub, watcher, within=180)
            await _paced(run.kafka, run.inbound, referrals, rate, 5, None)
            await asyncio.sleep(2)
            own_before, children_before = hub.cpu_seconds()
            sent: dict[bytes | None, float] = {}
            offered = await _paced(run.kafka, run.inbound, referrals, rate, seconds, sent)
            await _wait_arrived(arrived, sent, hub, watcher, within=600)
            await asyncio.sleep(3)  # what is still behind (the KPI aggregator) catches up
            own_after, children_after = hub.cpu_seconds()
            figures = _percentiles([(arrived[k] - t) * 1000 for k, t in sent.items()])
            return {
                "variant": variant,
                "offered_eps": round(offered),
                "events": len(sent),
                "hub_run_cpu_us_per_event": round((own_after - own_before) / len(sent) * 1e6),
                "children_cpu_us_per_event": round(
                    (children_after - children_before) / len(sent) * 1e6
                ),
                **{k: round(v) for k, v in figures.items()},
            }
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await hub.stop()


async def main_async(args: argparse.Namespace) -> None:
    variants = ["child", "off"] + (["before"] if args.before else [])
    for _ in range(args.runs):
        for variant in variants:
            result = await one(args.kafka, variant, args.rate, args.seconds, args.before)
            print(json.dumps(result), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--before", type=Path, help="src/ of a checkout from before the change")
    parser.add_argument("--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS"))
    args = parser.parse_args()
    if not args.kafka:
        parser.error("set HUB_KAFKA__BOOTSTRAP_SERVERS or pass --kafka")
    quiet_logging()
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
