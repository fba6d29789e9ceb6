"""The core's four figures (docs/benchmarks.md, "The core"), each against a baseline or target in the same run.

Run: .venv/bin/python bench/core_bench.py [--events N] [--rss-events N] [--repeats R]
     [--only in_memory,drain,latency,memory] [--quick] [--out FILE] [--profile FILE]

1. In memory: the pipeline per referral against stdlib ``json.loads`` of the same record
   value (a baseline that does not move with the hub's code) and against decoding it.
2. Drain: ``--events`` referrals pre-loaded on the GP's inbound topic, drained by a raw
   aiokafka transactional passthrough (consume read_committed, produce the same bytes to
   another topic, ``send_offsets_to_transaction`` and commit per fetched batch) and then
   by `hub run` as a real process; each rate from the first output record to the last,
   by the output records' timestamps (CreateTime: stamped by the writing producer).
3. Latency: p50/p95/p99 from the partner's ``send`` to the wijkteam's consumer receiving
   the delivery, at paced offered loads (500 and 2,000 events/s by default).
4. Memory: VmRSS of the `hub run` process at rest after it has committed 20,000 and
   100,000 events (sent in steps; the median of samples in a short idle after each step),
   with the peak while working beside it.

Every Kafka figure runs ``--repeats`` times (fresh topic prefix, fresh `hub run` each
time); the table shows the median and every value. The hub is driven only through stable
public things (settings as HUB_* variables, the topic layout, the demo partner registry),
so the same command measures before and after a restructuring; the in-memory pipeline
call is the one place that knows the hub's internals (``pipeline_runner``).
Uses HUB_KAFKA__BOOTSTRAP_SERVERS (or ``--kafka``; without either, the local development
broker, started if need be); HUB_ENVIRONMENT defaults to development.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from bench.harness import (  # noqa: E402
    HubGroup,
    HubProcess,
    Referrals,
    arrivals,
    client_options,
    committed,
    create_topic,
    delete_topics_of,
    environ_with_demo_settings,
    read_all,
    send_encoded,
)
from tests.integration.hubtest import HubUnderTest, isolated_settings  # noqa: E402

from hub.app import build_hub  # noqa: E402
from hub.settings import HubSettings, KafkaSettings  # noqa: E402
from hub.topics import TopicLayout  # noqa: E402

GP, SWT = "gp-de-linde", "swt-zwolle"
RESULTS = REPO / "bench" / "results"


@dataclass(frozen=True, slots=True)
class Record:
    """One inbound Kafka record as the router receives it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    value: bytes


# -- the one place that knows the pipeline's API: adapt here after a restructuring ---------


def quiet_logging() -> None:
    """Log at WARNING in this process: production's per-event INFO line is not measured."""
    from hub.observability.logging import configure_logging

    configure_logging(format="json", level="WARNING")


def pipeline_runner(records: Sequence[Record]) -> Callable[[], None]:
    """A function that runs every record through the pipeline once, from fresh state.

    Through ``hub.testing.InMemoryPipeline``, the public in-memory runner: the live
    pipeline, each run one batch, committed, with nothing deduplicated from a run before.
    """
    from hub.pipeline import InboundRecord
    from hub.state import StateStore
    from hub.testing import InMemoryPipeline

    runner = InMemoryPipeline(HubSettings())
    inbound = [
        InboundRecord(r.topic, r.partition, r.offset, r.key, r.value, r.headers) for r in records
    ]

    def run() -> None:
        runner.state, runner.held = StateStore(), StateStore()  # fresh: nothing deduped
        runner.feed_records(inbound)

    return run


def decoder(records: Sequence[Record]) -> Callable[[], None]:
    """A function that decodes every binary-mode record into a CloudEvent (the old baseline)."""
    from hub.envelope import from_kafka

    def run() -> None:
        for r in records:
            from_kafka(r.key, r.headers, r.value)

    return run


# -- 1. in memory -------------------------------------------------------------------------


def fastest_per_event_us(
    runs: dict[str, Callable[[], None]], count: int, repeats: int
) -> dict[str, float]:
    """Microseconds per event of each run: the fastest of ``repeats`` interleaved passes.

    Interleaved, so that the baselines and the pipeline see the same machine; the fastest
    pass, because on a shared machine other work only ever adds time (as ``timeit`` advises).
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: seconds / count * 1e6 for name, seconds in best.items()}


def in_memory(count: int, repeats: int) -> dict[str, float]:
    """Microseconds per referral: pipeline, decoding, ``json.loads``; and the two ratios."""
    topic = TopicLayout(HubSettings().kafka.topic_prefix).inbound(GP)
    records = [
        Record(topic, 0, offset, key, tuple(headers), value)
        for offset, (key, headers, value) in enumerate(Referrals().take(count))
    ]
    values = [r.value for r in records]

    def loads_all() -> None:
        for value in values:
            json.loads(value)

    pipeline = pipeline_runner(records)
    pipeline()  # warm: first-call imports and caches are not the steady cost
    times = fastest_per_event_us(
        {"loads": loads_all, "decode": decoder(records), "pipeline": pipeline}, count, repeats
    )
    loads_us, decode_us, pipeline_us = times["loads"], times["decode"], times["pipeline"]
    return {
        "json_loads_us": loads_us,
        "decode_us": decode_us,
        "pipeline_us": pipeline_us,
        "x_json_loads": pipeline_us / loads_us,
        "x_decode": pipeline_us / decode_us,
    }


# -- 2. drain: the hub against a raw transactional passthrough ----------------------------


async def passthrough(kafka: KafkaSettings, source: str, sink: str, count: int, tag: str) -> None:
    """Copy ``count`` records from source to sink exactly once, one transaction per fetch."""
    consumer = AIOKafkaConsumer(
        source,
        **client_options(kafka),
        group_id=f"{tag}-passthrough",
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        **client_options(kafka),
        transactional_id=f"{tag}-passthrough",
        enable_idempotence=True,
        acks="all",
    )
    await producer.start()
    await consumer.start()
    try:
        done = 0
        while done < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=kafka.max_batch)
            if not batch:
                continue
            async with producer.transaction():
                for records in batch.values():
                    for r in records:
                        await producer.send(sink, value=r.value, key=r.key, headers=list(r.headers))
                offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                await producer.send_offsets_to_transaction(offsets, f"{tag}-passthrough")
            done += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()
        await producer.stop()


_NAN = float("nan")


def _rate(stamps: Sequence[int]) -> float:
    """Events per second from the first record's timestamp (ms) to the last."""
    span = (max(stamps) - min(stamps)) / 1000
    return (len(stamps) - 1) / span if span > 0 else float("nan")


@dataclass
class Fresh:
    """A run's own settings, topics and `hub run` log, removed again afterwards."""

    settings: HubSettings
    hub: HubUnderTest
    work_dir: Path

    @property
    def kafka(self) -> KafkaSettings:
        return self.settings.kafka

    @property
    def prefix(self) -> str:
        return self.settings.kafka.topic_prefix

    @property
    def inbound(self) -> str:
        return self.hub.layout.inbound(GP)

    @property
    def deliveries(self) -> str:
        return self.hub.deliveries_topic(SWT)

    def process(self, python_args: Sequence[str] = ()) -> HubProcess:
        # WARNING: the per-event INFO line is not what is measured; errors still land in the log.
        return HubProcess(
            self.settings,
            self.work_dir / "hub.log",
            extra_env={"HUB_LOGGING__LEVEL": "WARNING", "HUB_ENVIRONMENT": "development"},
            python_args=python_args,
        )

    def processes(self, instances: int) -> HubProcess | HubGroup:
        """One `hub run`, or ``instances`` of them in one group (stable instance ids)."""
        if instances == 1:
            return self.process()
        base = self.settings.kafka.instance_id
        return HubGroup(
            [
                HubProcess(
                    self.settings,
                    self.work_dir / f"hub-{n}.log",
                    extra_env={
                        "HUB_LOGGING__LEVEL": "WARNING",
                        "HUB_ENVIRONMENT": "development",
                        "HUB_KAFKA__INSTANCE_ID": base if n == 1 else f"{base}-{n}",
                    },
                )
                for n in range(1, instances + 1)
            ]
        )


@contextlib.asynccontextmanager
async def fresh(bootstrap: str, keep_topics: bool) -> Any:
    """Fresh settings (own topic prefix, group, audit store) with the hub's topics created."""
    with tempfile.TemporaryDirectory(prefix="core-bench-") as work:
        partitions = HubSettings().kafka.partitions  # the demo default, not the tests' 3
        settings = isolated_settings(bootstrap, audit_dir=Path(work), partitions=partitions)
        hub = HubUnderTest(build_hub(settings))
        await hub.create_topics()
        try:
            yield Fresh(settings, hub, Path(work))
        finally:
            if not keep_topics:
                await delete_topics_of(settings.kafka, settings.kafka.topic_prefix + ".")


async def _until_committed(
    fresh_run: Fresh,
    hub: HubProcess | HubGroup,
    count: int,
    within: float,
    on_progress: Any = None,
) -> None:
    """Wait until the hub's consumer group has committed ``count`` inbound records."""
    deadline = time.monotonic() + within
    while True:
        done = await committed(
            fresh_run.kafka, fresh_run.settings.kafka.group_id, fresh_run.inbound
        )
        if on_progress is not None:
            on_progress(done)
        if done >= count:
            return
        if hub.exited() is not None:
            raise RuntimeError(f"hub run exited ({hub.exited()}):\n{hub.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"hub committed {done} of {count}:\n{hub.log_tail()}")
        await asyncio.sleep(0.25)


async def drain(
    bootstrap: str, count: int, keep_topics: bool, instances: int = 1
) -> dict[str, float]:
    """One drain of ``count`` pre-loaded referrals: passthrough, then `hub run`."""
    async with fresh(bootstrap, keep_topics) as run:
        started = time.perf_counter()
        await send_encoded(run.kafka, run.inbound, Referrals().take(count))
        preload_eps = count / (time.perf_counter() - started)

        sink = f"{run.prefix}.bench-passthrough"
        await create_topic(run.kafka, sink)
        await passthrough(run.kafka, run.inbound, sink, count, run.prefix)
        raw = await read_all(run.kafka, sink, count, within=120)

        hub = run.processes(instances)
        started = time.perf_counter()
        hub.start()
        # CPU time from the first committed batch on, so that start-up is not counted.
        first: list[tuple[int, tuple[float, float]]] = []

        def note(done: int) -> None:
            if done and not first:
                first.append((done, hub.cpu_seconds()))

        try:
            await _until_committed(run, hub, count, within=max(600, count / 20), on_progress=note)
            wall = time.perf_counter() - started
            rss_mib = hub.rss_kib() / 1024
            spent = hub.cpu_seconds()
        finally:
            await hub.stop()
        done_first, (main_first, children_first) = first[0] if first else (count, (0.0, 0.0))
        counted = count - done_first
        out = await read_all(run.kafka, run.deliveries, count, within=120)
    if len(raw) < count or len(out) < count:
        raise RuntimeError(
            f"read back {len(raw)} passthrough and {len(out)} hub records of {count}"
        )
    passthrough_eps, hub_eps = (
        _rate([r.timestamp_ms for r in raw]),
        _rate([r.timestamp_ms for r in out]),
    )
    return {
        "preload_eps": preload_eps,
        "passthrough_eps": passthrough_eps,
        "hub_eps": hub_eps,
        "ratio": hub_eps / passthrough_eps,
        "hub_wall_eps_from_start": count / wall,
        "hub_rss_mib": rss_mib,
        # CPU per event of `hub run`'s process and of its children (the audit feed's).
        "hub_cpu_us_per_event": (spent[0] - main_first) / counted * 1e6 if counted else _NAN,
        "feed_cpu_us_per_event": ((spent[1] - children_first) / counted * 1e6 if counted else _NAN),
        "timestamp_type": float(out[0].timestamp_type),
    }


async def profiled_drain(bootstrap: str, count: int, top: int) -> str:
    """Drain ``count`` referrals through `hub run` under cProfile; return the top entries."""
    async with fresh(bootstrap, keep_topics=False) as run:
        await send_encoded(run.kafka, run.inbound, Referrals().take(count))
        stats_file = run.work_dir / "hub.prof"
        hub = run.process(python_args=("-m", "cProfile", "-o", str(stats_file)))
        hub.start()
        try:
            await _until_committed(run, hub, count, within=max(600, count / 10))
        finally:
            await hub.stop()  # SIGTERM: `hub run` returns and cProfile writes its file
        text = _profile_text(stats_file, top)
    header = (
        f"cProfile of `hub run` draining {count} pre-loaded referrals "
        f"(commit {_commit()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC); whole process, "
        "start-up and shutdown included. Command:\n"
        f"  {' '.join(sys.argv)}\n\n"
    )
    return header + text


def _profile_text(stats_file: Path, top: int) -> str:
    import io

    parts = []
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(str(stats_file), stream=buffer)
        stats.strip_dirs().sort_stats(order).print_stats(top)
        parts.append(f"=== top {top} by {order}\n{buffer.getvalue()}")
    return "\n".join(parts)


# -- 3. latency at an offered load ---------------------------------------------------------


async def _paced(
    kafka: KafkaSettings,
    topic: str,
    referrals: Referrals,
    rate: float,
    seconds: float,
    sent_at: dict[bytes | None, float] | None,
) -> float:
    """Send ``rate`` events a second for ``seconds``; return the rate actually offered."""
    producer = AIOKafkaProducer(**client_options(kafka), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        total = int(rate * seconds)
        pending: list[asyncio.Future[Any]] = []
        start = time.perf_counter()
        for n in range(total):
            wait = start + n / rate - time.perf_counter()
            if wait > 0.001:
                await asyncio.sleep(wait)
            key, headers, value = referrals.next()
            now = time.perf_counter()
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            if sent_at is not None:
                sent_at[key] = now
        offered = total / (time.perf_counter() - start)
        await asyncio.gather(*pending)
        return offered
    finally:
        await producer.stop()


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values_ms, n=100, method="inclusive")
    return {"p50_ms": cuts[49], "p95_ms": cuts[94], "p99_ms": cuts[98], "max_ms": max(values_ms)}


async def latency(
    bootstrap: str,
    rates: Sequence[float],
    warmup: float,
    seconds: float,
    keep_topics: bool,
    instances: int = 1,
) -> dict[str, dict[str, float]]:
    """Per offered rate: latency percentiles from the partner's send to the wijkteam's read."""
    results: dict[str, dict[str, float]] = {}
    async with fresh(bootstrap, keep_topics) as run:
        arrived: dict[bytes | None, float] = {}

        async def watch() -> None:
            async for keys in arrivals(run.kafka, run.deliveries):
                now = time.perf_counter()
                for key in keys:
                    arrived.setdefault(key, now)

        hub = run.processes(instances)
        hub.start()
        watcher = asyncio.create_task(watch())
        try:
            referrals = Referrals()
            # Ready: the hub started and the watcher is assigned when a probe comes through.
            probe: dict[bytes | None, float] = {}
            await _paced(run.kafka, run.inbound, referrals, 50, 1, probe)
            await _wait_arrived(arrived, probe, hub, watcher, within=180)
            for rate in rates:
                await _paced(run.kafka, run.inbound, referrals, rate, warmup, None)
                sent_at: dict[bytes | None, float] = {}
                offered = await _paced(run.kafka, run.inbound, referrals, rate, seconds, sent_at)
                await _wait_arrived(
                    arrived, sent_at, hub, watcher, within=max(300, len(sent_at) / 50)
                )
                figures = _percentiles([(arrived[k] - t) * 1000 for k, t in sent_at.items()])
                results[f"{rate:g}"] = {"offered_eps": offered, "events": len(sent_at), **figures}
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await hub.stop()
    return results


async def _wait_arrived(
    arrived: dict[bytes | None, float],
    wanted: dict[bytes | None, float],
    hub: HubProcess | HubGroup,
    watcher: asyncio.Task[None],
    within: float,
) -> None:
    deadline = time.monotonic() + within
    while not all(key in arrived for key in wanted):
        if watcher.done():
            watcher.result()
        if hub.exited() is not None:
            raise RuntimeError(f"hub run exited ({hub.exited()}):\n{hub.log_tail()}")
        if time.monotonic() > deadline:
            missing = sum(1 for key in wanted if key not in arrived)
            raise TimeoutError(f"{missing} of {len(wanted)} deliveries did not arrive")
        await asyncio.sleep(0.2)


# -- 4. memory ----------------------------------------------------------------------------


async def memory(bootstrap: str, marks: Sequence[int], keep_topics: bool) -> dict[str, float]:
    """VmRSS of `hub run` (MiB) at rest after each mark's count of referrals, and its peak.

    The referrals arrive in steps: up to the first mark, then to the next, and so on; after
    each step the hub drains it and idles for ``_REST_SECONDS``, and the median of the
    samples taken in that rest is the figure. A sample taken while the hub is working
    holds whatever batches are in flight (consumer prefetch, a batch's output records,
    the audit feed's write): that moves a single sample by 10-20 MiB either way, which
    is the noise of an earlier version of this scenario, not growth. The peak of the
    samples taken while working is reported beside it.
    """
    peak = 0.0
    at_rest: dict[int, float] = {}
    referrals = Referrals()
    async with fresh(bootstrap, keep_topics) as run:
        hub = run.process()
        hub.start()

        def note(_done: int) -> None:
            nonlocal peak
            peak = max(peak, hub.rss_kib() / 1024)

        drain_s = 0.0
        try:
            sent = 0
            for mark in sorted(marks):
                await send_encoded(run.kafka, run.inbound, referrals.take(mark - sent))
                sent = mark
                started = time.perf_counter()
                await _until_committed(run, hub, mark, within=max(900, mark / 20), on_progress=note)
                drain_s += time.perf_counter() - started
                samples = []
                for _ in range(_REST_SAMPLES):
                    await asyncio.sleep(_REST_SECONDS / _REST_SAMPLES)
                    samples.append(hub.rss_kib() / 1024)
                at_rest[mark] = statistics.median(samples)
        finally:
            await hub.stop()
    first, last = at_rest[min(marks)], at_rest[max(marks)]
    return {
        **{f"rss_mib_at_{mark}": at_rest[mark] for mark in marks},
        "growth": last / first - 1,
        "peak_rss_mib_working": peak,
        "drain_seconds": drain_s,
    }


_REST_SECONDS, _REST_SAMPLES = 5.0, 10


# -- running and reporting ----------------------------------------------------------------


def _commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    keys = runs[0].keys()
    return {
        "median": {k: statistics.median(r[k] for r in runs) for k in keys},
        "runs": runs,
    }


def _fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "%":
        return f"{value * 100:+.1f}%"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def _table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def add(section: str, key: str, label: str, unit: str, target: str = "") -> None:
        block = results.get(section)
        if not block:
            return
        values = [_fmt(run[key], unit) for run in block["runs"]]
        rows.append((label, _fmt(block["median"][key], unit), " / ".join(values), target))

    add("in_memory", "json_loads_us", "json.loads of the record value (baseline)", "us")
    add("in_memory", "decode_us", "decoding the binary-mode record", "us")
    add("in_memory", "pipeline_us", "pipeline per referral", "us")
    add("in_memory", "x_json_loads", "pipeline / json.loads", "x", "<= 10x")
    add("in_memory", "x_decode", "pipeline / decoding", "x")
    add("drain", "passthrough_eps", "drain: raw transactional passthrough", "ev/s")
    add("drain", "hub_eps", "drain: hub run", "ev/s")
    add("drain", "ratio", "drain: hub / passthrough", "ratio", ">= 0.5")
    add("drain", "hub_rss_mib", "drain: hub RSS when drained", "MiB")
    add("drain", "hub_cpu_us_per_event", "drain: CPU of hub run's process per event", "us")
    add("drain", "feed_cpu_us_per_event", "drain: CPU of its children per event", "us")
    for rate in results.get("latency_rates", []):
        key = f"latency_{rate}"
        add(key, "offered_eps", f"latency @{rate}/s: offered", "ev/s")
        for p in ("p50", "p95", "p99"):
            target = "< 250 ms" if p == "p99" and float(rate) >= 2000 else ""
            add(key, f"{p}_ms", f"latency @{rate}/s: {p}", "ms", target)
    marks = results.get("memory_marks", [])
    for mark in marks:
        add("memory", f"rss_mib_at_{mark}", f"RSS at rest after {mark:,} events", "MiB")
    if marks:
        add("memory", "peak_rss_mib_working", "RSS peak while working", "MiB")
    add(
        "memory",
        "growth",
        f"RSS growth {marks[0]:,} -> {marks[-1]:,}" if marks else "",
        "%",
        "within 10%",
    )
    head = ("figure", "median", "runs", "target")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _summary_line(results: dict[str, Any]) -> str:
    """The headline figures (medians), one line for bench/run_all.py."""
    parts = []
    if "in_memory" in results:
        parts.append(f"pipeline {results['in_memory']['median']['x_json_loads']:.1f}x json.loads")
    if "drain" in results:
        parts.append(f"drain {results['drain']['median']['ratio']:.2f}x passthrough")
    for rate in results.get("latency_rates", []):
        parts.append(f"p99 {results[f'latency_{rate}']['median']['p99_ms']:,.0f} ms at {rate}/s")
    if "memory" in results:
        parts.append(f"RSS {results['memory']['median']['growth'] * 100:+.0f}%")
    return "; ".join(parts)


async def _kafka_parts(args: argparse.Namespace, bootstrap: str, results: dict[str, Any]) -> None:
    only = args.only
    if "drain" in only:
        runs = []
        for n in range(args.repeats):
            runs.append(await drain(bootstrap, args.events, args.keep_topics, args.instances))
            print(f"  drain {n + 1}/{args.repeats}: {json.dumps(runs[-1])}", flush=True)
        results["drain"] = _summary(runs)
    if "latency" in only:
        per_rate: dict[str, list[dict[str, float]]] = {}
        for n in range(args.repeats):
            measured = await latency(
                bootstrap, args.rates, args.warmup, args.seconds, args.keep_topics, args.instances
            )
            print(f"  latency {n + 1}/{args.repeats}: {json.dumps(measured)}", flush=True)
            for rate, figures in measured.items():
                per_rate.setdefault(rate, []).append(figures)
        results["latency_rates"] = list(per_rate)
        for rate, rate_runs in per_rate.items():
            results[f"latency_{rate}"] = _summary(rate_runs)
    if "memory" in only:
        runs = []
        for n in range(args.repeats):
            runs.append(await memory(bootstrap, args.rss_marks, args.keep_topics))
            print(f"  memory {n + 1}/{args.repeats}: {json.dumps(runs[-1])}", flush=True)
        results["memory_marks"] = args.rss_marks
        results["memory"] = _summary(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="referrals per drain")
    parser.add_argument("--rss-events", type=int, default=100_000, help="last RSS mark")
    parser.add_argument("--memory-events", type=int, default=20_000, help="first RSS mark")
    parser.add_argument("--rates", type=float, nargs="+", default=[500, 2000])
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds per rate")
    parser.add_argument("--warmup", type=float, default=5, help="unmeasured seconds per rate")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each Kafka figure")
    parser.add_argument("--in-memory-passes", type=int, default=7, help="passes per in-memory run")
    parser.add_argument("--in-memory-events", type=int, default=2000)
    parser.add_argument(
        "--only", default="in_memory,drain,latency,memory", help="comma-separated parts to run"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke test")
    parser.add_argument("--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS"))
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/results/...)")
    parser.add_argument("--profile", type=Path, help="also drain under cProfile; top entries here")
    parser.add_argument("--profile-top", type=int, default=40)
    parser.add_argument("--keep-topics", action="store_true", help="do not delete the run's topics")
    parser.add_argument(
        "--instances", type=int, default=1, help="`hub run` processes in one group (drain, latency)"
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.memory_events, args.rss_events = 2000, 2000, 6000
        args.seconds, args.warmup, args.repeats, args.in_memory_events = 5, 2, 1, 500
        args.rates = [200, 500]
    args.only = {part.strip() for part in args.only.split(",") if part.strip()}
    args.rates = [int(r) if float(r).is_integer() else r for r in args.rates]
    args.rss_marks = sorted(
        {args.memory_events, (args.memory_events + args.rss_events) // 2, args.rss_events}
    )
    environ_with_demo_settings()
    quiet_logging()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "commit": _commit(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
        },
        "arguments": {
            k: sorted(v) if isinstance(v, set) else v
            for k, v in vars(args).items()
            if k not in ("out", "profile")
        },
    }
    if "in_memory" in args.only:
        runs = []
        for n in range(max(2, args.repeats) if not args.quick else 1):
            runs.append(in_memory(args.in_memory_events, args.in_memory_passes))
            print(f"  in memory {n + 1}: {json.dumps(runs[-1])}", flush=True)
        results["in_memory"] = _summary(runs)
    kafka_parts = args.only & {"drain", "latency", "memory"}
    if kafka_parts or args.profile:
        if not args.kafka:  # as bench/pipeline_bench.py: the local development broker
            from hub.dev.localkafka import LocalKafka

            args.kafka = LocalKafka().ensure_running(timeout=300)
        asyncio.run(_kafka_parts(args, args.kafka, results))
    if args.profile:
        args.profile.write_text(
            asyncio.run(profiled_drain(args.kafka, args.events, args.profile_top))
        )
        print(f"profile: {args.profile}")
    results["machine"]["loadavg_after"] = os.getloadavg()
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")

    print(_table(results))
    print(f"summary: {_summary_line(results)}")
    out = args.out or RESULTS / f"core-{results['commit']}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
