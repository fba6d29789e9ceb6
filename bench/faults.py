"""The fault suite's scenarios on real brokers: each injects one fault mid-stream and counts the damage.

Run: .venv/bin/python bench/faults.py SCENARIO [--subjects N] [--steps K] [--downtime S] ...
(``--help`` lists them; ``all`` runs every scenario). Prints a table and writes it as
markdown to ``--out`` (default ``.hub-run/faults.md``).

The workload of every scenario but the webhook one is the same: a GP practice sends one
referral per subject (to the wijkteam), then the wijkteam sends ``steps`` status changes
per subject, interleaved across subjects (to the GP, who consented to feedback). The
fault hits while the status changes flow. After it, each scenario counts per recipient:
events lost, events delivered more than once, subjects whose order broke, dead letters,
and disclosure records that differ from what was released; and the time to recover.

tests/integration/test_faults.py runs the same scenarios with small sizes and asserts
the figures; docs/reliability.md holds the figures of the long runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the test helpers live in tests/integration
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psycopg  # noqa: E402
import uvicorn  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.errors import UnknownTopicOrPartitionError  # noqa: E402
from aiokafka.partitioner import murmur2  # noqa: E402
from bench.harness import HubProcess, send_fast  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.routing import Route  # noqa: E402
from tests.integration.hubtest import HubUnderTest, isolated_settings  # noqa: E402
from tests.integration.test_webhook_delivery import (  # noqa: E402
    SECRET_ENV,
    Receiver,
    _Server,
    by_subject,
    delivering,
    produce,
    read_topic,
)
from tests.integration.test_webhook_delivery import Setup as WebhookSetup  # noqa: E402
from tests.integration.test_webhook_delivery import event as webhook_event  # noqa: E402

from hub.app import build_hub  # noqa: E402
from hub.audit.store import open_store  # noqa: E402
from hub.connectors.registry import Partner, WebhookDelivery  # noqa: E402
from hub.dev.localcluster import LocalCluster  # noqa: E402
from hub.dev.localkafka import LocalKafka  # noqa: E402
from hub.dev.partner_io import Received, receive  # noqa: E402
from hub.gateway import GatewayServer, GatewaySettings, build_gateway_app  # noqa: E402
from hub.gateway.testing import with_credentials  # noqa: E402
from hub.routing.ids import delivery_id  # noqa: E402
from hub.schemas import TYPES  # noqa: E402
from hub.settings import HubSettings, KafkaSettings, WebhookSettings  # noqa: E402
from hub.testing import demo_registry, valid_example  # noqa: E402
from hub.topics import TopicLayout  # noqa: E402

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
STATUS = "nl.sociaaldomein.referrals.status-changed.v1"
OUTCOMES = "nl.sociaaldomein.outcomes.reported.v1"
GP, SWT, PROVIDER = "gp-de-linde", "swt-zwolle", "provider-thuiszorg-zwolle"
GATEWAY_KEY = "fault-key-gp-de-linde"

# Ports of this suite's own brokers (never the shared dev broker on 19092/19093).
SINGLE_PORTS = (21092, 21093)
CLUSTER_BASE_PORT = 21192


# -- figures ------------------------------------------------------------------------------


@dataclass
class FaultResult:
    """What one fault run did to the events: the row of the table."""

    fault: str
    events: int
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    dead_lettered: int = 0
    dead_letter_codes: Counter[str] = field(default_factory=Counter)
    disclosure_mismatch: int = 0
    recovered: dict[str, float] = field(default_factory=dict)  # what: seconds
    notes: list[str] = field(default_factory=list)

    def row(self) -> list[str]:
        recover = ", ".join(f"{what} {s:.1f}" for what, s in self.recovered.items()) or "-"
        codes = ", ".join(f"{c} {n}" for c, n in sorted(self.dead_letter_codes.items()))
        return [
            self.fault,
            str(self.events),
            str(self.lost),
            str(self.duplicated),
            str(self.out_of_order),
            f"{self.dead_lettered}" + (f" ({codes})" if codes else ""),
            str(self.disclosure_mismatch),
            recover,
        ]


HEADER = [
    "fault",
    "events",
    "lost",
    "duplicated",
    "subjects out of order",
    "dead-lettered",
    "disclosure records != releases",
    "time to recover (s)",
]


def table(results: Sequence[FaultResult]) -> str:
    """The results as a markdown table."""
    rows = [HEADER, ["---"] * len(HEADER), *(r.row() for r in results)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


# -- the workload -------------------------------------------------------------------------


def _event_of(type_: str, **data: Any) -> dict[str, Any]:
    event = copy.deepcopy(valid_example(type_))
    event["id"] = str(uuid.uuid4())
    event["data"].update(data)
    event["subject"] = str(event["data"][TYPES[type_].subject_field])
    return event


def referral(referral_id: str) -> dict[str, Any]:
    """A GP referral whose client consents to status and content feedback."""
    consent = {"status_feedback": True, "content_feedback": True, "recorded_on": "2026-11-02"}
    return _event_of(REFERRAL, referral_id=referral_id, consent=consent)


def status_change(referral_id: str, step: int) -> dict[str, Any]:
    """The wijkteam's ``step``-th status change of a referral."""
    return _event_of(STATUS, referral_id=referral_id, note=f"step {step}")


def oversized_outcome(size: int) -> dict[str, Any]:
    """A schema-valid outcome report of about ``size`` bytes: thousands of indicators."""
    event = _event_of(OUTCOMES)
    indicators: dict[str, int] = {}
    event["data"]["results"][0]["indicators"] = indicators
    total, n = len(json.dumps(event)), 0
    while total < size:
        name = f"indicator_{n:07d}"
        indicators[name] = n
        total += len(json.dumps({name: n}))  # the braces stand in for the ", " between entries
        n += 1
    return event


@dataclass
class Workload:
    """Referrals (one per subject) and their status changes, interleaved across subjects."""

    tag: str
    subjects: list[str]
    steps: int
    referrals: list[dict[str, Any]] = field(init=False)
    updates: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.referrals = [referral(s) for s in self.subjects]
        self.updates = [status_change(s, step) for step in range(self.steps) for s in self.subjects]

    @classmethod
    def of(cls, subjects: int, steps: int) -> Workload:
        tag = uuid.uuid4().hex[:6]
        return cls(tag, [f"REF-{tag}-{n:05d}" for n in range(subjects)], steps)

    @property
    def events(self) -> int:
        return len(self.referrals) + len(self.updates)


# -- watching what recipients get ---------------------------------------------------------


class Watcher:
    """Reads delivery topics live in the background and notes when each record arrived."""

    def __init__(self, kafka: KafkaSettings, topics: list[str]) -> None:
        self._kafka = kafka
        self._topics = topics
        self.records: list[Received] = []
        self.arrived: list[float] = []
        self._ids: set[tuple[str, bytes]] = set()
        self._task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        # On a fresh cluster a node may not list new topics in its metadata yet: the
        # consumer then refuses to start; ask again for a while before giving up.
        deadline = time.monotonic() + 60
        while True:
            try:
                async for record in receive(self._kafka, self._topics, metadata_max_age_ms=2000):
                    self.records.append(record)
                    self.arrived.append(time.monotonic())
                    ce_id = dict(record.headers).get("ce_id", b"")
                    self._ids.add((record.topic, ce_id))
                return
            except UnknownTopicOrPartitionError:
                if time.monotonic() > deadline or self.records:
                    raise
                await asyncio.sleep(0.5)

    def __enter__(self) -> Watcher:
        self._task = asyncio.create_task(self._read())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def unique(self) -> int:
        """Distinct events arrived (by topic and ``ce_id``), counted as they come."""
        return len(self._ids)

    async def wait_for(self, count: int, within: float) -> bool:
        """Wait until ``count`` distinct events arrived; False when ``within`` seconds passed first."""
        deadline = time.monotonic() + within
        while self.unique() < count:
            if self._task is not None and self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    def first_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` until the first record that arrived after it."""
        later = [t for t in self.arrived if t >= moment]
        return min(later) - moment if later else None


async def wait_progress(watcher: Watcher, moment: float, within: float) -> float | None:
    """Seconds from ``moment`` until a delivery arrived after it (None: none ``within`` seconds)."""
    deadline = time.monotonic() + within
    while (found := watcher.first_after(moment)) is None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    return found


async def tally(
    hub: HubUnderTest,
    work: Workload,
    result: FaultResult,
    *,
    extra_referrals: Sequence[Mapping[str, Any]] = (),
    idle_seconds: float = 3.0,
) -> FaultResult:
    """Read every delivery, dead letter and disclosure record back and count the damage."""
    swt, gp = hub.deliveries_topic(SWT), hub.deliveries_topic(GP)
    layout = hub.layout
    records = await hub.settle([swt, gp, layout.deadletter, layout.disclosures], idle_seconds)
    on: dict[str, list[Received]] = defaultdict(list)
    for record in records:
        on[record.topic].append(record)

    expected = Counter(
        [(swt, delivery_id(e["source"], e["id"], SWT, None)) for e in work.referrals]
        + [(swt, delivery_id(e["source"], e["id"], SWT, None)) for e in extra_referrals]
        + [(gp, delivery_id(e["source"], e["id"], GP, None)) for e in work.updates]
    )
    got = Counter((r.topic, r.event()["id"]) for r in on[swt] + on[gp])
    result.lost = sum(1 for key in expected if key not in got)
    result.duplicated = sum(n - 1 for n in got.values() if n > 1)
    unexpected = sum(1 for key in got if key not in expected)
    if unexpected:
        result.notes.append(f"{unexpected} deliveries of events nobody sent")

    steps: dict[str, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for record in on[gp]:
        event = record.event()
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        steps[event["data"]["referral_id"]].append(int(event["data"]["note"].split()[-1]))
    result.out_of_order = sum(1 for got_steps in steps.values() if got_steps != sorted(got_steps))

    letters = [r.json() for r in on[layout.deadletter]]
    result.dead_lettered = len(letters)
    result.dead_letter_codes = Counter(str(letter["reason"]["code"]) for letter in letters)

    released = Counter(dict(r.headers)["hub-disclosure-id"].decode() for r in on[swt] + on[gp])
    disclosed = Counter(
        d["disclosure_id"]
        for d in (r.json() for r in on[layout.disclosures])
        if d is not None
        and "record_type" not in d
        and d.get("outcome") == "delivered"
        and d.get("recipient") in (SWT, GP)
    )
    # A record released twice is already counted as duplicated; here: which differ, and how often.
    result.disclosure_mismatch = len(set(released) ^ set(disclosed)) + sum(
        n - 1 for n in disclosed.values() if n > 1
    )
    return result


# -- running the hub ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def hub_running(settings: HubSettings, work_dir: Path) -> AsyncIterator[HubProcess]:
    """`hub run` for the duration of the block; its log in ``work_dir/hub.log``."""
    process = HubProcess(settings, work_dir / "hub.log")
    process.start()
    try:
        yield process
    finally:
        await process.stop()


async def prepared(settings: HubSettings) -> HubUnderTest:
    hub = HubUnderTest(build_hub(settings))
    await hub.create_topics()
    return hub


async def referrals_delivered(
    hub: HubUnderTest, watcher: Watcher, work: Workload, within: float, process: HubProcess
) -> None:
    """Phase one: send the referrals and wait until the wijkteam has every one.

    Fails at once, naming the exit code, when `hub run` exits meanwhile.
    """
    await send_fast(hub.kafka, hub.layout.inbound(GP), work.referrals)
    deadline = time.monotonic() + within
    while not await watcher.wait_for(len(work.referrals), 1.0):
        if (code := process.exited()) is not None:
            raise AssertionError(
                f"hub run exited with code {code}; its log ends:\n{process.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"only {watcher.unique()} of {len(work.referrals)} referrals arrived "
                f"before the fault; the hub's log ends:\n{process.log_tail()}"
            )


def _watch(hub: HubUnderTest) -> Watcher:
    return Watcher(hub.kafka, [hub.deliveries_topic(SWT), hub.deliveries_topic(GP)])


# -- a: an oversized event mid-stream -----------------------------------------------------


async def oversized(
    bootstrap: str, work_dir: Path, *, subjects: int, steps: int, sizes: Sequence[int]
) -> FaultResult:
    """A provider's oversized events amid the wijkteam's stream: the rest must keep flowing."""
    settings = isolated_settings(bootstrap, audit_dir=work_dir)
    hub = await prepared(settings)
    work = Workload.of(subjects, steps)
    big = [oversized_outcome(size) for size in sizes]
    result = FaultResult(
        f"oversized events ({', '.join(f'{s // 1000} KB' for s in sizes)}) mid-stream",
        work.events + len(big),
    )
    async with hub_running(settings, work_dir) as process:
        with _watch(hub) as watcher:
            await referrals_delivered(hub, watcher, work, 120, process)
            half = len(work.updates) // 2
            await send_fast(hub.kafka, hub.layout.inbound(SWT), work.updates[:half])
            await send_fast(hub.kafka, hub.layout.inbound(PROVIDER), big)
            sent_big = time.monotonic()  # the oversized events are on the broker now
            await send_fast(hub.kafka, hub.layout.inbound(SWT), work.updates[half:])
            # Progress after the oversized events were on the broker is what "keeps flowing" means.
            await watcher.wait_for(work.events, 60 + work.events / 50)
            recovered = await wait_progress(watcher, sent_big, 1)
            if recovered is not None:
                result.recovered["next delivery"] = recovered
            await watcher.stop()
        await tally(hub, work, result)
    return result


# -- b: the broker stopped gracefully and killed ------------------------------------------


@dataclass
class Gateway:
    """The gateway under uvicorn in this event loop, on a free 127.0.0.1 port, plain HTTP."""

    url: str
    stop: asyncio.Event
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def gateway_running(kafka: KafkaSettings) -> AsyncIterator[Gateway]:
    registry = with_credentials(demo_registry(), api_keys={GP: [GATEWAY_KEY]})
    settings = GatewaySettings(rate_limit="1000000/minute", kafka_timeout_seconds=5)
    server = GatewayServer(build_gateway_app(settings, kafka, registry), settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop, sockets=[sock]))
    gateway = Gateway(f"http://127.0.0.1:{sock.getsockname()[1]}", stop, task)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{gateway.url}/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline or task.done():
                    raise AssertionError("the gateway did not become ready")
                await asyncio.sleep(0.2)
        yield gateway
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        sock.close()


def partition_of(subject: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for this key (murmur2)."""
    return (murmur2(subject.encode()) & 0x7FFFFFFF) % partitions


class Poster:
    """A GP posting referrals to the gateway without pause, on every partition in turn.

    A refused or unanswered event is posted again, same id, until it gets 202 (as the
    contract asks of a partner); the hub's duplicate detection makes that safe.
    """

    def __init__(self, gateway: Gateway, partitions: int, tag: str) -> None:
        self._gateway = gateway
        self._partitions = partitions
        self._tag = tag
        self._counter = 0
        self.accepted: list[dict[str, Any]] = []
        self.log: list[tuple[float, int, int]] = []  # (when, partition, status; 0: no answer)
        self._pending: dict[int, dict[str, Any]] = {}

    def _fresh(self, partition: int) -> dict[str, Any]:
        while True:
            self._counter += 1
            subject = f"REF-{self._tag}-gw-{self._counter:06d}"
            if partition_of(subject, self._partitions) == partition:
                return referral(subject)

    async def _post(self, client: httpx.AsyncClient, partition: int) -> bool:
        event = self._pending.get(partition) or self._fresh(partition)
        self._pending[partition] = event
        try:
            status = (await client.post("/events", json=event, headers=self._headers)).status_code
        except httpx.HTTPError:
            status = 0
        self.log.append((time.monotonic(), partition, status))
        if status == 202:
            self.accepted.append(self._pending.pop(partition))
        return status == 202

    _headers: Mapping[str, str] = {
        "Authorization": f"Bearer {GATEWAY_KEY}",
        "Content-Type": "application/cloudevents+json",
    }

    async def run(self, stop: asyncio.Event, *, finish_within: float = 60) -> None:
        """Post until ``stop`` is set, then post what is still refused until accepted (bounded)."""
        async with httpx.AsyncClient(base_url=self._gateway.url, timeout=10) as client:
            while not stop.is_set():
                for partition in range(self._partitions):
                    await self._post(client, partition)
                await asyncio.sleep(0.05)
            deadline = time.monotonic() + finish_within
            while self._pending and time.monotonic() < deadline:
                for partition in list(self._pending):
                    await self._post(client, partition)
                await asyncio.sleep(0.2)

    @property
    def unfinished(self) -> int:
        return len(self._pending)

    def recovered_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` until every partition had answered 202 after it."""
        firsts: dict[int, float] = {}
        for when, partition, status in self.log:
            if when >= moment and status == 202:
                firsts.setdefault(partition, when)
        if len(firsts) < self._partitions:
            return None
        return max(firsts.values()) - moment

    def statuses_after(self, moment: float) -> Counter[int]:
        return Counter(status for when, _, status in self.log if when >= moment)


async def broker_restarts(
    kafka: LocalKafka,
    work_dir: Path,
    *,
    subjects: int,
    steps: int,
    downtime: float,
    signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGKILL),
    gateway_within: float = 60,
) -> list[FaultResult]:
    """The single broker stopped (each signal in turn) mid-stream and started again.

    A GP posts to the gateway all along. One row per signal; the events and the final
    counts are shared by the rows (one stream), the recovery times are each restart's
    own: the router (first delivery after the broker is back) and the gateway (every
    partition answering 202 again).
    """
    bootstrap = await asyncio.to_thread(kafka.ensure_running, 120)
    settings = isolated_settings(bootstrap, audit_dir=work_dir, max_batch=20)
    hub = await prepared(settings)
    work = Workload.of(subjects, steps)
    rows: list[FaultResult] = []
    async with (
        hub_running(settings, work_dir) as process,
        gateway_running(settings.kafka) as gateway,
    ):
        with _watch(hub) as watcher:
            await referrals_delivered(hub, watcher, work, 120, process)
            poster = Poster(gateway, settings.kafka.partitions, work.tag)
            stop_posting = asyncio.Event()
            posting = asyncio.create_task(poster.run(stop_posting, finish_within=gateway_within))
            try:
                await _broker_faults(
                    kafka, hub, watcher, work, poster, signals, downtime, gateway_within, rows
                )
            finally:
                stop_posting.set()
                if not posting.done():
                    try:
                        await asyncio.wait_for(posting, gateway_within + 30)
                    except TimeoutError:
                        posting.cancel()
            if poster.unfinished:
                rows[-1].notes.append(f"gateway: {poster.unfinished} events never accepted")
            total = work.events + len(poster.accepted)
            await watcher.wait_for(total, 120)
            await watcher.stop()
        final = await tally(hub, work, FaultResult("", total), extra_referrals=poster.accepted)
    for row in rows:
        row.events = final.events
        row.lost, row.duplicated, row.out_of_order = (
            final.lost,
            final.duplicated,
            final.out_of_order,
        )
        row.dead_lettered, row.dead_letter_codes = final.dead_lettered, final.dead_letter_codes
        row.disclosure_mismatch = final.disclosure_mismatch
        row.notes += final.notes
    return rows


async def _broker_faults(
    kafka: LocalKafka,
    hub: HubUnderTest,
    watcher: Watcher,
    work: Workload,
    poster: Poster,
    signals: Sequence[signal.Signals],
    downtime: float,
    gateway_within: float,
    rows: list[FaultResult],
) -> None:
    """Stop or kill the broker once per signal while events flow; one row per fault."""
    await asyncio.sleep(1)
    if poster.recovered_after(0) is None:
        raise AssertionError("the gateway refused events before any fault")
    await send_fast(hub.kafka, hub.layout.inbound(SWT), work.updates)
    for number, sig in enumerate(signals, start=1):
        share = len(work.referrals) + len(work.updates) * number // (len(signals) + 1)
        await watcher.wait_for(share, 120)
        name = "stopped (SIGTERM)" if sig == signal.SIGTERM else "killed (SIGKILL)"
        row = FaultResult(f"single broker {name}, down {downtime:.0f} s", 0)
        status = kafka.status()
        assert status.pid is not None
        os.kill(status.pid, sig)
        await asyncio.to_thread(kafka.stop)  # waits for the exit; SIGKILLs after 30 s
        await asyncio.sleep(downtime)
        await asyncio.to_thread(kafka.ensure_running, 120)
        back = time.monotonic()
        router = await wait_progress(watcher, back, 120)
        deadline = back + gateway_within
        while (took := poster.recovered_after(back)) is None and (  # noqa: ASYNC110 -- polls a log another task appends to
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.2)
        if router is not None:
            row.recovered["router"] = router
        if took is not None:
            row.recovered["gateway, all partitions"] = took
        if took is None:
            row.notes.append(
                f"gateway: not every partition answered 202 within {gateway_within:.0f} s "
                f"after the broker was back ({dict(poster.statuses_after(back))})"
            )
        if router is None:
            row.notes.append("router: no delivery within 120 s after the broker was back")
        rows.append(row)


# -- c: the hub killed every few seconds --------------------------------------------------


async def send_paced(
    kafka: KafkaSettings, topic: str, events: Sequence[Mapping[str, Any]], rate: float
) -> None:
    """Produce events at about ``rate`` per second, as a partner's steady stream."""
    chunk = max(1, int(rate / 4))
    started = time.monotonic()
    for begin in range(0, len(events), chunk):
        await send_fast(kafka, topic, events[begin : begin + chunk])
        ahead = started + (begin + chunk) / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)


async def hub_kills(
    bootstrap: str,
    work_dir: Path,
    *,
    subjects: int,
    steps: int,
    interval: float,
    rate: float,
    max_batch: int = 50,
    bound: float = 600,
) -> FaultResult:
    """`hub run` killed with SIGKILL while a partner sends ``rate`` events/s.

    Each incarnation is killed ``interval`` seconds after it delivered its first event
    (so the run always progresses, however slow a restart). The kills stop when the partner has sent everything; the hub then finishes. The
    recovery time is, per kill, from the kill to the next delivery (restart included);
    the row gives the median and the longest.
    """
    settings = isolated_settings(bootstrap, audit_dir=work_dir, max_batch=max_batch)
    hub = await prepared(settings)
    work = Workload.of(subjects, steps)
    result = FaultResult(f"hub killed (SIGKILL) every {interval:.0f} s", work.events)
    kills: list[float] = []
    async with hub_running(settings, work_dir) as process:
        with _watch(hub) as watcher:
            await referrals_delivered(hub, watcher, work, 120, process)
            sending = asyncio.create_task(
                send_paced(hub.kafka, hub.layout.inbound(SWT), work.updates, rate)
            )
            deadline = time.monotonic() + bound
            while not sending.done() and time.monotonic() < deadline:
                # Each incarnation works ``interval`` seconds from its first delivery, so a
                # restart slower than the interval cannot starve the run.
                since = kills[-1] if kills else 0.0
                await wait_progress(watcher, since, max(1.0, deadline - time.monotonic()))
                await asyncio.wait({sending}, timeout=interval)
                if sending.done():
                    break
                process.kill()
                kills.append(time.monotonic())
                process.start()
            await sending
            await watcher.wait_for(work.events, max(60.0, deadline - time.monotonic()))
            await watcher.stop()
        await tally(hub, work, result)
    waits = sorted(w for w in (watcher.first_after(k) for k in kills) if w is not None)
    if waits:
        result.recovered["median"] = statistics.median(waits)
        result.recovered["longest"] = waits[-1]
    if len(waits) < len(kills):
        result.notes.append(f"{len(kills) - len(waits)} kills without a delivery after them")
    result.notes.append(f"{len(kills)} kills")
    return result


# -- d: a three-broker cluster loses one broker -------------------------------------------


async def cluster_loses_broker(
    cluster: LocalCluster,
    work_dir: Path,
    *,
    subjects: int,
    steps: int,
    downtime: float,
    node_id: int = 2,
    bootstrap_first_only: bool = False,
) -> FaultResult:
    """One of three brokers killed mid-stream and started again; replication 3, min ISR 2.

    The hub is given every node as bootstrap server, as in production; with
    ``bootstrap_first_only`` only node 1 (the clients learn the others from its metadata).
    """
    bootstrap = await asyncio.to_thread(cluster.start, 180)
    if bootstrap_first_only:
        bootstrap = cluster.nodes[0].bootstrap_servers
    settings = isolated_settings(bootstrap, audit_dir=work_dir, max_batch=20, replication_factor=3)
    hub = await prepared(settings)
    work = Workload.of(subjects, steps)
    result = FaultResult(f"1 of 3 brokers killed (SIGKILL) for {downtime:.0f} s", work.events)
    async with hub_running(settings, work_dir) as process:
        with _watch(hub) as watcher:
            await referrals_delivered(hub, watcher, work, 180, process)
            await send_fast(hub.kafka, hub.layout.inbound(SWT), work.updates)
            await watcher.wait_for(len(work.referrals) + len(work.updates) // 3, 120)
            killed = time.monotonic()
            await asyncio.to_thread(cluster.kill_node, node_id)
            during = await wait_progress(watcher, killed, downtime)
            await asyncio.sleep(max(0.0, downtime - (time.monotonic() - killed)))
            await asyncio.to_thread(cluster.start_node, node_id, 120)
            if during is not None:
                result.recovered["next delivery"] = during
            else:
                back = time.monotonic()
                after = await wait_progress(watcher, back, 120)
                result.notes.append("no delivery while the broker was down")
                if after is not None:
                    result.recovered["next delivery"] = back - killed + after
            await watcher.wait_for(work.events, 180)
            await watcher.stop()
        await tally(hub, work, result)
    return result


# -- e: a webhook partner down ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def receiver_on(receiver: Receiver, port: int) -> AsyncIterator[None]:
    """Serve a webhook receiver on a given 127.0.0.1 port (so it can come back on the same URL)."""
    app = Starlette(routes=[Route("/hooks", receiver.endpoint, methods=["POST"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        lifespan="off", timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 -- uvicorn offers no event for it
                await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task


async def webhook_setup(bootstrap: str) -> WebhookSetup:
    """A webhook partner with its deliveries, parked and disclosures topics under a new prefix."""
    prefix = f"fwh{uuid.uuid4().hex[:10]}"
    port = _free_port()
    partner = Partner(
        id=GP,
        role="gp",
        source="urn:nld:agb:01234567",
        agb="01234567",
        delivery=WebhookDelivery(url=f"http://127.0.0.1:{port}/hooks", secret_env=SECRET_ENV),
    )
    made = WebhookSetup(
        KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix),
        TopicLayout(prefix),
        partner,
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(made.deliveries, 3, 1),
                NewTopic(made.parked, 3, 1),
                NewTopic(made.layout.disclosures, 1, 1),
            ]
        )
    finally:
        await admin.close()
    return made


async def webhook_down(
    bootstrap: str,
    *,
    subjects: int,
    steps: int,
    downtime: float,
    webhooks: WebhookSettings | None = None,
    bound: float = 900,
) -> FaultResult:
    """A webhook partner unreachable (connection refused) for ``downtime`` seconds, then back."""
    setup = await webhook_setup(bootstrap)
    port = int(setup.partner.delivery.url.split(":")[2].split("/")[0])  # type: ignore[union-attr]
    sent = [webhook_event(f"r-{n}", seq) for seq in range(steps) for n in range(subjects)]
    result = FaultResult(f"webhook partner down for {downtime:.0f} s", len(sent))
    receiver = Receiver()
    await produce(setup, sent)
    async with delivering(setup, webhooks or WebhookSettings()):
        await asyncio.sleep(downtime)
        async with receiver_on(receiver, port):
            back = time.monotonic()
            deadline = back + bound
            first: float | None = None
            while len(receiver.delivered) < len(sent) and time.monotonic() < deadline:
                if first is None and receiver.delivered:
                    first = time.monotonic() - back
                await asyncio.sleep(0.1)
            if first is None and receiver.delivered:
                first = time.monotonic() - back
    parked = await read_topic(setup, setup.parked)
    ids = Counter(e.id for e in sent)
    got = Counter(receiver.delivered_ids())
    result.lost = sum(1 for key in ids if key not in got)
    result.duplicated = receiver.duplicates + sum(n - 1 for n in got.values() if n > 1)
    order = by_subject(receiver.delivered)
    result.out_of_order = sum(1 for seqs in order.values() if seqs != sorted(seqs))
    result.dead_lettered = len(parked)
    if parked:
        result.dead_letter_codes = Counter("PARKED" for _ in parked)
    if first is not None:
        result.recovered["first delivery"] = first
    if receiver.unverified:
        result.notes.append(f"{receiver.unverified} deliveries failed signature verification")
    return result


# -- f: the audit store's PostgreSQL down -------------------------------------------------


class LocalPostgres:
    """A throw-away PostgreSQL cluster (scripts/local-postgres) that can be stopped and started."""

    SCRIPT = REPO / "scripts" / "local-postgres"
    PGBIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self) -> None:
        # Not under a pytest tmp dir: as root the server runs as another user, who must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="hub-pg-faults-"))
        self.port = _free_port()
        self.url = ""

    def start(self) -> str:
        started = subprocess.run(
            [str(self.SCRIPT), "start", str(self.directory), str(self.port)],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(f"scripts/local-postgres start failed:\n{started.stderr}")
        self.url = started.stdout.strip().splitlines()[-1]
        return self.url

    def _pg_ctl(self, *args: str) -> None:
        argv = [str(self.PGBIN / "pg_ctl"), "-D", str(self.directory / "data"), *args]
        if os.geteuid() == 0:  # the script runs the server as "postgres" (or "hub-pg")
            user = "postgres" if _user_exists("postgres") else "hub-pg"
            argv = ["runuser", "-u", user, "--", *argv]
        subprocess.run(argv, capture_output=True, timeout=120, check=True)

    def pause(self) -> None:
        """Stop the server at once (connections are cut), keeping its data."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """Start the server again on the same port and data."""
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._pg_ctl(
            "-l", str(self.directory / "server.log"), "-w", "-t", "60", "-o", options, "start"
        )

    def remove(self) -> None:
        subprocess.run(
            [str(self.SCRIPT), "stop", str(self.directory)], timeout=120, check=False,
            capture_output=True,
        )  # fmt: skip


def _user_exists(name: str) -> bool:
    return subprocess.run(["id", name], capture_output=True, check=False).returncode == 0


async def audit_store_down(
    bootstrap: str,
    postgres: LocalPostgres,
    work_dir: Path,
    *,
    subjects: int,
    steps: int,
    downtime: float,
    bound: float = 300,
) -> FaultResult:
    """The audit store's PostgreSQL stopped mid-stream for ``downtime`` seconds: the store must end complete."""
    server = postgres.url or postgres.start()
    database = f"audit_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')  # a generated name, not input
    settings = isolated_settings(bootstrap, audit_dir=work_dir)
    settings.audit.store_url = server.rsplit("/", 1)[0] + "/" + database
    hub = await prepared(settings)
    work = Workload.of(subjects, steps)
    result = FaultResult(f"audit store (PostgreSQL) down for {downtime:.0f} s", work.events)
    async with hub_running(settings, work_dir) as process:
        with _watch(hub) as watcher:
            await referrals_delivered(hub, watcher, work, 120, process)
            # Paced over twice the downtime, so disclosure records are written before,
            # during and after the outage.
            sending = asyncio.create_task(
                send_paced(
                    hub.kafka,
                    hub.layout.inbound(SWT),
                    work.updates,
                    len(work.updates) / downtime / 2,
                )
            )
            await watcher.wait_for(len(work.referrals) + len(work.updates) // 8, 120)
            await asyncio.to_thread(postgres.pause)
            await asyncio.sleep(downtime)
            await asyncio.to_thread(postgres.resume)
            back = time.monotonic()
            await sending
            await watcher.wait_for(work.events, 120)
            await watcher.stop()
        await tally(hub, work, result)
        disclosed = [
            d["disclosure_id"]
            for d in (r.json() for r in await hub.settle([hub.layout.disclosures], 1.0))
            if d is not None and "record_type" not in d
        ]
        missing = len(disclosed)
        with open_store(settings.audit.store_url) as store:
            while time.monotonic() - back < bound:
                missing = sum(1 for d in disclosed if store.get(d) is None)
                if missing == 0:
                    result.recovered["store complete"] = time.monotonic() - back
                    break
                await asyncio.sleep(0.5)
    if missing:
        result.notes.append(
            f"{missing} of {len(disclosed)} disclosure records missing from the store "
            f"{bound:.0f} s after PostgreSQL was back"
        )
    return result


# -- command line -------------------------------------------------------------------------

SCENARIOS = ["oversized", "broker", "hub-kills", "cluster", "webhook", "postgres", "all"]


async def _main(args: argparse.Namespace) -> list[FaultResult]:
    work_dir = Path(tempfile.mkdtemp(prefix="hub-faults-"))
    chosen = SCENARIOS[:-1] if args.scenario == "all" else [args.scenario]
    results: list[FaultResult] = []
    shared = os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS") or LocalKafka().ensure_running()
    for scenario in chosen:
        started = time.monotonic()
        if scenario == "oversized":
            results.append(
                await oversized(
                    shared,
                    work_dir,
                    subjects=args.subjects,
                    steps=args.steps,
                    sizes=(300_000, 900_000),
                )
            )
        elif scenario == "broker":
            kafka = LocalKafka("fault-bench", *SINGLE_PORTS, run_dir=work_dir / "kafka")
            try:
                results += await broker_restarts(
                    kafka, work_dir, subjects=args.subjects, steps=args.steps,
                    downtime=args.downtime,
                )  # fmt: skip
            finally:
                kafka.reset()
        elif scenario == "hub-kills":
            results.append(
                await hub_kills(
                    shared,
                    work_dir,
                    subjects=args.subjects,
                    steps=args.steps,
                    interval=args.interval,
                    rate=args.rate,
                    bound=args.timeout,
                )
            )
        elif scenario == "cluster":
            cluster = LocalCluster("fault-bench", CLUSTER_BASE_PORT, work_dir / "cluster")
            try:
                results.append(
                    await cluster_loses_broker(
                        cluster,
                        work_dir,
                        subjects=args.subjects,
                        steps=args.steps,
                        downtime=args.downtime,
                        bootstrap_first_only=args.cluster_bootstrap == "first",
                    )
                )
            finally:
                cluster.reset()
        elif scenario == "webhook":
            results.append(
                await webhook_down(
                    shared, subjects=args.subjects, steps=args.steps, downtime=args.downtime
                )
            )
        elif scenario == "postgres":
            postgres = LocalPostgres()
            try:
                results.append(
                    await audit_store_down(
                        shared,
                        postgres,
                        work_dir,
                        subjects=args.subjects,
                        steps=args.steps,
                        downtime=args.downtime,
                    )
                )
            finally:
                postgres.remove()
        print(f"{scenario}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--subjects", type=int, default=1000, help="referrals (default 1000)")
    parser.add_argument(
        "--steps", type=int, default=99, help="status changes per referral (default 99)"
    )
    parser.add_argument(
        "--downtime", type=float, default=60, help="seconds a broker stays down (default 60)"
    )
    parser.add_argument(
        "--interval", type=float, default=5, help="seconds between hub kills (default 5)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=500,
        help="events/s a partner sends in hub-kills (default 500)",
    )
    parser.add_argument(
        "--cluster-bootstrap",
        choices=["all", "first"],
        default="all",
        help="bootstrap servers the hub gets in the cluster scenario (default: all three)",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="bound of a kill run (s)")
    parser.add_argument("--out", type=Path, default=REPO / ".hub-run" / "faults.md")
    args = parser.parse_args(argv)
    results = asyncio.run(_main(args))
    text = table(results)
    print(text)
    for result in results:
        for note in result.notes:
            print(f"- {result.fault}: {note}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    # The scenarios run the demo registry and pseudonym secret on purpose; `hub run`
    # refuses those outside development (as the test suite's settings also say).
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    sys.exit(main())


__all__ = [
    "FaultResult",
    "Workload",
    "audit_store_down",
    "broker_restarts",
    "cluster_loses_broker",
    "hub_kills",
    "oversized",
    "table",
    "webhook_down",
]
