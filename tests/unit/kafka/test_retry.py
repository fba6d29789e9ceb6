"""Retry policies from RetrySettings, and Kafka failures in the hub's error tree."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from hub.errors import ConfigurationError, HubError
from hub.kafka import BrokerUnavailable, KafkaMisconfigured, kafka_retrying
from hub.kafka.transactions import stop_if_misconfigured
from hub.settings import RetrySettings

_FAST = RetrySettings(initial_seconds=0.001, max_seconds=0.002)


async def test_transient_failures_are_retried_until_they_stop() -> None:
    """A connection failure is retried, and the first success ends the retries."""
    calls = 0
    async for attempt in kafka_retrying(_FAST, event="test_retrying", doing="testing"):
        with attempt:
            calls += 1
            if calls < 3:
                raise KafkaConnectionError()
    assert calls == 3


async def _fail_always(
    exc: Exception, calls: list[int], give_up_after: float | None = None
) -> None:
    async for attempt in kafka_retrying(
        _FAST, event="test_retrying", doing="testing", give_up_after=give_up_after
    ):
        with attempt:
            calls.append(1)
            raise exc


async def test_a_spent_budget_raises_broker_unavailable() -> None:
    """Transient failures that outlast the budget become BrokerUnavailable, a HubError, caused by the last one."""
    with pytest.raises(BrokerUnavailable) as caught:
        await _fail_always(KafkaConnectionError(), [], give_up_after=0.01)
    assert isinstance(caught.value, HubError)
    assert caught.value.exc_type == "KafkaConnectionError"
    assert isinstance(caught.value.__cause__, KafkaConnectionError)


async def test_a_refusal_is_not_retried() -> None:
    """An authorisation failure is raised at once, unchanged, not retried."""
    refusal, calls = TopicAuthorizationFailedError(), []
    with pytest.raises(TopicAuthorizationFailedError) as caught:
        await _fail_always(refusal, calls)
    assert caught.value is refusal
    assert len(calls) == 1


def test_a_refusal_stops_the_hub_as_a_configuration_error() -> None:
    """stop_if_misconfigured turns a broker's refusal into KafkaMisconfigured (exit 78) and lets others pass."""
    with pytest.raises(KafkaMisconfigured) as caught, stop_if_misconfigured():
        raise TopicAuthorizationFailedError()
    assert isinstance(caught.value, ConfigurationError)
    assert caught.value.exc_type == "TopicAuthorizationFailedError"
    with pytest.raises(KafkaConnectionError), stop_if_misconfigured():
        raise KafkaConnectionError()
