"""TLS to Kafka: the hub over SSL and SASL_SSL against a broker of its own, and TLS failures named.

The broker here is this module's own (ports 24490-24494, its own run directory): a
SCRAM broker with an SSL listener that requires client certificates and a SASL_SSL
listener, its certificates made by trustme. Its certificate names 127.0.0.1 only, so
connecting through ``localhost`` is a hostname mismatch.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from hub.dev.localkafka import DEFAULT_SCRAM_USERS, LocalKafka, TlsFiles
from hub.gateway import GatewayServer, GatewaySettings, build_gateway_app
from hub.gateway.testing import with_credentials
from hub.kafka.clients import tls_failure
from hub.routing.ids import delivery_id
from hub.settings import HubSettings
from hub.testing import demo_registry, make_event

from .hubtest import isolated_settings, running_hub

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
GP_KEY = "tls-it-key-gp-de-linde"
_PORT = 24490  # this module's broker: 24490 plain, 24491 controller, 24492 SASL, 24493 SSL, 24494 SASL_SSL


@dataclass(frozen=True)
class Pki:
    """PEM files: the test CA, and the hub's client certificate (CN=hub) with its key."""

    ca: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class TlsBroker:
    """The module's broker and the PEM files to reach it."""

    kafka: LocalKafka
    pki: Pki


def _pkcs8(key: trustme.Blob) -> bytes:
    loaded = serialization.load_pem_private_key(key.bytes(), password=None)
    return loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A SCRAM broker with SSL (client certificates required) and SASL_SSL listeners, stopped after."""
    folder = tmp_path_factory.mktemp("kafka-tls")
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    server = ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA)
    client = ca.issue_cert("hub.example", common_name="hub", key_type=trustme.KeyType.RSA)
    files = {name: folder / name for name in ("ca.pem", "server.pem", "server.key")}
    files |= {name: folder / name for name in ("client.pem", "client.key")}
    ca.cert_pem.write_to_path(str(files["ca.pem"]))
    files["server.pem"].write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    files["server.key"].write_bytes(_pkcs8(server.private_key_pem))
    client.cert_chain_pems[0].write_to_path(str(files["client.pem"]))
    client.private_key_pem.write_to_path(str(files["client.key"]))
    kafka = LocalKafka(
        "tls-it",
        _PORT,
        _PORT + 1,
        folder / "broker",
        scram=True,
        sasl_port=_PORT + 2,
        tls=TlsFiles(files["server.pem"], files["server.key"], client_ca=files["ca.pem"]),
        ssl_port=_PORT + 3,
        sasl_ssl_port=_PORT + 4,
    )
    kafka.ensure_running(timeout=180)
    try:
        yield TlsBroker(kafka, Pki(files["ca.pem"], files["client.pem"], files["client.key"]))
    finally:
        kafka.stop()


def _ssl_settings(broker: TlsBroker, bootstrap: str | None = None) -> HubSettings:
    pki = broker.pki
    return isolated_settings(
        bootstrap or broker.kafka.ssl_bootstrap_servers,
        security_protocol="SSL",
        ssl_cafile=pki.ca,
        ssl_certfile=pki.client_cert,
        ssl_keyfile=pki.client_key,
    )


async def test_an_event_flows_from_the_gateway_through_the_router_over_ssl(
    tls_broker: TlsBroker,
) -> None:
    """A referral posted to the gateway reaches the wijkteam's topic with every client on SSL with a client certificate."""
    settings = _ssl_settings(tls_broker)
    registry = with_credentials(demo_registry(), api_keys={"gp-de-linde": [GP_KEY]})
    gateway_settings = GatewaySettings(rate_limit="1000000/minute")
    event = make_event(REFERRAL)
    async with running_hub(settings) as hub:
        app = build_gateway_app(gateway_settings, settings.kafka, registry)
        server = GatewayServer(app, gateway_settings)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            stop = asyncio.Event()
            serving = asyncio.create_task(server.run(stop, sockets=[sock]))
            try:
                async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
                    async with asyncio.timeout(60):
                        while True:
                            ready = server.started.is_set() and (
                                (await client.get("/readyz")).status_code == 200
                            )
                            if ready:
                                break
                            await asyncio.sleep(0.2)
                    response = await client.post(
                        "/events",
                        content=json.dumps(event),
                        headers={
                            "Authorization": f"Bearer {GP_KEY}",
                            "Content-Type": "application/cloudevents+json",
                        },
                    )
                assert response.status_code == 202
                wanted = delivery_id(event["source"], event["id"], "swt-zwolle", None)
                got = await hub.collect(
                    [hub.deliveries_topic("swt-zwolle")],
                    lambda rs: wanted in {r.event()["id"] for r in rs},
                )
            finally:
                stop.set()
                await asyncio.wait_for(serving, 30)
    (delivered,) = [r.event() for r in got if r.event()["id"] == wanted]
    assert (delivered["type"], delivered["subject"]) == (REFERRAL, event["subject"])


async def test_router_and_audit_feed_work_over_sasl_ssl(tls_broker: TlsBroker) -> None:
    """Over SASL_SSL with SCRAM-SHA-512 the router delivers and the FastStream audit feed stores the disclosure."""
    settings = isolated_settings(
        tls_broker.kafka.sasl_ssl_bootstrap_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="hub",
        sasl_password=DEFAULT_SCRAM_USERS["hub"],
        ssl_cafile=tls_broker.pki.ca,
    )
    event = make_event(REFERRAL)
    async with running_hub(settings) as hub:
        stop = asyncio.Event()
        feed = asyncio.create_task(hub.hub.audit_feed.run(stop))
        try:
            await hub.send("gp-de-linde", [event])
            wanted = delivery_id(event["source"], event["id"], "swt-zwolle", None)
            await hub.collect(
                [hub.deliveries_topic("swt-zwolle")],
                lambda rs: wanted in {r.event()["id"] for r in rs},
            )
            for _ in range(300):  # up to a minute
                if hub.hub.audit_feed.stored >= 1:
                    break
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.wait_for(feed, 30)
    assert hub.hub.audit_feed.stored >= 1


async def test_hostname_mismatch_is_named_a_tls_failure(tls_broker: TlsBroker) -> None:
    """A broker certificate that does not name the host is a KafkaTlsError naming SSLCertVerificationError."""
    server = f"localhost:{tls_broker.kafka.ssl_port}"
    failure = await tls_failure(_ssl_settings(tls_broker, server).kafka)
    assert failure is not None
    assert (failure.code, failure.server, failure.exc_type) == (
        "KAFKA_TLS_FAILED",
        server,
        "SSLCertVerificationError",
    )
    assert failure.reason == "Hostname mismatch, certificate is not valid for 'localhost'."


async def test_missing_client_certificate_is_named_a_tls_failure(tls_broker: TlsBroker) -> None:
    """Without the client certificate the SSL listener requires, the probe reports a TLS failure, not a dead broker."""
    settings = isolated_settings(
        tls_broker.kafka.ssl_bootstrap_servers,
        security_protocol="SSL",
        ssl_cafile=tls_broker.pki.ca,
    )
    failure = await tls_failure(settings.kafka)
    assert failure is not None
    # The broker (Java) answers a missing certificate with the bad_certificate alert.
    assert (failure.exc_type, failure.reason) == ("SSLError", "SSLV3_ALERT_BAD_CERTIFICATE")


def _hub_command(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", command],
        env={
            **clean,
            "HUB_ENVIRONMENT": "development",
            "HUB_LOGGING__FORMAT": "json",
            "HUB_AUDIT__STORE_URL": f"sqlite:///{cwd / 'audit.sqlite3'}",
            **env,
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _log_lines(output: str) -> list[dict[str, object]]:
    lines = []
    for line in output.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return lines


def test_hub_run_stops_with_78_on_a_hostname_mismatch(
    tls_broker: TlsBroker, tmp_path: Path
) -> None:
    """`hub run` against a broker whose certificate does not name the host exits 78 with kafka_tls_failed."""
    pki = tls_broker.pki
    result = _hub_command(
        "run",
        {
            "HUB_KAFKA__BOOTSTRAP_SERVERS": f"localhost:{tls_broker.kafka.ssl_port}",
            "HUB_KAFKA__SECURITY_PROTOCOL": "SSL",
            "HUB_KAFKA__SSL_CAFILE": str(pki.ca),
            "HUB_KAFKA__SSL_CERTFILE": str(pki.client_cert),
            "HUB_KAFKA__SSL_KEYFILE": str(pki.client_key),
        },
        tmp_path,
    )
    assert result.returncode == 78, result.stderr[-2000:]
    (line,) = [e for e in _log_lines(result.stderr) if e.get("event") == "kafka_tls_failed"]
    assert line["code"] == "KAFKA_TLS_FAILED"
    assert line["exc_type"] == "KafkaTlsError"
    assert str(line["error"]).startswith(
        f"TLS handshake with Kafka broker localhost:{tls_broker.kafka.ssl_port} failed: "
        "SSLCertVerificationError: Hostname mismatch"
    )


@pytest.mark.parametrize("command", ["run", "gateway"])
@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"HUB_KAFKA__SSL_CAFILE": "/nonexistent/ca.pem"}, "HUB_KAFKA__SSL_CAFILE"),
        ({"HUB_KAFKA__SSL_CERTFILE": "{here}/tls_client.pem"}, "HUB_KAFKA__SSL_KEYFILE"),
        ({"HUB_KAFKA__SSL_CHECK_HOSTNAME": "perhaps"}, "HUB_KAFKA__SSL_CHECK_HOSTNAME"),
    ],
)
def test_bad_tls_settings_stop_start_up_with_78_naming_the_setting(
    command: str, env: dict[str, str], setting: str, tmp_path: Path
) -> None:
    """`hub run` and `hub gateway` refuse a bad TLS setting with exit 78 and a configuration_invalid line naming it."""
    (tmp_path / "tls_client.pem").write_text("placeholder\n", encoding="utf-8")
    result = _hub_command(
        command,
        {
            "HUB_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:9",
            "HUB_KAFKA__SECURITY_PROTOCOL": "SSL",
            **{k: v.format(here=tmp_path) for k, v in env.items()},
        },
        tmp_path,
    )
    assert result.returncode == 78, result.stderr[-2000:]
    (line,) = [e for e in _log_lines(result.stderr) if e.get("event") == "configuration_invalid"]
    assert line.get("path", line.get("paths")) in (setting, [setting])
    assert "Traceback" not in result.stderr
