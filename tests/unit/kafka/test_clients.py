"""Kafka connection options: TLS and SASL from settings, one place for every client."""

from __future__ import annotations

import asyncio
import ssl
import types
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from faststream.kafka.security import parse_security
from pydantic import SecretStr

from hub.audit.feed import audit_group
from hub.delivery.parking import replay_group
from hub.delivery.webhook import delivery_group
from hub.errors import ConfigurationError
from hub.kafka import clients
from hub.kafka.clients import (
    check_security,
    client_options,
    faststream_security,
    router_transactional_id,
    stop_consumer,
)
from hub.settings import KafkaSettings


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA file, a client certificate with its key, and a second, unrelated key, as PEM files."""
    folder = tmp_path_factory.mktemp("kafka-tls")
    ca = trustme.CA()
    client = ca.issue_cert("hub.example")
    other = ca.issue_cert("other.example")
    files = {
        "ca": folder / "ca.pem",
        "cert": folder / "client.pem",
        "key": folder / "client.key",
        "other_key": folder / "other.key",
        "garbage": folder / "garbage.pem",
        "encrypted_key": folder / "client-encrypted.key",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    other.private_key_pem.write_to_path(str(files["other_key"]))
    files["garbage"].write_text("not a certificate\n", encoding="utf-8")
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    files["encrypted_key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"right-password"),
        )
    )
    return files


def _kafka(**fields: object) -> KafkaSettings:
    return KafkaSettings.model_validate({"bootstrap_servers": "127.0.0.1:9093", **fields})


def test_plaintext_has_no_ssl_context_and_no_login() -> None:
    """PLAINTEXT options name the protocol and carry neither an SSL context nor a login."""
    assert client_options(_kafka()) == {
        "bootstrap_servers": "127.0.0.1:9093",
        "security_protocol": "PLAINTEXT",
    }


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_tls_protocols_get_an_ssl_context_that_trusts_the_ca(
    pki: dict[str, Path], protocol: str
) -> None:
    """SSL and SASL_SSL options carry an SSL context that verifies certificates and hostnames."""
    login = (
        {"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "hub", "sasl_password": "pw"}
        if protocol == "SASL_SSL"
        else {}
    )
    options = client_options(_kafka(security_protocol=protocol, ssl_cafile=pki["ca"], **login))
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert options["security_protocol"] == protocol


def test_hostname_verification_can_be_switched_off(pki: dict[str, Path]) -> None:
    """ssl_check_hostname=False keeps certificate verification but skips the hostname check."""
    context = client_options(
        _kafka(security_protocol="SSL", ssl_cafile=pki["ca"], ssl_check_hostname=False)
    )["ssl_context"]
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, False)


def test_client_certificate_and_key_are_loaded(pki: dict[str, Path]) -> None:
    """A client certificate with its matching key, plain or encrypted with its password, is accepted for SSL."""
    for key, password in ((pki["key"], None), (pki["encrypted_key"], "right-password")):
        check_security(
            _kafka(
                security_protocol="SSL",
                ssl_cafile=pki["ca"],
                ssl_certfile=pki["cert"],
                ssl_keyfile=key,
                ssl_key_password=password,
            )
        )


@pytest.mark.parametrize(
    ("fields", "setting"),
    [
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "SSL_CAFILE"),
        ({"security_protocol": "SSL", "ssl_cafile": "garbage"}, "SSL_CAFILE"),
        ({"security_protocol": "SSL", "ssl_certfile": "/nonexistent/c.pem", "ssl_keyfile": "key"},
         "SSL_CERTFILE"),
        ({"security_protocol": "SSL", "ssl_certfile": "garbage", "ssl_keyfile": "key"},
         "SSL_CERTFILE"),
        ({"security_protocol": "SSL", "ssl_certfile": "cert", "ssl_keyfile": "other_key"},
         "SSL_KEYFILE"),
        ({"security_protocol": "SSL", "ssl_keyfile": "key"}, "SSL_CERTFILE"),
        ({"security_protocol": "SSL", "ssl_certfile": "cert"}, "SSL_KEYFILE"),
        ({"security_protocol": "SSL", "ssl_key_password": "x"}, "SSL_CERTFILE"),
        ({"security_protocol": "SSL", "ssl_certfile": "cert", "ssl_keyfile": "encrypted_key"},
         "SSL_KEY_PASSWORD"),
        ({"security_protocol": "SSL", "ssl_certfile": "cert", "ssl_keyfile": "encrypted_key",
          "ssl_key_password": "wrong"}, "SSL_KEY_PASSWORD"),
        ({"security_protocol": "PLAINTEXT", "ssl_cafile": "ca"}, "SSL_CAFILE"),
        ({"security_protocol": "SASL_PLAINTEXT", "ssl_certfile": "cert"}, "SSL_CERTFILE"),
        ({"security_protocol": "SASL_SSL", "ssl_cafile": "ca"}, "SASL_MECHANISM"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}, "SASL_USERNAME"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
          "sasl_username": "hub"}, "SASL_PASSWORD"),
        ({"security_protocol": "SSL", "sasl_mechanism": "PLAIN"}, "SASL_MECHANISM"),
    ],
)  # fmt: skip
def test_bad_security_settings_name_the_setting(
    pki: dict[str, Path], fields: dict[str, str], setting: str
) -> None:
    """A missing, unreadable or mismatched TLS or SASL setting is a ConfigurationError naming its variable."""
    values = {k: str(pki.get(v, v)) if k.startswith("ssl_") else v for k, v in fields.items()}
    with pytest.raises(ConfigurationError) as raised:
        check_security(_kafka(**values))
    assert raised.value.path == f"HUB_KAFKA__{setting}"
    assert str(raised.value).startswith(f"settings: HUB_KAFKA__{setting}: ")


_COMBINATIONS = [
    ("PLAINTEXT", None),
    ("SSL", None),
    ("SASL_PLAINTEXT", "PLAIN"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
    ("SASL_SSL", "PLAIN"),
    ("SASL_SSL", "SCRAM-SHA-256"),
    ("SASL_SSL", "SCRAM-SHA-512"),
]


@pytest.mark.parametrize(("protocol", "mechanism"), _COMBINATIONS)
def test_faststream_security_gives_the_same_options_as_aiokafka_clients(
    pki: dict[str, Path], protocol: str, mechanism: str | None
) -> None:
    """FastStream's security object yields the protocol, mechanism, login and TLS of client_options."""
    fields: dict[str, object] = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        fields["ssl_cafile"] = pki["ca"]
    if mechanism is not None:
        fields |= {
            "sasl_mechanism": mechanism,
            "sasl_username": "hub",
            "sasl_password": SecretStr("hub-secret"),
        }
    settings = _kafka(**fields)
    expected = client_options(settings)
    parsed = parse_security(faststream_security(settings))
    assert parsed["security_protocol"] == protocol
    assert parsed.get("sasl_mechanism") == mechanism
    assert parsed.get("sasl_plain_username") == expected.get("sasl_plain_username")
    assert parsed.get("sasl_plain_password") == expected.get("sasl_plain_password")
    assert isinstance(parsed.get("ssl_context"), ssl.SSLContext) is protocol.endswith("SSL")


def test_group_and_transactional_ids_of_two_deployments_are_disjoint() -> None:
    """Deployments that differ in prefix or group id share no consumer group or transactional id."""

    def ids(settings: KafkaSettings) -> set[str]:
        return {
            settings.group_id,
            router_transactional_id(settings),
            audit_group(settings),
            delivery_group(settings, "swt-zwolle"),
            replay_group(settings, "swt-zwolle"),
        }

    base = _kafka(topic_prefix="gemeente-a", group_id="hub-a", instance_id="hub-0")
    other_prefix = _kafka(topic_prefix="gemeente-b", group_id="hub-a", instance_id="hub-0")
    other_group = _kafka(topic_prefix="gemeente-a", group_id="hub-b", instance_id="hub-0")
    assert len(ids(base)) == 5
    assert ids(base) & ids(other_group) == set()
    assert ids(base) & ids(other_prefix) == {"hub-a", "hub-a-hub-0"}


def test_default_ids_keep_the_routers_form() -> None:
    """With default settings the router keeps its group and transactional id; the others carry the prefix."""
    settings = _kafka(instance_id="hub-0")
    assert (settings.group_id, router_transactional_id(settings)) == (
        "hub-router",
        "hub-router-hub-0",
    )
    assert audit_group(settings) == "sociaaldomein.hub-router.audit"
    assert delivery_group(settings, "swt-zwolle") == "sociaaldomein.hub-router.webhook.swt-zwolle"
    assert replay_group(settings, "swt-zwolle") == (
        "sociaaldomein.hub-router.webhook-replay.swt-zwolle"
    )


def test_transactional_producers_retry_a_refused_request_after_the_short_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transaction's first records, refused while the last one's markers are written, are retried soon.

    Only transactional producers: the others never meet that refusal and keep aiokafka's
    default. An explicit option still wins.
    """
    built: list[dict[str, object]] = []
    monkeypatch.setattr(clients, "AIOKafkaProducer", lambda **options: built.append(options))
    settings = _kafka(transaction_retry_backoff_ms=15)
    clients.producer(settings, transactional_id="hub-router-hub-0")
    clients.producer(settings)
    clients.producer(settings, transactional_id="hub-kpi", retry_backoff_ms=250)
    assert built[0]["retry_backoff_ms"] == 15
    assert "retry_backoff_ms" not in built[1]
    assert built[2]["retry_backoff_ms"] == 250
    assert KafkaSettings().transaction_retry_backoff_ms == 20


def test_a_tls_context_is_built_once_and_anew_for_a_replaced_file(
    pki: dict[str, Path], tmp_path: Path
) -> None:
    """Every client shares one context (a trust store takes ~20 ms to load); a rotated CA file gives a new one."""
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pki["ca"].read_bytes())
    settings = _kafka(security_protocol="SSL", ssl_cafile=ca_file)
    first = client_options(settings)["ssl_context"]

    assert client_options(settings)["ssl_context"] is first
    assert (
        client_options(_kafka(security_protocol="SSL", ssl_cafile=ca_file))["ssl_context"] is first
    )
    unverified = _kafka(security_protocol="SSL", ssl_cafile=ca_file, ssl_check_hostname=False)
    assert client_options(unverified)["ssl_context"] is not first

    rotated = trustme.CA()
    staged = tmp_path / "ca.pem.new"
    rotated.cert_pem.write_to_path(str(staged))
    staged.replace(ca_file)  # as a certificate manager rotates a file: a new one moved in place
    renewed = client_options(settings)["ssl_context"]

    assert renewed is not first
    assert [c["subject"] for c in renewed.get_ca_certs()] != [
        c["subject"] for c in first.get_ca_certs()
    ]


def test_a_wrong_key_password_is_refused_after_the_right_one_was_used(
    pki: dict[str, Path],
) -> None:
    """A context built with the right password is not handed to settings with a wrong one."""

    def settings(password: str) -> KafkaSettings:
        return _kafka(
            security_protocol="SSL",
            ssl_cafile=pki["ca"],
            ssl_certfile=pki["cert"],
            ssl_keyfile=pki["encrypted_key"],
            ssl_key_password=password,
        )

    assert isinstance(client_options(settings("right-password"))["ssl_context"], ssl.SSLContext)
    with pytest.raises(ConfigurationError, match="SSL_KEY_PASSWORD"):
        client_options(settings("wrong-password"))
    assert "right-password" not in repr(clients._CONTEXTS)


class _CutShort:
    """A consumer whose stop aiokafka 0.14 cuts short: its fetcher awaited a cancelled fetch task.

    The first of several fetch tasks (one per broker) raised out of ``Fetcher.close``, so
    the others were never cancelled and the client never closed.
    """

    def __init__(self, tasks: list[asyncio.Task[None]]) -> None:
        self._fetcher = types.SimpleNamespace(_pending_tasks=set(tasks))
        self.client_closed = False
        self._client = types.SimpleNamespace(close=self._close)

    async def _close(self) -> None:
        self.client_closed = True

    async def stop(self) -> None:
        raise asyncio.CancelledError


async def test_stop_consumer_finishes_a_stop_aiokafka_cut_short() -> None:
    """Not cancelled itself: no CancelledError, every fetch task cancelled, the client closed."""
    tasks = [asyncio.create_task(asyncio.sleep(60)) for _ in range(3)]
    reader = _CutShort(tasks)
    await stop_consumer(reader)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert [task.cancelled() for task in tasks] == [True, True, True]
    assert reader.client_closed


async def test_stop_consumer_closes_the_client_and_raises_when_its_caller_is_cancelled() -> None:
    """A real cancellation of the caller goes on, after the client is closed."""
    reader = _CutShort([])
    started = asyncio.Event()

    async def stopping() -> None:
        started.set()
        await asyncio.sleep(60)

    async def caller() -> None:
        try:
            await stopping()
        finally:
            await stop_consumer(reader)  # type: ignore[arg-type]

    task = asyncio.create_task(caller())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reader.client_closed
