"""Each Kafka failure has one meaning for the hub, decided in one place."""

from __future__ import annotations

import ssl

import pytest
from aiokafka import errors

from hub.kafka.errors import KafkaFailure, classify


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (errors.KafkaConnectionError(), KafkaFailure.TRANSIENT),
        (errors.NotLeaderForPartitionError(), KafkaFailure.TRANSIENT),
        (errors.NodeNotReadyError(), KafkaFailure.TRANSIENT),
        (errors.KafkaTimeoutError(), KafkaFailure.TRANSIENT),
        (TimeoutError(), KafkaFailure.TRANSIENT),
        (ConnectionRefusedError(), KafkaFailure.TRANSIENT),
        (errors.OutOfOrderSequenceNumber(), KafkaFailure.PRODUCER_BROKEN),
        (errors.UnknownProducerId(), KafkaFailure.PRODUCER_BROKEN),
        (errors.ProducerFenced(), KafkaFailure.PRODUCER_BROKEN),
        (errors.InvalidProducerEpoch(), KafkaFailure.PRODUCER_BROKEN),
        (errors.MessageSizeTooLargeError(), KafkaFailure.RECORD_REJECTED),
        (errors.RecordTooLargeError(), KafkaFailure.RECORD_REJECTED),
        (errors.CorruptRecordException(), KafkaFailure.RECORD_REJECTED),
        (errors.TopicAuthorizationFailedError(), KafkaFailure.MISCONFIGURED),
        (errors.GroupAuthorizationFailedError(), KafkaFailure.MISCONFIGURED),
        (errors.TransactionalIdAuthorizationFailed(), KafkaFailure.MISCONFIGURED),
        (errors.SaslAuthenticationFailed(), KafkaFailure.MISCONFIGURED),
        (errors.UnsupportedVersionError(), KafkaFailure.MISCONFIGURED),
        (ssl.SSLCertVerificationError(), KafkaFailure.MISCONFIGURED),
        (ssl.SSLError(), KafkaFailure.MISCONFIGURED),
        (ssl.SSLEOFError(), KafkaFailure.TRANSIENT),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_each_kafka_failure_has_one_meaning(exc: BaseException, failure: KafkaFailure) -> None:
    """Transient failures are retried, broken producers rebuilt, refused records isolated, misconfiguration stops."""
    assert classify(exc) is failure


def test_the_hubs_own_bugs_are_no_kafka_failure() -> None:
    """A KeyError in the hub's code is not mistaken for a Kafka failure (and not retried as one)."""
    assert classify(KeyError("x")) is None
