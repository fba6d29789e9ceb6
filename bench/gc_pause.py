"""How long the garbage collector's full collections pause `hub run`, with and without freezing start-up.

Run: .venv/bin/python bench/gc_pause.py [--referrals N] [--passes P]

Builds the hub as `hub run` does (``build_hub``, the modules it imports), routes
``--referrals`` referrals through the in-memory pipeline ``--passes`` times, and records
every collection's duration per generation (``gc.callbacks``); then the same after
``hub.app.freeze_start_up`` (``gc.freeze``), which `hub run` and `hub gateway` now call
once they are built. Ends with one full ``gc.collect()`` timed each way.
docs/benchmarks.md, "Seventh pass".
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/
    sys.path.insert(0, str(REPO))

from bench.core_bench import GP, Record, pipeline_runner, quiet_logging  # noqa: E402
from bench.harness import Referrals  # noqa: E402

from hub.app import build_hub, freeze_start_up  # noqa: E402
from hub.settings import HubSettings, KafkaSettings  # noqa: E402
from hub.topics import TopicLayout  # noqa: E402

_pauses: dict[int, list[float]] = {}
_started = [0.0]


def _note(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _pauses.setdefault(info["generation"], []).append(time.perf_counter() - _started[0])


def _report(label: str) -> None:
    for generation, pauses in sorted(_pauses.items()):
        print(
            f"{label}: generation {generation}: {len(pauses)} collections, "
            f"longest {max(pauses) * 1000:.1f} ms, in all {sum(pauses) * 1000:.0f} ms"
        )
    _pauses.clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    quiet_logging()
    build_hub(HubSettings(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:19092")))
    import hub.cli.main  # noqa: F401 - what `hub run` has imported by now

    topic = TopicLayout(HubSettings().kafka.topic_prefix).inbound(GP)
    records = [
        Record(topic, 0, offset, key, tuple(headers), value)
        for offset, (key, headers, value) in enumerate(Referrals().take(args.referrals))
    ]
    run = pipeline_runner(records)
    run()
    gc.callbacks.append(_note)
    for _ in range(args.passes):
        run()
    _report("as built")
    started = time.perf_counter()
    gc.collect()
    full = time.perf_counter() - started
    _pauses.clear()
    freeze_start_up()
    for _ in range(args.passes):
        run()
    _report("start-up frozen")
    started = time.perf_counter()
    gc.collect()
    frozen = time.perf_counter() - started
    print(f"one full collection: {full * 1000:.1f} ms as built, {frozen * 1000:.1f} ms frozen")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
