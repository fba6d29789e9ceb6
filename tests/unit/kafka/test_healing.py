"""The healing producer: connects in the background, rebuilds a broken producer, stops on refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import structlog
from aiokafka.errors import (
    KafkaConnectionError,
    OutOfOrderSequenceNumber,
    RequestTimedOutError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)

from hub.errors import ConfigurationError
from hub.kafka import HealingProducer, KafkaMisconfigured
from hub.kafka import healing as module
from hub.settings import KafkaSettings, RetrySettings

_FAST = RetrySettings(initial_seconds=0.001, max_seconds=0.002)


class FakeClient:
    """The producer's cluster client: answers metadata requests, or fails them."""

    def __init__(self) -> None:
        self.fails = False
        self.closed = False

    async def fetch_all_metadata(self) -> None:
        if self.fails:
            raise KafkaConnectionError()

    async def close(self) -> None:
        self.closed = True


class FakeSender:
    """aiokafka's sender, whose task ends when the producer is out of step for good."""

    def __init__(self) -> None:
        self.sender_task: asyncio.Task[None] | None = None


class FakeProducer:
    """A producer whose start fails with the given errors, one per attempt, then succeeds."""

    def __init__(self, options: dict[str, Any], start_errors: list[BaseException]) -> None:
        self.options = options
        self._start_errors = start_errors
        self.started = False
        self.stops = 0
        self.stop_hangs = False
        self.client = FakeClient()
        self._sender = FakeSender()

    async def start(self) -> None:
        if self._start_errors:
            raise self._start_errors.pop(0)
        self.started = True

    async def stop(self) -> None:
        self.stops += 1
        if self.stop_hangs:
            await asyncio.sleep(3600)


class Factory:
    """Stands in for ``hub.kafka.clients.producer``: records every producer it builds."""

    def __init__(self) -> None:
        self.built: list[FakeProducer] = []
        self.start_errors: list[BaseException] = []

    def __call__(self, kafka: KafkaSettings, **options: Any) -> FakeProducer:
        made = FakeProducer(options, self.start_errors)
        self.built.append(made)
        return made


@pytest.fixture
def factory(monkeypatch: pytest.MonkeyPatch) -> Factory:
    made = Factory()
    monkeypatch.setattr(module, "producer", made)
    return made


def _healing(**options: Any) -> HealingProducer:
    return HealingProducer(
        KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        name="test-producer",
        events="test",
        retry=_FAST,
        **options,
    )


async def _until(condition: Callable[[], bool], within: float = 2.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 -- polls state the background task changes
            await asyncio.sleep(0.001)


async def test_it_connects_in_the_background_with_its_options_after_transient_failures(
    factory: Factory,
) -> None:
    """Transient start failures are retried on a new producer each; the first that starts is current."""
    factory.start_errors[:] = [KafkaConnectionError(), RequestTimedOutError()]
    healing = _healing(linger_ms=2, transactional_id="t-1")
    with structlog.testing.capture_logs() as logs:
        healing.start()
        assert healing.current is None
        await _until(lambda: healing.connected)
    try:
        assert len(factory.built) == 3
        assert healing.current is factory.built[2]
        assert factory.built[2].options == {"linger_ms": 2, "transactional_id": "t-1"}
        assert [b.stops for b in factory.built] == [1, 1, 0]  # a failed start is stopped
        assert [log["event"] for log in logs] == [
            "test_kafka_unavailable",
            "test_kafka_unavailable",
            "test_kafka_connected",
        ]
        assert all(log["transactional_id"] == "t-1" for log in logs)
        assert not healing.refused.is_set()
    finally:
        await healing.stop()
    assert factory.built[2].stops == 1


@pytest.mark.parametrize(
    "refusal", [TopicAuthorizationFailedError(), SaslAuthenticationFailed("no")]
)
async def test_a_refusal_while_connecting_is_not_retried(
    factory: Factory, refusal: Exception
) -> None:
    """Kafka refusing the hub (authorisation, SASL) stops the connecting and sets ``refused``."""
    factory.start_errors[:] = [refusal]
    healing = _healing()
    with structlog.testing.capture_logs() as logs:
        healing.start()
        await asyncio.wait_for(healing.refused.wait(), timeout=2.0)
    await healing.stop()
    assert len(factory.built) == 1
    assert healing.current is None
    assert isinstance(healing.refusal, KafkaMisconfigured)
    assert healing.refusal.exc_type == type(refusal).__name__
    assert [(log["event"], log["exc_type"]) for log in logs] == [
        ("test_kafka_refused", type(refusal).__name__)
    ]


async def _connected(factory: Factory) -> tuple[HealingProducer, FakeProducer]:
    healing = _healing()
    healing.start()
    await _until(lambda: healing.connected)
    return healing, factory.built[-1]


async def test_a_broken_producer_is_retired_and_a_new_one_connects(factory: Factory) -> None:
    """An OutOfOrderSequenceNumber among the failures retires the producer and connects a new one."""
    healing, old = await _connected(factory)
    try:
        with structlog.testing.capture_logs() as logs:
            await healing.heal(old, [KafkaConnectionError(), OutOfOrderSequenceNumber()])
            assert healing.current is None
            await _until(lambda: healing.connected)
            await _until(lambda: old.stops == 1)
        assert healing.current is factory.built[-1]
        assert healing.current is not old
        assert (logs[0]["event"], logs[0]["exc_type"]) == (
            "test_producer_rebuilt",
            "OutOfOrderSequenceNumber",
        )
    finally:
        await healing.stop()


async def test_a_producer_whose_sender_ended_is_rebuilt(factory: Factory) -> None:
    """A producer whose sender task has ended is rebuilt even when no send reported why."""
    healing, old = await _connected(factory)
    ended = asyncio.create_task(asyncio.sleep(0))
    await ended
    old._sender.sender_task = ended
    try:
        assert await healing.probe(1.0) is False
        with structlog.testing.capture_logs() as logs:
            await healing.heal(old, [])
        assert (logs[0]["event"], logs[0]["exc_type"]) == ("test_producer_rebuilt", "SenderStopped")
        await _until(lambda: healing.connected)
        assert healing.current is not old
    finally:
        await healing.stop()


async def test_transient_failures_leave_the_producer_alone(factory: Factory) -> None:
    """Failures a retry can cure (the broker is away) keep the producer as it is."""
    healing, old = await _connected(factory)
    try:
        await healing.heal(old, [KafkaConnectionError(), RequestTimedOutError()])
        assert healing.current is old
        assert len(factory.built) == 1
    finally:
        await healing.stop()


async def test_a_refusal_while_sending_stops_for_good(factory: Factory) -> None:
    """A refusal among the failures retires the producer, sets ``refused`` and connects no other."""
    healing, old = await _connected(factory)
    refusal = TopicAuthorizationFailedError()
    await healing.heal(old, [OutOfOrderSequenceNumber(), refusal])
    assert healing.refused.is_set()
    assert isinstance(healing.refusal, KafkaMisconfigured)
    assert healing.refusal.exc_type == "TopicAuthorizationFailedError"
    assert healing.current is None
    await healing.stop()
    assert old.stops == 1
    assert len(factory.built) == 1


async def test_only_the_first_of_several_requests_rebuilds(factory: Factory) -> None:
    """A producer already replaced is not rebuilt again by a later request that saw it fail."""
    healing, old = await _connected(factory)
    try:
        assert healing.rebuild(old) is True
        await _until(lambda: healing.connected)
        await healing.heal(old, [OutOfOrderSequenceNumber()])
        assert healing.rebuild(old) is False
        assert len(factory.built) == 2
        assert healing.current is factory.built[1]
    finally:
        await healing.stop()


async def test_a_retired_producer_that_does_not_stop_is_closed_within_the_bound(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retired producer whose stop hangs has its sender cancelled and its client closed."""
    monkeypatch.setattr(module, "_RETIRE_TIMEOUT", 0.05)
    healing, old = await _connected(factory)
    old.stop_hangs = True
    sender = asyncio.create_task(asyncio.sleep(3600))
    old._sender.sender_task = sender
    healing.rebuild(old)
    await healing.stop()
    assert sender.cancelled()
    assert old.client.closed


async def test_stop_waits_for_the_tasks_it_keeps(factory: Factory) -> None:
    """A cancelled transaction handed to ``keep`` has ended when ``stop`` returns."""
    healing, _ = await _connected(factory)
    winding_down = asyncio.create_task(asyncio.sleep(0.01))
    healing.keep(winding_down)
    await healing.stop()
    assert winding_down.done()


async def test_the_probe_asks_the_cluster(factory: Factory) -> None:
    """The probe is False without a producer and when metadata fails, True when the cluster answers."""
    healing = _healing()
    assert await healing.probe(1.0) is False
    healing.start()
    await _until(lambda: healing.connected)
    try:
        assert await healing.probe(1.0) is True
        factory.built[-1].client.fails = True
        assert await healing.probe(1.0) is False
    finally:
        await healing.stop()


async def test_a_failure_that_is_neither_kafka_nor_the_network_is_logged_and_tried_again(
    factory: Factory,
) -> None:
    """Connecting does not end silently on a bug: it says so and connects on a later try."""
    factory.start_errors[:] = [RuntimeError("a library's bug")]
    healing = _healing(transactional_id="t-1")
    with structlog.testing.capture_logs() as logs:
        healing.start()
        await _until(lambda: healing.connected)
    try:
        assert healing.current is factory.built[-1]
        failed = [e for e in logs if e["event"] == "test_connect_failed"]
        assert failed == [
            {
                "event": "test_connect_failed",
                "log_level": "error",
                "exc_type": "RuntimeError",
                "transactional_id": "t-1",
            }
        ]
        assert not healing.refused.is_set()
    finally:
        await healing.stop()


async def test_the_hubs_own_misconfiguration_met_while_connecting_stops_it_as_a_refusal(
    factory: Factory,
) -> None:
    """A certificate file that cannot be read is not mended by waiting: refused, as Kafka's refusal is."""
    factory.start_errors[:] = [
        ConfigurationError("kafka", "HUB_KAFKA__SSL_CAFILE", "cannot read the CA file")
    ]
    healing = _healing()
    healing.start()
    await _until(healing.refused.is_set)
    try:
        assert healing.current is None
        assert isinstance(healing.refusal, KafkaMisconfigured)
        assert len(factory.built) == 1
    finally:
        await healing.stop()
