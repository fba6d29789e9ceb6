"""What one ``/api/overview`` request costs `hub run`'s event loop with 10,000 dead letters on the board.

Run: .venv/bin/python bench/overview_bench.py [--letters N] [--rounds N] [--kafka HOST:PORT]

Writes ``--letters`` dead letters (referrals of one GP with a BSN that fails the
11-proof, as the router writes them) to a fresh dead-letter topic, lets a
``DeadLetterBoard`` read them, and then asks the operations page's own route for the
overview, in turn: listing every unresolved dead letter as the overview did before
(the board's snapshot without a limit), listing the newest ``DEAD_LETTERS_SHOWN`` with
the counts (now), and the same for one partner with none of them (the listing then looks
through every row), and the first request after a check of the board (which takes the
counts anew). The request is called as the ops server calls it (its ASGI app,
no client or socket), so its time is the time it holds the shared event loop. Prints
the median, 90th percentile and longest time and the answer's size for each.
docs/benchmarks.md, "The operations page's overview".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from bench.core_bench import GP, quiet_logging  # noqa: E402
from bench.harness import (  # noqa: E402
    Referrals,
    delete_topics_of,
    hub_with_topics,
    routed,
    write_records,
)

from hub.observability.ops import ops_app  # noqa: E402
from hub.observability.page import DEAD_LETTERS_SHOWN, PartnerCard, page_routes  # noqa: E402
from hub.operations.board import DeadLetterBoard  # noqa: E402


async def ask(app: Any, query: bytes) -> tuple[float, int]:
    """Seconds one GET /api/overview took in the app, and the answer's size in bytes."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/overview",
        "raw_path": b"/api/overview",
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8081),
    }
    body = bytearray()
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    started = time.perf_counter()
    await app(scope, receive, send)
    seconds = time.perf_counter() - started
    assert status == 200, status
    return seconds, len(body)


async def main(bootstrap: str, count: int, rounds: int) -> None:
    settings, hub = await hub_with_topics(bootstrap, partitions=3)
    board = DeadLetterBoard(kafka=settings.kafka, layout=hub.layout, interval_seconds=5)
    try:
        bad = (
            (key, headers, value.replace(b'"999900018"', b'"999900019"'))
            for key, headers, value in Referrals().take(count)
        )
        await write_records(settings.kafka, routed(settings, GP, bad, {hub.layout.deadletter}))
        while board.snapshot()["total"] < count:
            await board.check()  # a long first read goes on at the next check
        cards = [PartnerCard(p.id, p.name, p.role, p.delivery.kind) for p in hub.registry]

        def every_row(*, limit: int | None, partner: str | None) -> Mapping[str, Any]:
            return board.snapshot()  # no limit: every unresolved row, as the overview sent them

        ways = {
            "every row (before)": (ops_app({}, routes=page_routes(cards, every_row)), b""),
            f"newest {DEAD_LETTERS_SHOWN} and counts (now)": (
                ops_app({}, routes=page_routes(cards, board.snapshot)),
                b"",
            ),
            f"newest {DEAD_LETTERS_SHOWN} of a partner with none (now)": (
                ops_app({}, routes=page_routes(cards, board.snapshot)),
                b"dead_letters_partner=swt-zwolle",
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        sizes: dict[str, int] = {}
        for n in range(rounds + 3):
            for name, (app, query) in ways.items():
                seconds, size = await ask(app, query)
                if n >= 3:  # the first rounds warm the caches and the board's counts
                    times[name].append(seconds)
                    sizes[name] = size
        # The counts are taken once per check (every HUB_OPS__DEADLETTERS_INTERVAL_SECONDS);
        # the first request after one takes them.
        first = f"newest {DEAD_LETTERS_SHOWN} and counts, first after a check (now)"
        times[first] = []
        for _ in range(min(rounds, 10)):
            await board.check()
            seconds, sizes[first] = await ask(
                ways[f"newest {DEAD_LETTERS_SHOWN} and counts (now)"][0], b""
            )
            times[first].append(seconds)
        snapshot = board.snapshot(limit=0)
        print(
            f"{snapshot['total']} dead letters, {snapshot['unresolved_count']} unresolved on the "
            f"board; {rounds} requests each, in turn (after a check: {len(times[first])})"
        )
        for name, taken in times.items():
            ordered = sorted(taken)
            print(
                f"{name}: median {statistics.median(ordered) * 1000:.1f} ms, "
                f"p90 {ordered[int(len(ordered) * 0.9)] * 1000:.1f} ms, "
                f"longest {ordered[-1] * 1000:.1f} ms; {sizes[name] / 1024:.0f} KiB"
            )
    finally:
        await board.close()
        await delete_topics_of(settings.kafka, settings.kafka.topic_prefix + ".")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    arguments = parser.parse_args()
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    quiet_logging()
    asyncio.run(main(arguments.kafka, arguments.letters, arguments.rounds))
