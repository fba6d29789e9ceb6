"""How long `hub run`'s router, reading its changelogs at start, holds the event loop the other services share.

Run: .venv/bin/python bench/state_load_stall.py [--referrals N] [--unbounded] [--kafka HOST:PORT]

Routes ``--referrals`` referrals in memory and writes the routing state and held plans
they leave (two keys a referral) to fresh changelog topics (six partitions). Then reads
them as the router does at start (``_Changelogs.open``: into the SQLite store) and, beside
it on the same event loop, runs a probe that sleeps 5 ms at a time and records how late
it wakes: the longest such delay is how long the webhook deliverer, the ops port and the
other services of `hub run` would have waited. ``--unbounded`` applies every record the
consumer holds in one round, as the router did before its rounds were bounded
(docs/benchmarks.md, "Seventh pass").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from bench.core_bench import GP, quiet_logging  # noqa: E402
from bench.harness import Referrals, hub_with_topics, probed, routed, write_records  # noqa: E402

import hub.router  # noqa: E402
from hub.router import _Changelogs  # noqa: E402
from hub.settings import StateSettings  # noqa: E402


async def measure(bootstrap: str, referrals: int) -> dict[str, float]:
    """Loop delays while the router's changelogs are read, with the keys ``referrals`` leave."""
    settings, hub_ = await hub_with_topics(bootstrap)
    changelogs = (hub_.layout.state, hub_.layout.held)
    written = routed(settings, GP, Referrals().take(referrals), changelogs)
    await write_records(settings.kafka, written)
    store = _Changelogs(
        settings.kafka, changelogs, StateSettings(directory=Path(tempfile.mkdtemp()))
    )
    try:
        seen, _ = await probed(store.open)
        keys = float(len(store.state) + len(store.held))
    finally:
        await store.close()
    return {**seen.figures(), "keys": keys}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=50_000)
    parser.add_argument("--unbounded", action="store_true", help="one round takes everything")
    parser.add_argument(
        "--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    args = parser.parse_args()
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    quiet_logging()
    if args.unbounded:
        hub.router._CHANGELOG_ROUND_RECORDS = None  # type: ignore[misc]
    result = asyncio.run(measure(args.kafka, args.referrals))
    print(
        f"router changelogs, {result['keys']:.0f} keys, "
        f"{'unbounded' if args.unbounded else 'bounded'}: read in {result['seconds']:.2f} s; "
        f"loop held up to {result['max_ms']:.0f} ms (p99 {result['p99_ms']:.0f} ms, "
        f"{result['over_50ms']:.0f} times over 50 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
