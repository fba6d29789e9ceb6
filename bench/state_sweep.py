"""How long one retention sweep holds the router's event loop: the whole state at once, and one step.

Run: .venv/bin/python bench/state_sweep.py [--referrals N]

Routes ``--referrals`` referrals through the in-memory pipeline, copies the routing state
they leave (a referral and a duplicate marker each) into the SQLite store `hub run`
keeps it in, and times the sweep's judging over it, as the router runs it
(``hub.routing.retention``): over every key at once, as every sweep did before it went
in steps, and over one step of ``hub.router._SWEEP_STEP`` keys, as later sweeps do now
(docs/benchmarks.md, "Seventh pass"). Nothing has expired, so no write is timed: only
the part that holds the loop.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/
    sys.path.insert(0, str(REPO))

from bench.core_bench import GP, quiet_logging  # noqa: E402
from bench.harness import Referrals  # noqa: E402

from hub.pipeline import InboundRecord  # noqa: E402
from hub.router import _SWEEP_STEP  # noqa: E402
from hub.routing.retention import expired_keys, legacy_keys  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from hub.state.disk import DiskStore  # noqa: E402
from hub.testing import InMemoryPipeline  # noqa: E402
from hub.topics import TopicLayout  # noqa: E402


def judge(store: DiskStore, step: int | None) -> float:
    """Seconds to judge the whole state (``step`` None) or its first ``step`` keys."""
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    entries = None if step is None else list(itertools.islice(store.scan(), step))
    list(
        expired_keys(
            store,
            today,
            retention=timedelta(days=730),
            seen_retention=timedelta(days=30),
            entries=entries,
        )
    )
    list(legacy_keys(store, today, entries=entries))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    args = parser.parse_args()
    quiet_logging()
    settings = HubSettings()
    runner = InMemoryPipeline(settings)
    topic = TopicLayout(settings.kafka.topic_prefix).inbound(GP)
    runner.feed_records(
        InboundRecord(topic, 0, offset, key, value, tuple(headers))
        for offset, (key, headers, value) in enumerate(Referrals().take(args.referrals))
    )
    store = DiskStore()
    store.apply(dict(runner.state.scan()))
    keys = len(store)
    whole = min(judge(store, None) for _ in range(3))
    step = min(judge(store, _SWEEP_STEP) for _ in range(20))
    print(
        f"{keys} keys: the whole sweep holds the loop {whole * 1000:.0f} ms "
        f"({whole / keys * 1e6:.1f} µs per key); one step of {_SWEEP_STEP} keys "
        f"{step * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
