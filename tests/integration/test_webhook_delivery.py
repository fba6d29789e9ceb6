"""Webhook delivery against a real broker and a real HTTP server (uvicorn + Starlette on 127.0.0.1).

Each test gets its own topic prefix (deliveries, parked and disclosures topics), its own
consumer groups and its own receiver; retry waits are kept tiny through WebhookSettings.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.audit.record import DeliveryAttempt
from hub.connectors.registry import Partner, WebhookDelivery
from hub.delivery.channel import (
    BREAKER_OPENED,
    DISCLOSURE_ID_HEADER,
    PARK_REASON_HEADER,
    REPLAY_PARKED_HEADER,
    Channel,
)
from hub.delivery.parking import ReplayReport, replay
from hub.delivery.receiver import Deduplicator, WebhookVerificationError, verify
from hub.delivery.sequence import SEQUENCE_HEADER, position_of
from hub.delivery.webhook import PARTNER_FAILURES, WebhookDeliverer
from hub.envelope import CloudEvent, to_kafka
from hub.settings import KafkaSettings, RetrySettings, WebhookSettings
from hub.topics import TopicLayout

SECRET_ENV = "HUB_TEST_WEBHOOK_SECRET"
SECRET = "whsec_" + base64.b64encode(b"integration-test-secret-32bytes!").decode()
EVENT_TYPE = "nl.sociaaldomein.referrals.status-changed.v1"
FAST = WebhookSettings(
    timeout_seconds=0.25,
    connect_timeout_seconds=0.25,
    max_attempts=50,
    max_elapsed_seconds=60,
    initial_backoff_seconds=0.01,
    max_backoff_seconds=0.1,
    jitter_seconds=0.01,
    breaker_failure_threshold=3,
    breaker_cooldown_seconds=0.2,
)


# --- a real HTTP receiver ---------------------------------------------------------------


@dataclass
class Receiver:
    """A partner's endpoint: verifies each delivery, dedupes by webhook-id, answers per a script.

    ``script(n, event)`` returns what the n-th request (1-based) gets: an HTTP status,
    or "hang" to answer only after the hub's client has given up.
    """

    script: Callable[[int, dict[str, Any]], int | str] = lambda n, event: 204
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request, verified
    delivered: list[dict[str, Any]] = field(default_factory=list)  # first 2xx per webhook-id
    duplicates: int = 0
    unverified: int = 0
    seen: Deduplicator = field(default_factory=Deduplicator)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        try:
            event = verify(request.headers, body, SECRET)
        except WebhookVerificationError as error:
            self.unverified += 1
            return Response(error.code, status_code=401)
        self.requests.append(
            {"headers": dict(request.headers), "event": event, "query": request.url.query}
        )
        answer = self.script(len(self.requests), event)
        if answer == "hang":
            await asyncio.sleep(1.0)  # well past the hub's 0.25 s timeout
            return Response(status_code=503)
        assert isinstance(answer, int)
        if 200 <= answer < 300:
            webhook_id = request.headers["webhook-id"]
            if webhook_id in self.seen:
                self.duplicates += 1
            else:
                self.delivered.append(event)
                self.seen.add(webhook_id)
        return Response(status_code=answer)

    def delivered_ids(self) -> list[str]:
        return [event["id"] for event in self.delivered]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # the test runner owns the signals
        yield


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    """Serve the receiver on a free 127.0.0.1 port in this event loop; yield its URL."""
    app = Starlette(routes=[Route("/hooks", receiver.endpoint, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 -- uvicorn offers no event for it
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}/hooks?channel=test"
    finally:
        server.should_exit = True
        await task
        sock.close()


# --- Kafka plumbing ---------------------------------------------------------------------


@dataclass
class Setup:
    kafka: KafkaSettings
    layout: TopicLayout
    partner: Partner

    @property
    def deliveries(self) -> str:
        return self.layout.deliveries(self.partner)

    @property
    def parked(self) -> str:
        return self.layout.parked(self.partner.id)


class MakePartner(Protocol):
    """Makes a webhook partner with its topics: a new prefix, or another partner on ``prefix``."""

    def __call__(
        self, url: str, *, partner_id: str = ..., prefix: str | None = ...
    ) -> Awaitable[Setup]: ...


@pytest.fixture
async def webhook_partner(kafka_bootstrap: str) -> AsyncIterator[MakePartner]:
    """Make a partner with the given webhook URL and its three topics under a unique prefix."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=15000)
    await admin.start()
    created: list[str] = []

    async def make(
        url: str, *, partner_id: str = "gp-de-linde", prefix: str | None = None
    ) -> Setup:
        shared = prefix is not None
        prefix = prefix or f"twh{uuid.uuid4().hex[:10]}"
        partner = Partner(
            id=partner_id,
            role="gp",
            source="urn:nld:agb:01234567",
            agb="01234567",
            delivery=WebhookDelivery(url=url, secret_env=SECRET_ENV),
        )
        made = Setup(
            KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=prefix),
            TopicLayout(prefix),
            partner,
        )
        topics = [NewTopic(made.deliveries, 3, 1), NewTopic(made.parked, 3, 1)]
        if not shared:  # the disclosure log is the deployment's, made with its first partner
            topics.append(NewTopic(made.layout.disclosures, 1, 1))
        await admin.create_topics(topics)
        created.extend(t.name for t in topics)
        async with asyncio.timeout(15):
            for topic in topics:
                while True:
                    (described,) = await admin.describe_topics([topic.name])
                    leaders = [p["leader"] for p in described["partitions"]]
                    if (
                        described["error_code"] == 0
                        and len(leaders) == topic.num_partitions
                        and min(leaders) >= 0
                    ):
                        break
                    await asyncio.sleep(0.05)
        return made

    try:
        yield make
    finally:
        try:
            if created:
                await admin.delete_topics(created)
        finally:
            await admin.close()


def event(subject: str, seq: int) -> CloudEvent:
    return CloudEvent(
        id=f"{subject}-{seq}-{uuid.uuid4().hex[:6]}",
        source="urn:nld:oin:00000001234567890000:systeem:hub",
        type=EVENT_TYPE,
        time="2025-03-03T09:15:00+00:00",
        subject=subject,
        data={"referral_id": subject, "seq": seq},
    )


async def produce(setup: Setup, events: Iterable[CloudEvent]) -> None:
    """Write events as the router does: binary mode, with a disclosure id, in a transaction."""
    producer = AIOKafkaProducer(
        bootstrap_servers=setup.kafka.bootstrap_servers,
        transactional_id=f"test-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
    )
    await producer.start()
    try:
        async with producer.transaction():
            for item in events:
                key, headers, value = to_kafka(item)
                headers.append((DISCLOSURE_ID_HEADER, f"disc-{item.id}".encode()))
                await producer.send(setup.deliveries, key=key, value=value, headers=headers)
    finally:
        await producer.stop()


async def read_topic(
    setup: Setup,
    topic: str,
    until: Callable[[list[Any]], bool] | None = None,
    timeout: float = 30.0,
) -> list[Any]:
    """Read committed records of a topic from the start until ``until(records)``, or to its end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=setup.kafka.bootstrap_servers,
        group_id=None,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        count = 1 if topic == setup.layout.disclosures else 3
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)

        async def done() -> bool:
            if until is not None:
                return until(records)
            return all([await consumer.position(tp) >= end for tp, end in ends.items()])

        async with asyncio.timeout(timeout):
            while not await done():
                batch = await consumer.getmany(timeout_ms=200)
                for found in batch.values():
                    records.extend(found)
    finally:
        await consumer.stop()
    return records


async def attempts(setup: Setup, count: int) -> list[dict[str, Any]]:
    """The first ``count`` delivery-attempt records on the disclosures topic."""
    records = await read_topic(setup, setup.layout.disclosures, lambda r: len(r) >= count)
    return [json.loads(r.value) for r in records]


@contextlib.asynccontextmanager
async def delivering(
    setup: Setup, settings: WebhookSettings = FAST
) -> AsyncIterator[WebhookDeliverer]:
    """Run a WebhookDeliverer for the setup's partner; stop it afterwards."""
    deliverer = WebhookDeliverer(
        [setup.partner],
        kafka=setup.kafka,
        webhooks=settings,
        layout=setup.layout,
        retry=RetrySettings(initial_seconds=0.1, max_seconds=1.0),
        environ={SECRET_ENV: SECRET},
    )
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run(stop))
    try:
        async with asyncio.timeout(30):
            ready = asyncio.create_task(deliverer.ready.wait())
            await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if task.done():
                task.result()
        yield deliverer
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def replay_parked(setup: Setup) -> ReplayReport:
    return await replay(
        setup.partner,
        kafka=setup.kafka,
        webhooks=FAST,
        layout=setup.layout,
        environ={SECRET_ENV: SECRET},
    )


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 -- polls state that other tasks change
            await asyncio.sleep(0.02)


def breaker_openings(setup: Setup) -> float:
    return BREAKER_OPENED.labels(partner=setup.partner.id)._value.get()  # type: ignore[no-any-return]


def by_subject(events: Iterable[dict[str, Any]]) -> dict[str, list[int]]:
    order: dict[str, list[int]] = {}
    for item in events:
        order.setdefault(item["subject"], []).append(item["data"]["seq"])
    return order


# --- the behaviours ---------------------------------------------------------------------


async def test_events_arrive_signed_in_structured_mode(webhook_partner: MakePartner) -> None:
    """Every event arrives once, as application/cloudevents+json, verifiable with the receiver helper."""
    receiver = Receiver()
    async with serving(receiver) as url:
        made = await webhook_partner(url)
        sent = [event(subject, seq) for seq in range(3) for subject in ("r-1", "r-2")]
        await produce(made, sent)
        async with delivering(made):
            await wait_until(lambda: len(receiver.delivered) == len(sent))

    assert receiver.unverified == 0
    assert sorted(receiver.delivered_ids()) == sorted(e.id for e in sent)
    assert {e.id: e.to_structured() for e in sent} == {
        d["id"]: {k: v for k, v in d.items() if k != "sequence"} for d in receiver.delivered
    }
    # Each carries its place in the partner's stream; per subject it grows with the order.
    positions = [position_of(d["sequence"]) for d in receiver.delivered]
    assert len(set(positions)) == len(sent)
    for subject in ("r-1", "r-2"):
        mine = [d["sequence"] for d in receiver.delivered if d["subject"] == subject]
        assert mine == sorted(mine)
        assert len({position_of(s)[0] for s in mine}) == 1
    for request in receiver.requests:
        headers = request["headers"]
        assert headers["content-type"] == "application/cloudevents+json; charset=utf-8"
        assert headers["webhook-id"] == request["event"]["id"]
        assert request["query"] == "channel=test"  # the configured URL is used as given
    assert by_subject(receiver.delivered) == {"r-1": [0, 1, 2], "r-2": [0, 1, 2]}


async def test_endpoint_down_then_hanging_then_back_gets_everything_in_order_once(
    webhook_partner: MakePartner,
) -> None:
    """After 503s and timeouts the receiver holds every event exactly once by webhook-id, in order per subject."""
    down, hanging = 8, 3

    def script(n: int, _: dict[str, Any]) -> int | str:
        if n <= down:
            return 503
        if n <= down + hanging:
            return "hang"
        return 200

    receiver = Receiver(script=script)
    async with serving(receiver) as url:
        made = await webhook_partner(url)
        sent = [event(f"r-{s}", seq) for seq in range(4) for s in range(4)]
        await produce(made, sent)
        opened_before = breaker_openings(made)
        async with delivering(made) as deliverer:
            await wait_until(lambda: len(receiver.delivered) == len(sent), timeout=60)
            breaker_state = deliverer.breaker(made.partner.id).state
        opened = breaker_openings(made) - opened_before
        parked = await read_topic(made, made.parked)

    assert set(receiver.delivered_ids()) == {e.id for e in sent}
    assert len(receiver.delivered_ids()) == len(sent)
    assert by_subject(receiver.delivered) == {f"r-{s}": [0, 1, 2, 3] for s in range(4)}
    assert len(receiver.requests) >= len(sent) + down + hanging
    assert parked == []
    assert breaker_state == "closed"
    assert opened >= 1
    assert receiver.unverified == 0


@pytest.mark.parametrize("status", [410, 400])
async def test_refused_delivery_parks_at_once_blocks_its_subject_and_replays_in_order(
    webhook_partner: MakePartner, status: int
) -> None:
    """A 410/400 is parked after one request with a code-only reason; later records of its subject wait parked; replay delivers them in order."""
    refusing = {"on": True}

    def script(_: int, event_: dict[str, Any]) -> int:
        return (
            status
            if refusing["on"] and event_["data"]["seq"] == 0 and event_["subject"] == "gone"
            else 204
        )

    receiver = Receiver(script=script)
    async with serving(receiver) as url:
        made = await webhook_partner(url)
        first, second, other = event("gone", 0), event("gone", 1), event("fine", 0)
        await produce(made, [first, second, other])
        async with delivering(made):
            await wait_until(lambda: len(receiver.delivered) == 1)
            parked = await read_topic(made, made.parked, lambda r: len(r) >= 2)

            # Refused once, not retried; the later record of that subject never went out.
            assert [r["event"]["id"] for r in receiver.requests] in (
                [first.id, other.id],
                [other.id, first.id],
            )
            assert receiver.delivered_ids() == [other.id]
            assert [(r.key, r.value) for r in parked] == [
                (b"gone", json.dumps(first.data, separators=(",", ":")).encode()),
                (b"gone", json.dumps(second.data, separators=(",", ":")).encode()),
            ]
            original = dict(to_kafka(first)[1])
            headers = dict(parked[0].headers)
            assert headers[PARK_REASON_HEADER] == f"HTTP_{status}".encode()
            assert dict(parked[1].headers)[PARK_REASON_HEADER] == b"SUBJECT_PARKED"
            # The parked copy keeps its original's place in the stream, and its attributes.
            assert (
                headers[SEQUENCE_HEADER].decode()
                == receiver.requests[[r["event"]["id"] for r in receiver.requests].index(first.id)][
                    "event"
                ]["sequence"]
            )
            assert {
                k: v for k, v in headers.items() if k.startswith("ce_") and k != SEQUENCE_HEADER
            } == {k: v for k, v in original.items() if k.startswith("ce_")}
            first_sequence = headers[SEQUENCE_HEADER].decode()
            assert headers[DISCLOSURE_ID_HEADER] == f"disc-{first.id}".encode()

            # A newer record of the parked subject is parked too, not delivered out of order.
            third = event("gone", 2)
            await produce(made, [third])
            await read_topic(made, made.parked, lambda r: len(r) >= 3)
            assert receiver.delivered_ids() == [other.id]

            refusing["on"] = False
            assert await replay_parked(made) == ReplayReport(made.partner.id, 3, 0)
            assert await replay_parked(made) == ReplayReport(made.partner.id, 0, 0)  # committed

            # The subject is clear again: the next record is delivered directly, after the replayed ones.
            fourth = event("gone", 3)
            await produce(made, [fourth])
            await wait_until(lambda: len(receiver.delivered) == 5)

    assert receiver.delivered_ids() == [other.id, first.id, second.id, third.id, fourth.id]
    assert receiver.duplicates == 0
    # Replayed from the parked topic, a delivery still names its place in the partner's stream.
    gone = [d["sequence"] for d in receiver.delivered if d["subject"] == "gone"]
    assert gone[0] == first_sequence
    assert gone == sorted(gone)


async def test_replay_parks_again_what_is_still_refused_and_keeps_its_subject_blocked(
    webhook_partner: MakePartner,
) -> None:
    """A replayed record refused again is parked again with its subject's later records, new ones of that subject wait too, and a later replay delivers all in order."""
    refusing = {"on": True}

    def script(_: int, event_: dict[str, Any]) -> int:
        refused = event_["subject"] == "gone" and event_["data"]["seq"] == 0
        return 410 if refusing["on"] and refused else 204

    receiver = Receiver(script=script)
    async with serving(receiver) as url:
        made = await webhook_partner(url)
        first, second, third, fourth = (event("gone", seq) for seq in range(4))
        await produce(made, [first, second])
        async with delivering(made):
            await read_topic(made, made.parked, lambda r: len(r) >= 2)
            assert await replay_parked(made) == ReplayReport(made.partner.id, 0, 2)

            await produce(made, [third])
            parked = await read_topic(made, made.parked, lambda r: len(r) >= 5)
            assert [
                (json.loads(r.value)["seq"], dict(r.headers)[PARK_REASON_HEADER]) for r in parked
            ] == [
                (0, b"HTTP_410"),
                (1, b"SUBJECT_PARKED"),
                (0, b"HTTP_410"),
                (1, b"SUBJECT_PARKED"),
                (2, b"SUBJECT_PARKED"),
            ]
            assert receiver.delivered == []

            refusing["on"] = False
            assert await replay_parked(made) == ReplayReport(made.partner.id, 3, 0)
            await produce(made, [fourth])
            await wait_until(lambda: len(receiver.delivered) == 4)

    assert receiver.delivered_ids() == [first.id, second.id, third.id, fourth.id]
    assert [r["event"]["id"] for r in receiver.requests] == [
        first.id,  # refused by the deliverer
        first.id,  # refused again by the first replay
        first.id,
        second.id,
        third.id,
        fourth.id,
    ]


async def test_a_record_parked_behind_one_replay_parks_again_is_replayed_after_it(
    webhook_partner: MakePartner,
) -> None:
    """Replay retries A while the deliverer parks B of A's subject, then parks A again after B: the next replay still sends A, then B."""
    phase = {"now": "refuse"}  # refuse: 410 at once; hang: time out (retried); open: 204

    def script(_: int, event_: dict[str, Any]) -> int | str:
        if event_["subject"] != "gone" or phase["now"] == "open":
            return 204
        return 410 if phase["now"] == "refuse" else "hang"

    receiver = Receiver(script=script)
    async with serving(receiver) as url:
        made = await webhook_partner(url)
        first, second = event("gone", 0), event("gone", 1)
        await produce(made, [first])
        async with delivering(made):
            await read_topic(made, made.parked, lambda r: len(r) >= 1)
            phase["now"] = "hang"  # the endpoint is down again while the replay runs
            replaying = asyncio.create_task(replay_parked(made))
            await wait_until(lambda: len(receiver.requests) >= 2)  # replay is retrying A
            await produce(made, [second])  # the deliverer parks B behind the parked A
            await read_topic(made, made.parked, lambda r: len(r) >= 2)
            phase["now"] = "refuse"  # replay gives A up: parked again, after B
            assert await replaying == ReplayReport(made.partner.id, 0, 1)
            parked = await read_topic(made, made.parked, lambda r: len(r) >= 3)
            assert [json.loads(r.value)["seq"] for r in parked] == [0, 1, 0]
            assert [REPLAY_PARKED_HEADER in dict(r.headers) for r in parked] == [False, False, True]

            phase["now"] = "open"
            assert await replay_parked(made) == ReplayReport(made.partner.id, 2, 0)
            # Committed to the end: the subject is clear, a new event goes straight out.
            third = event("gone", 2)
            await produce(made, [third])
            await wait_until(lambda: len(receiver.delivered) == 3)

    assert receiver.delivered_ids() == [first.id, second.id, third.id]


async def test_each_attempt_is_appended_to_the_disclosure_log(webhook_partner: MakePartner) -> None:
    """Failed, delivered and parked attempts each leave a delivery-attempt record with codes only."""

    def script(n: int, event_: dict[str, Any]) -> int:
        if event_["subject"] == "gone":
            return 410
        return 503 if n == 1 else 200

    receiver = Receiver(script=script)
    async with serving(receiver) as url:
        made = await webhook_partner(url)
        retried, gone = event("retried", 0), event("gone", 0)
        await produce(made, [retried])
        async with delivering(made):
            await wait_until(lambda: len(receiver.delivered) == 1)
            await produce(made, [gone])
            records = await attempts(made, 3)

    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_id.setdefault(record["disclosure_id"], []).append(record)
    for record in records:
        assert set(record) == {
            "record_type", "attempt_id", "disclosure_id", "attempt", "attempted_at", "result",
            "status", "reason",
        }  # fmt: skip
        assert record["record_type"] == "delivery-attempt"
        assert datetime.fromisoformat(record["attempted_at"]).tzinfo is not None
        assert (
            DeliveryAttempt.model_validate(
                {k: v for k, v in record.items() if k != "record_type"}
            ).disclosure_id
            == record["disclosure_id"]
        )
    shape = {
        disclosure: [(r["attempt"], r["result"], r["status"], r["reason"]) for r in found]
        for disclosure, found in by_id.items()
    }
    assert shape == {
        f"disc-{retried.id}": [(1, "failed", 503, "HTTP_503"), (2, "succeeded", 200, None)],
        f"disc-{gone.id}": [(1, "parked", 410, "HTTP_410")],
    }
    raw = json.dumps(records)
    assert "127.0.0.1" not in raw
    assert "seq" not in raw


async def test_a_failure_in_one_partners_delivery_does_not_stop_the_others(
    webhook_partner: MakePartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug met on one partner's records (not Kafka, not its endpoint) restarts that partner alone.

    Before, it left the deliverer's task group, which cancelled every partner's loop and
    stopped `hub run`, router included, and again on every restart.
    """
    broken_receiver, healthy_receiver = Receiver(), Receiver()
    async with serving(broken_receiver) as broken_url, serving(healthy_receiver) as healthy_url:
        broken = await webhook_partner(broken_url)
        healthy = await webhook_partner(
            healthy_url, partner_id="gp-het-anker", prefix=broken.layout.prefix
        )
        original = Channel.handle

        async def handle(self: Channel, record: Any, is_parked: Any) -> None:
            if self._partner == broken.partner.id:
                raise RuntimeError("a bug met on this partner's record")
            await original(self, record, is_parked)

        monkeypatch.setattr(Channel, "handle", handle)
        failures = PARTNER_FAILURES.labels(broken.partner.id)._value.get()
        deliverer = WebhookDeliverer(
            [broken.partner, healthy.partner],
            kafka=broken.kafka,
            webhooks=FAST,
            layout=broken.layout,
            retry=RetrySettings(initial_seconds=0.1, max_seconds=1.0),
            environ={SECRET_ENV: SECRET},
        )
        stop = asyncio.Event()
        running = asyncio.create_task(deliverer.run(stop))
        try:
            await produce(broken, [event("a", n) for n in range(3)])
            await produce(healthy, [event("b", n) for n in range(3)])
            await wait_until(lambda: len(healthy_receiver.delivered) == 3 or running.done())
            assert not running.done(), running.exception()
            await wait_until(
                lambda: PARTNER_FAILURES.labels(broken.partner.id)._value.get() >= failures + 2
            )  # tried again, alone
            # More for the healthy partner while the broken one keeps failing: still delivered.
            await produce(healthy, [event("b", n) for n in range(3, 5)])
            await wait_until(lambda: len(healthy_receiver.delivered) == 5 or running.done())
            assert not running.done(), running.exception()
        finally:
            stop.set()
            await asyncio.wait_for(running, 15)
    assert [e["data"]["seq"] for e in healthy_receiver.delivered] == [0, 1, 2, 3, 4]
    assert broken_receiver.delivered == []


async def test_a_record_that_fails_again_and_again_is_parked_and_the_partner_goes_on(
    webhook_partner: MakePartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After three failures on one record, it is parked (PROCESSING_FAILED); its subject's later
    records follow it (SUBJECT_PARKED), and the partner's other subjects are delivered."""
    receiver = Receiver()
    async with serving(receiver) as url:
        made = await webhook_partner(url)
        original = Channel.handle
        poison = event("poison", 0)

        async def handle(self: Channel, record: Any, is_parked: Any) -> None:
            if dict(record.headers).get("ce_id") == poison.id.encode():
                raise RuntimeError("a bug met on this record")
            await original(self, record, is_parked)

        monkeypatch.setattr(Channel, "handle", handle)
        await produce(made, [poison, event("poison", 1), event("fine", 0), event("fine", 1)])
        async with delivering(made):
            parked = await read_topic(made, made.parked, lambda r: len(r) >= 2, timeout=60)
            await wait_until(lambda: len(receiver.delivered) == 2)
    reasons = [dict(r.headers)[PARK_REASON_HEADER] for r in parked]
    assert reasons == [b"PROCESSING_FAILED", b"SUBJECT_PARKED"]
    assert [r.key for r in parked] == [b"poison", b"poison"]
    assert [(e["subject"], e["data"]["seq"]) for e in receiver.delivered] == [
        ("fine", 0),
        ("fine", 1),
    ]
