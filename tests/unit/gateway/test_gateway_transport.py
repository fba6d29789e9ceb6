"""Transport defaults: plain HTTP on loopback only unless allowed, connection and auth limits."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from hub.errors import ConfigurationError
from hub.gateway import GatewaySettings
from hub.gateway.server import ConnectionGuard, check_transport, is_loopback

from .gatewaytest import AppFactory, auth, referral

_EX_CONFIG = 78


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.10.20.30", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost.", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("gateway.example", False),
    ],
)
def test_loopback_is_127_0_0_0_8_and_1_and_localhost(host: str, loopback: bool) -> None:
    """Only 127.0.0.0/8, ::1 and localhost count as loopback; every other host does not."""
    assert is_loopback(host) is loopback


def test_plain_http_on_a_non_loopback_host_is_refused_naming_the_setting() -> None:
    """Plain HTTP on 0.0.0.0 without allow_plain_http raises a ConfigurationError that names the setting."""
    with pytest.raises(ConfigurationError) as raised:
        check_transport(GatewaySettings(host="0.0.0.0"))
    assert raised.value.path == "gateway.allow_plain_http"
    assert "HUB_GATEWAY__ALLOW_PLAIN_HTTP" in str(raised.value)


@pytest.mark.parametrize(
    "settings",
    [
        GatewaySettings(host="127.0.0.1"),
        GatewaySettings(host="::1"),
        GatewaySettings(host="localhost"),
        GatewaySettings(host="0.0.0.0", allow_plain_http=True),
        GatewaySettings(
            host="0.0.0.0", tls_certfile=Path("server.pem"), tls_keyfile=Path("server.key")
        ),
    ],
    ids=["ipv4-loopback", "ipv6-loopback", "localhost", "allowed", "tls"],
)
def test_loopback_allowed_or_tls_transport_passes(settings: GatewaySettings) -> None:
    """Plain HTTP on loopback, plain HTTP explicitly allowed, and TLS on any host all pass."""
    check_transport(settings)


def test_hub_gateway_on_0_0_0_0_without_tls_exits_78_naming_the_setting() -> None:
    """`hub gateway --host 0.0.0.0` without TLS exits 78 before listening, naming HUB_GATEWAY__ALLOW_PLAIN_HTTP."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HUB_") or key == "HUB_ENVIRONMENT"
    }
    env |= {
        "HUB_ENVIRONMENT": "development",
        "HUB_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "HUB_LOGGING__FORMAT": "json",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "hub.cli", "gateway", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == _EX_CONFIG
    assert "configuration_invalid" in output
    assert "HUB_GATEWAY__ALLOW_PLAIN_HTTP" in output
    assert "gateway_starting" not in output


def test_connection_guard_admits_up_to_the_cap_per_address() -> None:
    """The guard admits up to the cap per address, counts addresses apart, and admits again after a release."""
    guard = ConnectionGuard(per_client=2)
    assert [guard.admit("127.0.0.2") for _ in range(3)] == [True, True, False]
    assert guard.admit("127.0.0.1") is True
    guard.release("127.0.0.2")
    assert guard.admit("127.0.0.2") is True
    assert guard.open_from("127.0.0.2") == 2
    guard.release("127.0.0.1")
    assert guard.open_from("127.0.0.1") == 0


def test_connections_per_client_must_stay_below_the_global_limit() -> None:
    """max_connections_per_client at or above limit_concurrency is refused, naming no value."""
    with pytest.raises(ValidationError) as raised:
        GatewaySettings(limit_concurrency=100, max_connections_per_client=100)
    assert "max_connections_per_client must be below limit_concurrency" in str(raised.value)


def test_auth_failure_limit_must_parse() -> None:
    """An auth_failure_limit that is not in limits syntax is refused at its path."""
    with pytest.raises(ValidationError) as raised:
        GatewaySettings(auth_failure_limit="often")
    assert [error["loc"] for error in raised.value.errors()] == [("auth_failure_limit",)]


@asynccontextmanager
async def _client_from(app: Any, address: str) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)),
            base_url="http://gateway.test",
            timeout=10,
        ) as client,
    ):
        yield client


async def test_only_failed_authentications_count_towards_the_limit(
    make_app: AppFactory, settings: GatewaySettings
) -> None:
    """Successful requests take nothing from the failed-authentication window; the third failure of two allowed is 429."""
    app = make_app(settings=settings.model_copy(update={"auth_failure_limit": "2/minute"}))
    async with _client_from(app, "192.0.2.7") as client:
        good = [await client.post("/events", json=referral(), headers=auth()) for _ in range(5)]
        bad = [
            await client.get("/events/x", headers={"Authorization": "Bearer wrong"})
            for _ in range(3)
        ]
    assert [r.status_code for r in good] == [202] * 5
    assert [r.status_code for r in bad] == [401, 401, 429]
    assert bad[2].json()["code"] == "AUTHENTICATION_THROTTLED"
    assert bad[2].json()["detail"] == (
        "Too many failed authentications from this address; retry after the time given in "
        "Retry-After."
    )
