"""What the operations page's dead-letter board costs `hub run`'s event loop with many dead letters.

Run: .venv/bin/python bench/deadletter_board.py [--letters N] [--kafka HOST:PORT]

Writes ``--letters`` dead letters, as the router writes them for referrals with a BSN
that fails the 11-proof (each with its copy of the event), to a fresh dead-letter topic.
Then, with a probe beside it on the same event loop (5 ms sleeps; how late it wakes is
how long the router would have waited), it times: reading the whole topic into listings
as every check of the board did before it followed the topic (``read_dead_letters``),
and the board's first and second check now; with the memory each holds afterwards
(tracemalloc). docs/benchmarks.md, "Seventh pass".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from bench.core_bench import GP, quiet_logging  # noqa: E402
from bench.harness import Referrals, hub_with_topics, probed, routed, write_records  # noqa: E402

from hub.operations.board import DeadLetterBoard  # noqa: E402
from hub.operations.deadletters import read_dead_letters  # noqa: E402


async def probed_memory(work: Callable[[], Awaitable[Any]]) -> tuple[float, float, float, Any]:
    """Seconds, longest loop delay (s) and memory held (MiB) by ``work``, and its result."""
    tracemalloc.start()
    try:
        seen, result = await probed(work)
        held = tracemalloc.get_traced_memory()[0] / 2**20
    finally:
        tracemalloc.stop()
    return seen.seconds, seen.max_ms / 1000, held, result


async def main(bootstrap: str, count: int) -> None:
    settings, hub = await hub_with_topics(bootstrap, partitions=3)
    bad = (
        (key, headers, value.replace(b'"999900018"', b'"999900019"'))
        for key, headers, value in Referrals().take(count)
    )
    letters = routed(settings, GP, bad, {hub.layout.deadletter})
    await write_records(settings.kafka, letters)

    seconds, stall, held, listed = await probed_memory(
        lambda: read_dead_letters(settings.kafka, hub.layout)
    )
    print(
        f"{len(listed)} dead letters; reading the whole topic (each check before): {seconds:.2f} s, "
        f"loop held up to {stall * 1000:.0f} ms, {held:.1f} MiB held"
    )
    del listed
    board = DeadLetterBoard(kafka=settings.kafka, layout=hub.layout, interval_seconds=5)
    try:
        for which in ("first", "second"):
            seconds, stall, held, _ = await probed_memory(board.check)
            print(
                f"the board's {which} check now: {seconds:.2f} s, loop held up to "
                f"{stall * 1000:.0f} ms, {held:.1f} MiB held; total {board.snapshot()['total']}"
            )
    finally:
        await board.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=20_000)
    parser.add_argument(
        "--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    arguments = parser.parse_args()
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    quiet_logging()
    asyncio.run(main(arguments.kafka, arguments.letters))
