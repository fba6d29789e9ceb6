"""What the Kafka benchmarks share: `hub run` as a process, fast partner producers, progress.

Used by bench/faults.py and bench/core_bench.py. Only stable public things of the hub
are used here (settings, the topic layout, the partner simulator's ``binary_mode``), so
the same benchmark runs before and after a restructuring of the hub's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the test helpers live in tests/integration
    sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from tests.integration.hubtest import hub_process, isolated_settings, kill_hard  # noqa: E402

from hub.app import Hub, build_hub  # noqa: E402
from hub.dev.partner_io import binary_mode  # noqa: E402
from hub.pipeline import InboundRecord, OutRecord  # noqa: E402
from hub.router import ensure_topics  # noqa: E402
from hub.settings import HubSettings, KafkaSettings  # noqa: E402
from hub.testing import InMemoryPipeline, valid_example  # noqa: E402
from hub.topics import TopicLayout  # noqa: E402

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"

Encoded = tuple[bytes | None, list[tuple[str, bytes]], bytes]
"""A record as a partner's producer sends it: key, headers, value."""


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Connection options for the benchmark's own clients.

    The benchmarks run against local plaintext brokers; the hub's own option builder is
    internal (and may move), so the benchmarks do not lean on it.
    """
    return {"bootstrap_servers": kafka.bootstrap_servers}


# -- records ------------------------------------------------------------------------------

_ID_MARK, _REF_MARK = "00000000-0000-4000-8000-00000000beef", "REF-bench-MARKMARKMARK"


class Referrals:
    """Distinct valid referrals from a GP, encoded once and stamped with fresh ids (cheap).

    Building each event as a dict and encoding it costs tens of microseconds, enough to
    bend a paced producer at thousands of events per second; replacing the id and the
    referral id in one encoded template costs a few.
    """

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or uuid.uuid4().hex[:8]
        event = valid_example(REFERRAL)
        event["id"] = _ID_MARK
        event["data"]["referral_id"] = event["subject"] = _REF_MARK
        self._key, self._headers, self._value = binary_mode(event)
        self._count = 0

    def subject(self, n: int) -> str:
        """The referral id (the event's subject and Kafka key) of the ``n``-th referral."""
        return f"REF-{self.tag}-{n:08d}"

    def next(self) -> Encoded:
        """The next referral, as a partner's producer sends it."""
        subject = self.subject(self._count).encode()
        self._count += 1
        event_id = str(uuid.uuid4()).encode()
        mark_id, mark_ref = _ID_MARK.encode(), _REF_MARK.encode()

        def stamp(raw: bytes) -> bytes:
            return raw.replace(mark_id, event_id).replace(mark_ref, subject)

        headers = [(name, stamp(value)) for name, value in self._headers]
        return subject, headers, stamp(self._value)

    def take(self, count: int) -> Iterator[Encoded]:
        """The next ``count`` referrals."""
        for _ in range(count):
            yield self.next()


# -- producing ----------------------------------------------------------------------------


async def send_encoded(
    kafka: KafkaSettings, topic: str, records: Iterable[Encoded], *, in_flight: int = 500
) -> int:
    """Produce encoded records as a partner would (acks=all, idempotent), many in flight."""
    producer = AIOKafkaProducer(**client_options(kafka), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        sent = 0
        for key, headers, value in records:
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            sent += 1
            if len(pending) >= in_flight:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return sent
    finally:
        await producer.stop()


async def send_fast(kafka: KafkaSettings, topic: str, events: Iterable[Mapping[str, Any]]) -> int:
    """Produce events as a partner would (binary mode, acks=all, idempotent), many in flight."""
    return await send_encoded(kafka, topic, (binary_mode(event) for event in events))


# -- topics and progress ------------------------------------------------------------------


async def create_topic(kafka: KafkaSettings, name: str, config: Mapping[str, str] = {}) -> None:
    """Create one topic with the settings' partitions and replication."""
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, kafka.partitions, kafka.replication_factor, topic_configs=dict(config))]
        )
    finally:
        await admin.close()


async def delete_topics_of(kafka: KafkaSettings, prefix: str) -> int:
    """Delete every topic whose name starts with ``prefix`` (a run's own, fresh prefix)."""
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()


async def committed(kafka: KafkaSettings, group_id: str, topic: str) -> int:
    """How many records of ``topic`` the consumer group has committed (summed over partitions)."""
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
        return sum(
            meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0
        )
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class Stamped:
    """A record read back: its key and the timestamp the topic stored with it."""

    key: bytes | None
    timestamp_ms: int
    timestamp_type: int  # 0: CreateTime (the producer's clock at send), 1: LogAppendTime


async def read_all(kafka: KafkaSettings, topic: str, count: int, within: float) -> list[Stamped]:
    """Read ``count`` committed records of a topic from the beginning (fewer after ``within`` s)."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    out: list[Stamped] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(out) < count and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                out.extend(Stamped(r.key, r.timestamp, r.timestamp_type) for r in records)
        return out
    finally:
        await consumer.stop()


async def arrivals(kafka: KafkaSettings, topic: str) -> AsyncIterator[list[bytes | None]]:
    """Keys of committed records of a topic, batch by batch as the consumer receives them."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,  # a latency probe: do not let the broker sit on a fetch
    )
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                yield [r.key for r in records]
    finally:
        await consumer.stop()


# -- running the hub ----------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (``VmRSS`` in /proc/<pid>/status; Linux only)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, in seconds (/proc/<pid>/stat; Linux only)."""
    # utime and stime are the 14th and 15th fields: the 12th and 13th after the command.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The ids of a process's direct children (from /proc/<pid>/stat; Linux only)."""
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The parent's id is the second field after the command's closing parenthesis.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class HubProcess:
    """`hub run` as a real OS process that can be killed and started again."""

    def __init__(
        self,
        settings: HubSettings,
        log_file: Path,
        *,
        extra_env: Mapping[str, str] | None = None,
        python_args: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.log_file = log_file
        self.extra_env = dict(extra_env or {})
        self.python_args = tuple(python_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.process = hub_process(
            self.settings, self.log_file, extra_env=self.extra_env, python_args=self.python_args
        )
        self.starts += 1

    def kill(self) -> None:
        if self.process is not None:
            kill_hard(self.process)
            self.process = None

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                kill_hard(self.process)
            self.process = None

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def rss_kib(self) -> int:
        """The resident set size now of the process and its children (the audit feed's), in KiB.

        A sum: pages the processes share (the interpreter's libraries) count once for each.
        """
        assert self.process is not None, "the hub is not running"
        total = rss_kib(self.process.pid)
        for child in children(self.process.pid):
            with contextlib.suppress(OSError, LookupError):  # ended meanwhile
                total += rss_kib(child)
        return total

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds used so far by the process, and by its children alive now (the audit feed's)."""
        assert self.process is not None, "the hub is not running"
        spent = 0.0
        for child in children(self.process.pid):
            with contextlib.suppress(OSError):  # ended meanwhile
                spent += cpu_seconds(child)
        return cpu_seconds(self.process.pid), spent

    def log_tail(self, lines: int = 30) -> str:
        """The end of the hub's log (no personal data: the hub never logs any), for a failure."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class HubGroup:
    """Several `hub run` processes in one consumer group (instances ``<id>``, ``<id>-2``, ...).

    The interface of one ``HubProcess``; figures are summed over the processes. Each runs its
    own audit feed and aggregator, as several instances in production do.
    """

    def __init__(self, processes: Sequence[HubProcess]) -> None:
        self.processes = list(processes)

    def start(self) -> None:
        for process in self.processes:
            process.start()

    async def stop(self) -> None:
        await asyncio.gather(*(process.stop() for process in self.processes))

    def exited(self) -> int | None:
        codes = [process.exited() for process in self.processes]
        return next((code for code in codes if code is not None), None)

    def rss_kib(self) -> int:
        return sum(process.rss_kib() for process in self.processes)

    def cpu_seconds(self) -> tuple[float, float]:
        spent = [process.cpu_seconds() for process in self.processes]
        return sum(main for main, _ in spent), sum(children for _, children in spent)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(process.log_tail(lines) for process in self.processes)


def environ_with_demo_settings() -> None:
    """The demo settings (HUB_ENVIRONMENT=development) for this process and the hubs it starts."""
    os.environ.setdefault("HUB_ENVIRONMENT", "development")


# -- the event loop --------------------------------------------------------------------------

PROBE_TICK = 0.005


@dataclass(frozen=True, slots=True)
class Probed:
    """What a probe beside some work saw: its seconds, and how late each 5 ms sleep woke (s)."""

    seconds: float
    delays: list[float]

    @property
    def max_ms(self) -> float:
        """The longest the event loop was held while the work ran."""
        return max(self.delays, default=0.0) * 1000

    def figures(self) -> dict[str, float]:
        """Seconds, longest and 99th-percentile delay (ms), and how many delays exceeded 50 ms."""
        ordered = sorted(self.delays) or [0.0]
        return {
            "seconds": self.seconds,
            "max_ms": ordered[-1] * 1000,
            "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000,
            "over_50ms": float(sum(1 for d in ordered if d > 0.05)),
        }


async def probed(work: Callable[[], Awaitable[Any]]) -> tuple[Probed, Any]:
    """Run ``work`` with a probe beside it on the same event loop; what the probe saw, and the result.

    The probe sleeps ``PROBE_TICK`` at a time and notes how late it wakes: how long the
    work (or anything else on the loop) held it, which is how long a router or a gateway
    request sharing the loop would have waited.
    """
    delays: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(PROBE_TICK)
            delays.append(time.perf_counter() - started - PROBE_TICK)

    prober = asyncio.create_task(probe())
    started = time.perf_counter()
    try:
        result = await work()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        await prober
    return Probed(seconds, delays), result


async def write_records(kafka: KafkaSettings, records: Iterable[Any]) -> None:
    """Produce records the hub wrote (``topic``, ``key``, ``value``, ``headers``) as they are."""
    producer = AIOKafkaProducer(**client_options(kafka), linger_ms=5)
    await producer.start()
    try:
        for r in records:
            await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
        await producer.flush()
    finally:
        await producer.stop()


# -- a hub's topics, and what it writes ------------------------------------------------------


async def hub_with_topics(bootstrap: str, partitions: int = 6) -> tuple[HubSettings, Hub]:
    """A hub of its own (fresh topic prefix, group, audit store) with its topics created."""
    settings = isolated_settings(bootstrap, partitions=partitions)
    built = build_hub(settings)
    await ensure_topics(settings.kafka, built.layout, built.registry)
    return settings, built


def routed(
    settings: HubSettings,
    gp: str,
    records: Iterable[Encoded],
    topics: Collection[str],
) -> list[OutRecord]:
    """What the hub writes to ``topics`` for records of the GP ``gp``, routed in memory from fresh state."""
    topic = TopicLayout(settings.kafka.topic_prefix).inbound(gp)
    inbound = [
        InboundRecord(topic, 0, offset, key, value, tuple(headers))
        for offset, (key, headers, value) in enumerate(records)
    ]
    return [r for r in InMemoryPipeline(settings).feed_records(inbound) if r.topic in topics]


async def loaded(tail: Any) -> None:
    """Start a gateway tail (``start``, ``caught_up``) and wait until it has read its topic."""
    await tail.start()
    await tail.caught_up.wait()
