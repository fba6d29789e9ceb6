"""How long the gateway's status tail holds the event loop it shares with the partners' API, loading a large topic.

Run: .venv/bin/python bench/gateway_tails.py [--statuses N] [--unbounded] [--kafka HOST:PORT]

Writes ``--statuses`` status records, as the router writes one per processed event, to a
fresh status topic (six partitions). Then starts a ``StatusTail`` as `hub gateway` does
and, beside it on the same event loop, a probe that sleeps 5 ms at a time and records how
late it wakes: the longest such delay is how long every request to the gateway would
have waited. Prints the longest and the 99th percentile delay until the tail has read the
topic to its end. ``--unbounded`` takes every record the consumer holds in one round, as
the tail did before its rounds were bounded (docs/benchmarks.md, "Seventh pass").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from bench.core_bench import quiet_logging  # noqa: E402
from bench.harness import send_encoded  # noqa: E402
from tests.integration.hubtest import isolated_settings  # noqa: E402

import hub.gateway.status  # noqa: E402
from hub.app import build_hub  # noqa: E402
from hub.gateway.status import StatusBook, StatusTail  # noqa: E402
from hub.records import StatusRecord  # noqa: E402
from hub.router import ensure_topics  # noqa: E402

_TICK = 0.005


async def probed(work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    """Seconds and loop delays (ms) while ``work`` runs, with a 5 ms probe beside it."""
    delays: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(_TICK)
            delays.append(time.perf_counter() - started - _TICK)

    prober = asyncio.create_task(probe())
    started = time.perf_counter()
    try:
        await work()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        await prober
    delays.sort()
    return {
        "seconds": seconds,
        "max_ms": delays[-1] * 1000,
        "p99_ms": delays[int(len(delays) * 0.99)] * 1000,
        "over_50ms": float(sum(1 for d in delays if d > 0.05)),
    }


def _statuses(count: int) -> Iterator[tuple[bytes, list[tuple[str, bytes]], bytes]]:
    for n in range(count):
        record = StatusRecord(
            event_id=f"ref-{n:09d}",
            source="urn:nld:agb:01234567",
            partner="gp-de-linde",
            type="nl.sociaaldomein.referrals.submitted.v1",
            status="delivered",
            recipients=("swt-zwolle",),
            at="2026-11-29T23:00:00.000+00:00",
        )
        yield record.key, [], record.to_json()


async def status_tail(bootstrap: str, count: int) -> dict[str, float]:
    """Loop delays while a status tail loads ``count`` status records."""
    settings = isolated_settings(bootstrap, partitions=6)
    hub_ = build_hub(settings)
    await ensure_topics(settings.kafka, hub_.layout, hub_.registry)
    await send_encoded(settings.kafka, hub_.layout.status, _statuses(count))
    book = StatusBook(max_records=count, recent_ids=10_000)
    tail = StatusTail(settings.kafka, hub_.layout.status, book)

    async def load() -> None:
        await tail.start()
        await tail.caught_up.wait()

    try:
        result = await probed(load)
    finally:
        await tail.stop()
    assert len(book) == count, len(book)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statuses", type=int, default=200_000)
    parser.add_argument("--unbounded", action="store_true", help="one round takes everything")
    parser.add_argument(
        "--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    args = parser.parse_args()
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    quiet_logging()
    if args.unbounded:
        hub.gateway.status._ROUND_RECORDS = None  # type: ignore[misc]
    result = asyncio.run(status_tail(args.kafka, args.statuses))
    print(
        f"status tail, {args.statuses} statuses, "
        f"{'unbounded' if args.unbounded else 'bounded'}: loaded in {result['seconds']:.2f} s; "
        f"loop held up to {result['max_ms']:.0f} ms (p99 {result['p99_ms']:.0f} ms, "
        f"{result['over_50ms']:.0f} times over 50 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
