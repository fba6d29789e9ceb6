"""How long the gateway's tails hold the event loop they share with the partners' API, loading large topics.

Run: .venv/bin/python bench/gateway_tails.py [--tail status|iwmo] [--statuses N]
     [--referrals N] [--unbounded] [--kafka HOST:PORT]

``--tail status`` writes ``--statuses`` status records, as the router writes one per
processed event, to a fresh status topic (six partitions) and starts a ``StatusTail``;
``--tail iwmo`` writes the routing-state changelog that ``--referrals`` referrals leave
(two keys each, as the router writes them) and starts the iWmo book's ``IwmoTail``. Beside
the tail, on the same event loop, a probe sleeps 5 ms at a time and records how late it
wakes: the longest such delay is how long every request to the gateway would have waited.
Prints the longest and the 99th percentile delay until the tail has read its topics to
their end. ``--unbounded`` takes every record the consumer holds in one round, as the
tails did before their rounds were bounded (docs/benchmarks.md, "Seventh pass").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from bench.core_bench import GP, quiet_logging  # noqa: E402
from bench.harness import (  # noqa: E402
    Referrals,
    hub_with_topics,
    loaded,
    probed,
    routed,
    send_encoded,
    write_records,
)

import hub.gateway.status  # noqa: E402
import hub.roles.provider.iwmo  # noqa: E402
from hub.families.state import assignment_key, care_starts  # noqa: E402
from hub.gateway.status import StatusBook, StatusTail  # noqa: E402
from hub.iwmo.book import IwmoBook  # noqa: E402
from hub.records import StatusRecord  # noqa: E402
from hub.roles.provider.iwmo import IwmoTail  # noqa: E402


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
    settings, hub_ = await hub_with_topics(bootstrap)
    await send_encoded(settings.kafka, hub_.layout.status, _statuses(count))
    book = StatusBook(max_records=count, recent_ids=10_000)
    tail = StatusTail(settings.kafka, hub_.layout.status, book)
    try:
        seen, _ = await probed(lambda: loaded(tail))
    finally:
        await tail.stop()
    assert len(book) == count, len(book)
    return seen.figures()


async def iwmo_tail(bootstrap: str, referrals: int) -> dict[str, float]:
    """Loop delays while the iWmo tail loads the routing state ``referrals`` referrals leave."""
    settings, hub_ = await hub_with_topics(bootstrap)
    state = routed(settings, GP, Referrals().take(referrals), {hub_.layout.state})
    await write_records(settings.kafka, state)
    tail = IwmoTail(
        settings.kafka,
        hub_.layout,
        IwmoBook(assignment_key=assignment_key, care_starts=care_starts),
    )
    try:
        seen, _ = await probed(lambda: loaded(tail))
    finally:
        await tail.stop()
    return {**seen.figures(), "records": float(len(state))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tail", choices=["status", "iwmo"], default="status")
    parser.add_argument("--statuses", type=int, default=200_000)
    parser.add_argument("--referrals", type=int, default=50_000)
    parser.add_argument("--unbounded", action="store_true", help="one round takes everything")
    parser.add_argument(
        "--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    args = parser.parse_args()
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    quiet_logging()
    if args.unbounded:
        hub.gateway.status._ROUND_RECORDS = None  # type: ignore[misc]
        hub.roles.provider.iwmo._ROUND_RECORDS = None  # type: ignore[misc]
    if args.tail == "status":
        result = asyncio.run(status_tail(args.kafka, args.statuses))
        what = f"status tail, {args.statuses} statuses"
    else:
        result = asyncio.run(iwmo_tail(args.kafka, args.referrals))
        what = f"iWmo tail, {result['records']:.0f} state records"
    print(
        f"{what}, {'unbounded' if args.unbounded else 'bounded'}: "
        f"loaded in {result['seconds']:.2f} s; "
        f"loop held up to {result['max_ms']:.0f} ms (p99 {result['p99_ms']:.0f} ms, "
        f"{result['over_50ms']:.0f} times over 50 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
