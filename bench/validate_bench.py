"""Measure what validating one typical event costs, next to baselines measured in the same run.

The event is the referral example (``examples/referrals.submitted/valid/poh-ggz-referral.json``):
a GP referral with a client, two household members, consent and contact details. Times are
the median per call over several repeats; the baselines make the figure portable across
machines: ``json.loads`` of the same bytes, and pydantic validating a one-field model.
Peak memory of validating 10,000 events is measured with tracemalloc.

    .venv/bin/python bench/validate_bench.py            # the figures in docs/benchmarks.md
    .venv/bin/python bench/validate_bench.py --quick    # a smoke run: fewer calls
    .venv/bin/python bench/run_all.py                   # every bench script (make bench)
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import timeit
import tracemalloc
from collections.abc import Callable
from importlib.metadata import version

from pydantic import BaseModel

from hub.envelope import parse_structured
from hub.schemas import ValidationContext, spec_for, validate_event
from hub.schemas.common import DEFAULT_RESULT_AREAS
from hub.testing import EXAMPLES_DIR, sender_of

REFERRAL = EXAMPLES_DIR / "referrals.submitted" / "valid" / "poh-ggz-referral.json"
EVENTS_FOR_MEMORY = 10_000


class _Trivial(BaseModel):
    """The smallest useful pydantic model: the baseline for "pydantic was called at all"."""

    id: str


def _median_us(call: Callable[[], object], number: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the time per call, in microseconds."""
    call()  # warm caches (lazy schema building, imports) outside the timing
    runs = timeit.repeat(call, number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e6


def _peak_mib(work: Callable[[], object]) -> float:
    """Peak traced memory of ``work`` in MiB, counting only what it allocates."""
    gc.collect()
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak / 2**20


def main() -> int:
    """Run the measurements and print them, ending with one ``summary:`` line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (smoke run)")
    args = parser.parse_args()
    number, repeat = (1_000, 3) if args.quick else (20_000, 7)

    body = REFERRAL.read_bytes()
    event = json.loads(body)
    sender = sender_of(event)
    spec = spec_for(event["type"])
    context = ValidationContext(event_date=None, result_areas=DEFAULT_RESULT_AREAS)
    data_validator = spec.model.__pydantic_validator__

    rows: list[tuple[str, float]] = [
        (
            "json.loads of the event's bytes (baseline)",
            _median_us(lambda: json.loads(body), number, repeat),
        ),
        (
            "pydantic, one-field model (baseline)",
            _median_us(lambda: _Trivial.model_validate({"id": "x"}), number, repeat),
        ),
        (
            "validate_event, parsed dict (what the pipeline does)",
            _median_us(lambda: validate_event(event, sender=sender), number, repeat),
        ),
        (
            "parse_structured + validate_event, from bytes (gateway)",
            _median_us(
                lambda: validate_event(parse_structured(body), sender=sender), number, repeat
            ),
        ),
        (
            "data model only (no envelope, no sender checks)",
            _median_us(
                lambda: data_validator.validate_python(event["data"], context=context),
                number,
                repeat,
            ),
        ),
    ]
    json_us, pydantic_us = rows[0][1], rows[1][1]

    events = []
    for index in range(EVENTS_FOR_MEMORY):
        copy_ = copy.deepcopy(event)
        copy_["id"] = f"bench-{index}"
        events.append(copy_)

    def streaming() -> None:
        for item in events:
            validate_event(item, sender=sender)

    def kept() -> list[object]:
        return [validate_event(item, sender=sender) for item in events]

    streaming_mib = _peak_mib(streaming)
    kept_mib = _peak_mib(kept)

    print(
        f"Validation of one event: {REFERRAL.relative_to(EXAMPLES_DIR.parent)} ({len(body):,} bytes)"
    )
    print(
        f"Python {platform.python_version()}, pydantic {version('pydantic')}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"median of {repeat} repeats x {number:,} calls"
    )
    print(f"  {'':58} {'us/call':>9} {'x json':>7} {'x pyd.':>7}")
    for label, micros in rows:
        print(f"  {label:58} {micros:9.2f} {micros / json_us:7.1f} {micros / pydantic_us:7.1f}")
    print(f"Peak memory (tracemalloc) validating {EVENTS_FOR_MEMORY:,} events:")
    print(f"  one at a time, results dropped: {streaming_mib:8.2f} MiB")
    print(
        f"  all {EVENTS_FOR_MEMORY:,} ValidEvents kept:      {kept_mib:8.2f} MiB "
        f"({kept_mib * 2**20 / EVENTS_FOR_MEMORY / 1024:.1f} KiB per event)"
    )
    validate_us = rows[2][1]
    print(
        f"summary: validate_event {validate_us:.1f} us/event = {validate_us / json_us:.1f}x "
        f"json.loads of the same bytes; peak {streaming_mib:.2f} MiB streaming, "
        f"{kept_mib:.1f} MiB keeping {EVENTS_FOR_MEMORY:,} results"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
