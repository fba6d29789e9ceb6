"""The client factory: every Kafka client the hub creates is built here, from KafkaSettings.

Kept apart from the router so that edges (webhook delivery, the gateway, the CLI) can
connect to Kafka without importing the pipeline. Everything about how the hub reaches
the broker lives here: bootstrap servers, TLS (an ``ssl.SSLContext`` built with
aiokafka's own helper), SASL, the same options as a FastStream broker, the producer and
consumer tuning, and the names of the hub's consumer groups and transactional ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError
from aiokafka.helpers import create_ssl_context
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from hub.errors import ConfigurationError, HubError
from hub.kafka.retry import kafka_retrying
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, RetrySettings

__all__ = [
    "KafkaTlsError",
    "admin_client",
    "adopt_committed_offsets",
    "broker_ids",
    "check_security",
    "client_options",
    "consumer",
    "faststream_batch_consumer",
    "faststream_broker",
    "faststream_security",
    "hub_group",
    "producer",
    "quiet_client_logs",
    "router_transactional_id",
    "sasl_failure",
    "ssl_context",
    "started_consumer",
    "stop_consumer",
    "stop_faststream",
    "tls_failure",
    "topic_partitions",
]

_TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
_SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
_TLS_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
# How long a start-up TLS probe waits for the broker to refuse a client certificate: with
# TLS 1.3 that refusal arrives after the handshake, as an alert on the first read.
_ALERT_WAIT_SECONDS = 0.5
_ADOPT_RETRY = RetrySettings(initial_seconds=0.2, max_seconds=5.0)


class KafkaTlsError(HubError):
    """The TLS handshake with a Kafka broker failed (certificate, hostname, client certificate).

    Not a connection failure: retrying does not help until a certificate or a setting
    changes. The sentence names the server and the TLS exception's class, never a record.
    """

    code = "KAFKA_TLS_FAILED"

    def __init__(self, server: str, exc: ssl.SSLError) -> None:
        self.server = server
        self.exc_type = type(exc).__name__
        if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
            self.reason = str(exc.verify_message)
        else:
            self.reason = str(exc.reason or exc.strerror or exc)
        super().__init__(
            f"TLS handshake with Kafka broker {server} failed: {self.exc_type}: {self.reason}"
        )


def _env(field: str) -> str:
    return f"HUB_KAFKA__{field.upper()}"


def _invalid(field: str, message: str) -> ConfigurationError:
    return ConfigurationError("settings", _env(field), message)


def _check_combinations(settings: KafkaSettings) -> None:
    """Settings that make no sense together, or a protocol without what it needs."""
    protocol = settings.security_protocol
    if protocol not in _TLS_PROTOCOLS:
        for field in (*_TLS_FILES, "ssl_key_password"):
            if getattr(settings, field) is not None:
                raise _invalid(
                    field,
                    f"is set, but HUB_KAFKA__SECURITY_PROTOCOL is {protocol}, which does not "
                    "use TLS; use SSL or SASL_SSL",
                )
    if protocol in _SASL_PROTOCOLS:
        for field in ("sasl_mechanism", "sasl_username", "sasl_password"):
            if not getattr(settings, field):
                raise _invalid(field, f"is required with HUB_KAFKA__SECURITY_PROTOCOL={protocol}")
    elif settings.sasl_mechanism is not None:
        raise _invalid(
            "sasl_mechanism",
            f"is set, but HUB_KAFKA__SECURITY_PROTOCOL is {protocol}, which does not log in; "
            "use SASL_PLAINTEXT or SASL_SSL",
        )
    if settings.ssl_keyfile is not None and settings.ssl_certfile is None:
        raise _invalid("ssl_certfile", "is required with HUB_KAFKA__SSL_KEYFILE")
    if settings.ssl_key_password is not None and settings.ssl_certfile is None:
        raise _invalid("ssl_certfile", "is required with HUB_KAFKA__SSL_KEY_PASSWORD")
    if settings.ssl_certfile is not None and settings.ssl_keyfile is None:
        raise _invalid("ssl_keyfile", "is required with HUB_KAFKA__SSL_CERTFILE")


def _check_readable(field: str, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise _invalid(field, f"cannot read {path} ({type(exc).__name__})") from None


def _cert_or_key_at_fault(settings: KafkaSettings, exc: ssl.SSLError) -> ConfigurationError:
    """Which of certificate, key and password made ``load_cert_chain`` fail."""
    reason = str(exc.reason or exc)
    where = f"({type(exc).__name__}: {reason})"
    if "MISMATCH" in reason:
        return _invalid("ssl_keyfile", f"does not hold the key of HUB_KAFKA__SSL_CERTFILE {where}")
    if "DECRYPT" in reason or "PASSWORD" in reason.upper() or _is_encrypted(settings.ssl_keyfile):
        return _invalid("ssl_key_password", f"does not decrypt HUB_KAFKA__SSL_KEYFILE {where}")
    assert settings.ssl_certfile is not None  # checked by the caller
    if b"-----BEGIN CERTIFICATE-----" not in settings.ssl_certfile.read_bytes():
        return _invalid("ssl_certfile", f"holds no PEM certificate {where}")
    return _invalid("ssl_keyfile", f"holds no usable PEM private key {where}")


def _is_encrypted(keyfile: Path | None) -> bool:
    # PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") and traditional ("Proc-Type: 4,ENCRYPTED") PEM.
    return keyfile is not None and b"ENCRYPTED" in keyfile.read_bytes()


def _no_password() -> str:
    # Given instead of None so that OpenSSL never prompts on the terminal for an
    # encrypted key: a service must fail, not wait for someone to type.
    return ""


# Built contexts by their settings and their files' identity: loading a trust store takes
# 20-25 ms (the system's, or a CA bundle of that size) on the event loop of whoever asks,
# and the hub asks for a client often (the lag monitor a consumer per backlog read, the
# webhook deliverer two per partner at start). A context serves any number of
# connections. A file replaced on disk (a rotated certificate) gives a new context to
# the clients made after it; a client made before keeps its own, on reconnects too.
_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}
_CONTEXTS_KEPT: Final = 8
_CONTEXTS_LOCK = threading.Lock()


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (None otherwise); raises ConfigurationError naming the setting.

    Built by aiokafka's ``create_ssl_context``: certificates are verified against
    ``ssl_cafile`` (or the system's trust store), the hostname unless switched off. Built
    once per settings and files (``_CONTEXTS``).
    """
    _check_combinations(settings)
    if settings.security_protocol not in _TLS_PROTOCOLS:
        return None
    files: list[tuple[object, ...]] = []
    for field in _TLS_FILES:
        path = getattr(settings, field)
        if path is not None:
            _check_readable(field, path)
            found = path.stat()
            files.append((field, str(path), found.st_ino, found.st_mtime_ns, found.st_size))
        else:
            files.append((field, None))
    # The key password by its digest: the key of a module-level dict may show in a repr.
    password = (
        hashlib.sha256(settings.ssl_key_password.get_secret_value().encode()).hexdigest()
        if settings.ssl_key_password
        else None
    )
    key = (tuple(files), password, settings.ssl_check_hostname)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
    if context is None:
        context = _build_ssl_context(settings)
        with _CONTEXTS_LOCK:  # clients are made in threads too (the CLI's, the tests')
            while len(_CONTEXTS) >= _CONTEXTS_KEPT:
                del _CONTEXTS[next(iter(_CONTEXTS))]
            _CONTEXTS[key] = context
    return context


def _build_ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    if settings.ssl_key_password is None and _is_encrypted(settings.ssl_keyfile):
        raise _invalid("ssl_key_password", "is required: HUB_KAFKA__SSL_KEYFILE is encrypted")
    password: Callable[[], str] | str = (
        settings.ssl_key_password.get_secret_value() if settings.ssl_key_password else _no_password
    )
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=settings.ssl_cafile,
            certfile=settings.ssl_certfile,
            keyfile=settings.ssl_keyfile,
            password=password,
        )
    except ssl.SSLError as exc:
        try:
            create_ssl_context(cafile=settings.ssl_cafile)
        except ssl.SSLError:
            raise _invalid(
                "ssl_cafile",
                f"holds no PEM CA certificate ({type(exc).__name__}: {exc.reason or exc})",
            ) from None
        raise _cert_or_key_at_fault(settings, exc) from None
    context.check_hostname = settings.ssl_check_hostname
    return context


def check_security(settings: KafkaSettings) -> None:
    """Raise ConfigurationError naming the setting when TLS or SASL settings cannot work."""
    ssl_context(settings)


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Bootstrap servers and security options (TLS context, SASL login) for an aiokafka client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.security_protocol in _SASL_PROTOCOLS:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return options


def faststream_security(settings: KafkaSettings) -> BaseSecurity:
    """The same protocol, TLS context and login as ``client_options``, as FastStream's security object."""
    context = ssl_context(settings)
    use_ssl = context is not None
    if settings.security_protocol not in _SASL_PROTOCOLS:
        return BaseSecurity(ssl_context=context, use_ssl=use_ssl)
    assert settings.sasl_username is not None  # checked by ssl_context
    assert settings.sasl_password is not None
    kind = {
        "PLAIN": SASLPlaintext,
        "SCRAM-SHA-256": SASLScram256,
        "SCRAM-SHA-512": SASLScram512,
    }[str(settings.sasl_mechanism)]
    return kind(
        settings.sasl_username,
        settings.sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=use_ssl,
    )


def consumer(settings: KafkaSettings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """An aiokafka consumer of ``topics`` with the hub's connection and fetch settings; ``options`` win."""
    fetch: dict[str, Any] = {
        "fetch_max_bytes": settings.fetch_max_bytes,
        "max_partition_fetch_bytes": settings.max_partition_fetch_bytes,
        # aiokafka sends one fetch per broker at a time, leaving out partitions that still
        # have unread records; what arrives on those waits for the fetch in flight, which
        # the broker holds up to this long when its own partitions stay empty (500 ms by
        # default: the hub's p95 latency at a few hundred events a second).
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
    }
    return AIOKafkaConsumer(*topics, **client_options(settings), **{**fetch, **options})


async def stop_consumer(reader: AIOKafkaConsumer) -> None:
    """Stop a consumer, also when aiokafka cuts its own stop short while a broker is away.

    aiokafka 0.14's ``Fetcher.close`` cancels its fetch tasks and awaits each; one that
    was waiting out its retry back-off (a broker unreachable) raises CancelledError out of
    that wait, so ``stop`` raised CancelledError though nothing cancelled the caller: a
    service stopping during an outage ended as if it had failed, with the client's
    connections never closed. Then the fetch tasks left are cancelled and the client is
    closed; a real cancellation of the caller still propagates once that is done (one that
    lands in the group coordinator's close leaves the fetcher's own routine task). It
    reaches into aiokafka's fetcher and client: pinned 0.14.0.
    """
    try:
        await reader.stop()
    except asyncio.CancelledError:
        # What stop() did not reach: the fetch tasks after the one that raised (a task per
        # broker) and the client with its connections. Also when the caller is cancelled
        # for real, which is then raised on.
        fetcher = reader._fetcher
        if fetcher is not None:
            for pending in list(fetcher._pending_tasks):
                pending.cancel()
        await reader._client.close()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def started_consumer(
    settings: KafkaSettings, *topics: str, **options: Any
) -> AIOKafkaConsumer:
    """A consumer as ``consumer`` makes it, started; the caller stops it.

    A start that fails, or is cancelled (a service stopping, a timeout), stops the
    consumer again: a half-started one holds connections that nothing would close.
    """
    reader = consumer(settings, *topics, **options)
    try:
        await reader.start()
    except BaseException:
        await stop_consumer(reader)
        raise
    return reader


def producer(settings: KafkaSettings, **options: Any) -> AIOKafkaProducer:
    """An aiokafka producer (acks=all, idempotent) with the hub's batching settings; ``options`` win."""
    tuned: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.linger_ms,
        "max_batch_size": settings.max_batch_bytes,
        "compression_type": settings.compression,
    }
    if options.get("transactional_id"):
        # Brokers verify a transaction's partitions (KIP-890) and refuse its first records,
        # retriably, while the previous transaction's markers are still being written:
        # right after each commit, which the router does several times a second.
        tuned["retry_backoff_ms"] = settings.transaction_retry_backoff_ms
    return AIOKafkaProducer(**client_options(settings), **{**tuned, **options})


def admin_client(settings: KafkaSettings, **options: Any) -> AIOKafkaAdminClient:
    """An aiokafka admin client with the hub's connection settings."""
    return AIOKafkaAdminClient(**client_options(settings), **options)


def faststream_broker(settings: KafkaSettings, **options: Any) -> KafkaBroker:
    """A FastStream Kafka broker with the same servers, TLS context and SASL login as the aiokafka clients."""
    return KafkaBroker(
        # A list: FastStream hands a string to aiokafka as one server, commas and all.
        [s.strip() for s in (settings.bootstrap_servers or "").split(",") if s.strip()],
        security=faststream_security(settings),
        **options,
    )


async def stop_faststream(broker: KafkaBroker) -> None:
    """Stop a FastStream broker, its subscribers' Kafka consumers through ``stop_consumer``.

    FastStream's own stop awaits each consumer's ``stop()``, which aiokafka 0.14 cuts
    short with CancelledError while a broker is away (``stop_consumer``): the audit feed
    stopping during an outage then ended as failed. The consumers are taken from the
    subscribers first (``consumer``, FastStream 0.7's attribute: pinned), so that
    FastStream ends its consume loops without them, and stopped after.
    """
    consumers = []
    for subscriber in broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if isinstance(consumer, AIOKafkaConsumer):
            consumers.append(consumer)
            subscriber.consumer = None  # type: ignore[attr-defined]
    try:
        await broker.stop()
    finally:
        for consumer in consumers:
            await stop_consumer(consumer)


def faststream_batch_consumer(
    settings: KafkaSettings,
    topic: str,
    *,
    group_id: str,
    handler: Callable[[list[bytes]], Awaitable[None]],
    max_records: int = 500,
    **options: Any,
) -> KafkaBroker:
    """A FastStream broker with one subscriber: batches of committed records' values from the start.

    The values are handed over as bytes, not decoded: the handler parses them in one step
    with its own model (FastStream's JSON decoding per record, then a validation of the
    dicts, was a third of the audit feed's time). At-least-once: a batch is acknowledged
    when ``handler`` returns; when it raises, the batch is rewound and read again (NACK).
    """
    broker = faststream_broker(settings, logger=None, **options)
    broker.subscriber(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        batch=True,
        max_records=max_records,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_values,
    )(handler)
    return broker


def _values(message: StreamMessage[Any]) -> list[bytes]:
    # A batch message's body is its records' values (b"" for a tombstone).
    return cast("list[bytes]", message.body)


def quiet_client_logs() -> None:
    """Silence the Kafka client's own log lines (it logs, and itself retries, transient errors)."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


async def broker_ids(bootstrap_servers: str, timeout_seconds: float = 3.0) -> list[int]:
    """Ids of the brokers the cluster's metadata lists now (no TLS, no login); empty when nobody answers.

    For the development brokers in ``hub.dev``, which are probed before any settings exist.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_seconds * 1000)
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    except (TimeoutError, KafkaError, OSError):
        return []
    finally:
        await admin.close()
    return sorted(int(broker["node_id"]) for broker in cluster.get("brokers") or [])


def hub_group(settings: KafkaSettings, *parts: str) -> str:
    """A consumer group of this deployment besides the router's: ``<prefix>.<group id>.<parts>``.

    Two deployments on one cluster that differ in topic prefix or group id never share
    one of these groups.
    """
    return ".".join((settings.topic_prefix, settings.group_id, *parts))


def router_transactional_id(settings: KafkaSettings) -> str:
    """The router's transactional id, ``<group id>-<instance id>`` (the form deployments already use)."""
    return f"{settings.group_id}-{settings.instance_id}"


async def adopt_committed_offsets(
    settings: KafkaSettings, *, legacy_group: str, group: str, topics: list[str]
) -> int:
    """Copy a renamed group's committed offsets on ``topics`` to its new name, once; how many.

    Only when the new group has committed nothing yet, so it runs at most once per group:
    the first start after an upgrade continues where the old name stopped instead of
    reading its topics from the start (which, for webhook delivery, would send every
    retained delivery again). Kept until every deployment has run with the new names.
    Transient failures (e.g. no group coordinator yet on a fresh cluster, whose offsets
    topic is made on first use) are retried for up to two minutes.
    """
    async for attempt in kafka_retrying(
        _ADOPT_RETRY, event="group_offsets_retrying", doing="adopting offsets", give_up_after=120
    ):
        with attempt:
            return await _adopt_committed_offsets(
                settings, legacy_group=legacy_group, group=group, topics=topics
            )
    raise AssertionError("unreachable: tenacity re-raises the last failure")


async def _adopt_committed_offsets(
    settings: KafkaSettings, *, legacy_group: str, group: str, topics: list[str]
) -> int:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        if await admin.list_consumer_group_offsets(group):
            return 0
        legacy = await admin.list_consumer_group_offsets(legacy_group)
    finally:
        await admin.close()
    offsets = {
        tp: meta.offset for tp, meta in legacy.items() if tp.topic in topics and meta.offset >= 0
    }
    if not offsets:
        return 0
    committer = await started_consumer(settings, group_id=group, enable_auto_commit=False)
    try:
        committer.assign(list(offsets))
        await committer.commit(offsets)
    finally:
        await stop_consumer(committer)
    get_logger().info("group_offsets_adopted", group=group, count=len(offsets))
    return len(offsets)


async def tls_failure(
    settings: KafkaSettings, connect_seconds: float = 5.0
) -> KafkaTlsError | None:
    """Try a TLS handshake with each bootstrap server; the first TLS failure, else None.

    aiokafka reports every failed connection as ``KafkaConnectionError("Unable to
    bootstrap ...")`` and keeps the TLS cause only in a log line, so a certificate that
    does not match looks like a broker that is down. This probe tells the two apart.
    A server that does not answer at all is not a TLS failure and is skipped.
    """
    context = ssl_context(settings)
    if context is None or not settings.bootstrap_servers:
        return None
    for server in (s.strip() for s in settings.bootstrap_servers.split(",")):
        host, _, port = server.rpartition(":")
        try:
            async with asyncio.timeout(connect_seconds):
                reader, writer = await asyncio.open_connection(
                    host.strip("[]"), int(port), ssl=context
                )
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(1), _ALERT_WAIT_SECONDS)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        except ssl.SSLError as exc:
            return KafkaTlsError(server, exc)
        except (OSError, TimeoutError, ValueError):
            continue
    return None


async def sasl_failure(settings: KafkaSettings, connect_seconds: float = 5.0) -> KafkaError | None:
    """Log in to each bootstrap server with the configured SASL mechanism; the first refusal.

    Like TLS failures, aiokafka reports refused credentials as a broker that cannot be
    reached ("Unable to bootstrap"), and would be retried forever. A server that does not
    answer is skipped: that is an outage, not a configuration error.
    """
    if not settings.sasl_mechanism or not settings.bootstrap_servers:
        return None
    options = client_options(settings)
    options.pop("bootstrap_servers")
    for server in (s.strip() for s in settings.bootstrap_servers.split(",")):
        host, _, port = server.rpartition(":")
        try:
            async with asyncio.timeout(connect_seconds):
                conn = await create_conn(host.strip("[]"), int(port), **options)
            conn.close()
        except (SaslAuthenticationFailed, UnsupportedSaslMechanismError) as exc:
            return exc
        except (KafkaError, OSError, TimeoutError, ValueError):
            continue
    return None


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    """The partitions of a topic; raises KafkaError (retried by callers) when it is missing."""
    # Asked of the cluster, not of a consumer's metadata cache, which may not list the topic yet.
    (described,) = await admin.describe_topics([topic])
    found = sorted(p["partition"] for p in described["partitions"])
    if described["error_code"] != 0 or not found:
        raise KafkaError(f"topic {topic} is not available")
    return [TopicPartition(topic, p) for p in found]
