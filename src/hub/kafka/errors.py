"""What a Kafka failure means for the hub, decided in one place.

Every component that talks to Kafka (the router, the gateway's producer) asks
``classify`` what to do with an exception instead of guessing from its type:

- ``TRANSIENT``: the broker is unavailable, a leader moves, a request timed out. Retry
  with backoff; nothing is lost because nothing was committed.
- ``PRODUCER_BROKEN``: the producer's idempotence or transaction state is out of step
  with the broker (out-of-order sequence after a leader change, fenced, unknown producer
  id). Retrying on the same producer fails forever (aiokafka does not reset it), so
  the producer is rebuilt; a new producer gets a new producer id or epoch.
- ``RECORD_REJECTED``: the broker or the client refuses this record whatever happens
  (too large, invalid, corrupt). Retrying the same batch would block every partner, so
  the record that causes it is isolated and dead-lettered with its own code.
- ``MISCONFIGURED``: the hub is not allowed to do what it must (authorisation, SASL,
  an unsupported broker version). Retrying cannot help and dead-lettering would hide
  a deployment error: the process stops with a clear message and exit 78.

An unknown ``KafkaError`` counts as transient when aiokafka marks it ``retriable``,
else as broken producer state: rebuilding the clients is the safe general cure.

In the hub's error tree (``hub.errors``) these become ``BrokerUnavailable`` (transient
failures that outlasted their retry budget) and ``KafkaMisconfigured`` (a
ConfigurationError: exit 78).
"""

from __future__ import annotations

import ssl
from enum import StrEnum

from aiokafka import errors as kafka

from hub.errors import ConfigurationError, HubError

__all__ = [
    "BrokerUnavailable",
    "KafkaFailure",
    "KafkaMisconfigured",
    "classify",
    "is_kafka_failure",
    "is_transient",
]


class KafkaFailure(StrEnum):
    """The four things a Kafka failure can mean (see the module docstring)."""

    TRANSIENT = "transient"
    PRODUCER_BROKEN = "producer-broken"
    RECORD_REJECTED = "record-rejected"
    MISCONFIGURED = "misconfigured"


_RECORD_REJECTED: tuple[type[BaseException], ...] = (
    kafka.MessageSizeTooLargeError,
    kafka.RecordTooLargeError,
    kafka.RecordListTooLargeError,
    kafka.CorruptRecordException,
    kafka.InvalidTimestampError,
    kafka.UnsupportedForMessageFormatError,
    kafka.PolicyViolationError,
)

_MISCONFIGURED: tuple[type[BaseException], ...] = (
    kafka.TopicAuthorizationFailedError,
    kafka.GroupAuthorizationFailedError,
    kafka.ClusterAuthorizationFailedError,
    kafka.TransactionalIdAuthorizationFailed,
    kafka.SaslAuthenticationFailed,
    kafka.AuthenticationFailedError,
    kafka.AuthenticationMethodNotSupported,
    kafka.UnsupportedSaslMechanismError,
    kafka.IllegalSaslStateError,
    kafka.SecurityDisabled,
    kafka.UnsupportedVersionError,
    kafka.IncompatibleBrokerVersion,
    kafka.UnrecognizedBrokerVersion,
    kafka.KafkaConfigurationError,
    kafka.InvalidTransactionTimeout,
    # TLS that fails on certificates, keys or protocol stays failing (the ones a dropped
    # connection causes are transient, below).
    ssl.SSLError,
)

_TLS_TRANSIENT: tuple[type[BaseException], ...] = (
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
    ssl.SSLSyscallError,
    ssl.SSLWantReadError,
    ssl.SSLWantWriteError,
)

_PRODUCER_BROKEN: tuple[type[BaseException], ...] = (
    kafka.OutOfOrderSequenceNumber,
    kafka.DuplicateSequenceNumber,
    kafka.UnknownProducerId,
    kafka.InvalidProducerEpoch,
    kafka.InvalidProducerIdMapping,
    kafka.ProducerFenced,
    kafka.InvalidTxnState,
    kafka.TransactionCoordinatorFenced,
    kafka.IllegalStateError,
    kafka.ProducerClosed,
)

_TRANSIENT: tuple[type[BaseException], ...] = (OSError, TimeoutError, kafka.KafkaTimeoutError)


def classify(exc: BaseException) -> KafkaFailure | None:
    """What ``exc`` means for the hub; None when it is no Kafka or network failure (a bug)."""
    # Order matters: ssl.SSLCertVerificationError is an OSError, and several broker
    # errors subclass one another.
    if isinstance(exc, _RECORD_REJECTED):
        return KafkaFailure.RECORD_REJECTED
    if isinstance(exc, _TLS_TRANSIENT):
        return KafkaFailure.TRANSIENT
    if isinstance(exc, _MISCONFIGURED):
        return KafkaFailure.MISCONFIGURED
    if isinstance(exc, _PRODUCER_BROKEN):
        return KafkaFailure.PRODUCER_BROKEN
    if isinstance(exc, _TRANSIENT):
        return KafkaFailure.TRANSIENT
    if isinstance(exc, kafka.KafkaError):
        return KafkaFailure.TRANSIENT if exc.retriable else KafkaFailure.PRODUCER_BROKEN
    return None


def is_transient(exc: BaseException) -> bool:
    """True for failures a retry with backoff can cure (the broker is away, a leader moves)."""
    return classify(exc) is KafkaFailure.TRANSIENT


def is_kafka_failure(exc: BaseException) -> bool:
    """True for failures of Kafka or the network; False for the hub's own bugs."""
    return classify(exc) is not None


class KafkaMisconfigured(ConfigurationError):
    """Kafka refuses the hub what it must do (authorisation, SASL, TLS, versions): stop, exit 78."""

    def __init__(self, exc: BaseException) -> None:
        self.exc_type = type(exc).__name__
        super().__init__(
            "kafka",
            "HUB_KAFKA__*",
            f"the broker refused the hub ({self.exc_type}); check the hub's Kafka settings, "
            "credentials and ACLs (docs/operations.md, runbook)",
        )


class BrokerUnavailable(HubError):
    """Kafka stayed unreachable (or kept failing transiently) for longer than the retry budget.

    Carries what the hub was doing and the last failure's class, never a record.
    """

    code = "BROKER_UNAVAILABLE"

    def __init__(self, doing: str, exc: BaseException | None) -> None:
        self.doing = doing
        self.exc_type = type(exc).__name__ if exc is not None else None
        super().__init__(f"Kafka unavailable while {doing} ({self.exc_type}); gave up retrying")
