"""The gateway under real uvicorn against hostile clients: slow, half-open, guessing keys.

Attackers connect from another loopback address (127.0.0.2, bound as the client socket's
source address) than the partner (127.0.0.1), so the per-address limits can tell them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from hub.connectors.registry import PartnerRegistry
from hub.gateway import GatewaySettings
from hub.gateway.testing import with_credentials
from hub.settings import KafkaSettings
from hub.testing import demo_registry, make_event

from .gatewaytest import ServerThread, gateway_topics

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
GP_KEY = "hostile-key-gp-de-linde"
PARTNER = "127.0.0.1"
ATTACKER = "127.0.0.2"
HEADER_TIMEOUT = 4.0
PER_CLIENT = 50


@pytest.fixture(scope="module")
def registry() -> PartnerRegistry:
    """The demo registry with an API key for GP de Linde."""
    return with_credentials(demo_registry(), api_keys={"gp-de-linde": [GP_KEY]})


@pytest.fixture(scope="module")
async def kafka(kafka_bootstrap: str, registry: PartnerRegistry) -> AsyncIterator[KafkaSettings]:
    """Kafka settings with a prefix of this module's own; the hub's topics, deleted afterwards."""
    async with gateway_topics(kafka_bootstrap, registry, prefix="gwh") as settings:
        yield settings


@asynccontextmanager
async def _gateway(
    kafka: KafkaSettings,
    registry: PartnerRegistry,
    trust: ssl.SSLContext | None = None,
    **changes: Any,
) -> AsyncIterator[str]:
    """A running, ready gateway with these settings (HTTPS when ``trust`` is given); its URL."""
    settings = GatewaySettings.model_validate(
        {
            "header_timeout_seconds": HEADER_TIMEOUT,
            "max_connections_per_client": PER_CLIENT,
            "rate_limit": "1000000/minute",
            **changes,
        }
    )
    with ServerThread(settings, kafka, registry, host=PARTNER) as server:
        base_url = f"{'https' if trust else 'http'}://{PARTNER}:{server.port}"
        async with (
            asyncio.timeout(30),
            httpx.AsyncClient(base_url=base_url, verify=trust or True) as client,
        ):
            while True:
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
        yield base_url


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


class Connection:
    """One raw TCP connection from a chosen source address; records when the server ended it."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, opened: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        # When the client began to connect: never after the server accepted, however late
        # a busy test loop takes in the connection (a lifetime is at least the server's hold).
        self.opened = opened
        self.received = b""
        self.ended = asyncio.get_running_loop().create_task(self._until_closed())

    @classmethod
    async def open(cls, port: int, source: str, tls: ssl.SSLContext | None = None) -> Connection:
        opened = time.monotonic()
        reader, writer = await asyncio.open_connection(
            PARTNER, port, local_addr=(source, 0), ssl=tls
        )
        return cls(reader, writer, opened)

    async def _until_closed(self) -> float:
        with contextlib.suppress(OSError):  # a reset, or a TLS connection cut short
            while chunk := await self.reader.read(65536):
                self.received += chunk
        return time.monotonic()

    @property
    def lifetime(self) -> float:
        """Seconds from connecting until the server closed the connection (once it has)."""
        return self.ended.result() - self.opened

    async def drip(self, first: bytes, line: bytes, interval: float, limit: float = 15) -> None:
        """Send ``first``, then ``line`` every ``interval`` s, until the server closes (or ``limit`` s)."""
        self.writer.write(first)
        stop = time.monotonic() + limit
        while not self.ended.done() and time.monotonic() < stop:
            await asyncio.sleep(interval)
            if not self.ended.done():
                self.writer.write(line)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
        if not self.ended.done():
            self.ended.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.ended


@asynccontextmanager
async def _connections() -> AsyncIterator[list[Connection]]:
    opened: list[Connection] = []
    try:
        yield opened
    finally:
        await asyncio.gather(*(connection.close() for connection in opened))


def _referral_request() -> dict[str, Any]:
    return {
        "content": json.dumps(make_event(REFERRAL)),
        "headers": {
            "Authorization": f"Bearer {GP_KEY}",
            "Content-Type": "application/cloudevents+json",
        },
    }


async def test_slow_and_half_open_connections_from_one_address_do_not_lock_out_a_partner(
    kafka: KafkaSettings, registry: PartnerRegistry
) -> None:
    """300 dripping and 1,010 half-open connections from 127.0.0.2 leave a partner at 127.0.0.1 answered 202, and each is closed by the per-address cap or the header timeout."""
    async with _gateway(kafka, registry) as base_url, _connections() as attack:
        port = _port(base_url)
        slow = await asyncio.gather(*(Connection.open(port, ATTACKER) for _ in range(300)))
        attack.extend(slow)
        drips = [
            asyncio.create_task(
                connection.drip(b"POST /events HTTP/1.1\r\nHost: gw\r\n", b"X-Drip: 1\r\n", 0.5)
            )
            for connection in slow
        ]
        for _ in range(10):  # in tens, so the listen backlog is never the limit
            attack.extend(
                await asyncio.gather(*(Connection.open(port, ATTACKER) for _ in range(101)))
            )
        connected = time.monotonic()
        assert connected - attack[0].opened < HEADER_TIMEOUT, "connecting took too long to test"

        async with httpx.AsyncClient(base_url=base_url, timeout=10) as partner:
            started = time.monotonic()
            response = await partner.post("/events", **_referral_request())
            answered = time.monotonic() - started
        assert response.status_code == 202
        assert answered < 2.0

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HEADER_TIMEOUT + 5):
                await asyncio.gather(*(connection.ended for connection in attack))
        still_open = sum(not connection.ended.done() for connection in attack)
        for drip in drips:
            drip.cancel()
        assert still_open == 0

    # A connection counts from when the client began to connect, a little before the server
    # accepted it: a held one lives at least the header timeout, however busy this loop was.
    held = [c for c in attack if c.lifetime >= HEADER_TIMEOUT - 0.5]
    assert len(attack) == 1310
    assert held == attack[:PER_CLIENT]  # the first 50, all of them dripping headers
    assert max(c.lifetime for c in held) < HEADER_TIMEOUT + 1.5
    assert {c.received for c in attack} == {b""}  # closed, never answered


async def test_keep_alive_connection_dripping_its_next_request_is_closed_in_time(
    kafka: KafkaSettings, registry: PartnerRegistry
) -> None:
    """After an answer, a connection that drips the next request's headers is closed once the header timeout has passed."""
    async with _gateway(kafka, registry, timeout_keep_alive=2) as base_url, _connections() as own:
        connection = await Connection.open(_port(base_url), ATTACKER)
        own.append(connection)
        connection.writer.write(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
        async with asyncio.timeout(5):
            while True:
                if connection.received.endswith(b'{"status":"ok"}'):
                    break
                await asyncio.sleep(0.05)
        answered = time.monotonic()
        await connection.drip(b"GET /healthz HTTP/1.1\r\n", b"X-Drip: 1\r\n", 0.5)
        assert connection.ended.done(), "the dripping connection is still open"
        closed_after = connection.ended.result() - answered

    assert connection.received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert HEADER_TIMEOUT - 0.2 <= closed_after < HEADER_TIMEOUT + 1.5


async def test_dripped_body_is_answered_408_within_the_body_timeout(
    kafka: KafkaSettings, registry: PartnerRegistry
) -> None:
    """A POST whose body trickles in is answered 408 REQUEST_TIMEOUT and closed once body_timeout_seconds pass."""
    async with _gateway(kafka, registry, body_timeout_seconds=2) as base_url, _connections() as own:
        connection = await Connection.open(_port(base_url), ATTACKER)
        own.append(connection)
        head = (
            "POST /events HTTP/1.1\r\nHost: gw\r\n"
            f"Authorization: Bearer {GP_KEY}\r\n"
            "Content-Type: application/cloudevents+json\r\nContent-Length: 5000\r\n\r\n"
        )
        await connection.drip(head.encode(), b"{" * 10, 0.25)
        assert connection.ended.done(), "the dripping connection is still open"

    head_text, _, body = connection.received.partition(b"\r\n\r\n")
    assert head_text.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert json.loads(body)["code"] == "REQUEST_TIMEOUT"
    assert b"connection: close\r\n" in head_text.lower()
    assert 2.0 <= connection.lifetime < 3.5


async def test_connection_is_closed_after_max_requests_per_connection(
    kafka: KafkaSettings, registry: PartnerRegistry
) -> None:
    """The third answer on a keep-alive connection limited to three requests says Connection: close, and the server closes it."""
    async with _gateway(kafka, registry, max_requests_per_connection=3) as base_url:
        connection = await Connection.open(_port(base_url), PARTNER)
        try:
            connection.writer.write(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n" * 4)
            async with asyncio.timeout(5):
                await connection.ended
        finally:
            await connection.close()

    answers = connection.received.split(b"HTTP/1.1 ")[1:]
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"200 OK"] * 3
    assert [b"connection: close" in a.lower() for a in answers] == [False, False, True]


async def test_failed_authentications_are_rate_limited_per_client_address(
    kafka: KafkaSettings, registry: PartnerRegistry
) -> None:
    """After 5 failed authentications 127.0.0.2 is answered 429 with Retry-After, even with a valid key, while 127.0.0.1 is served."""
    async with (
        _gateway(kafka, registry, auth_failure_limit="5/minute") as base_url,
        httpx.AsyncClient(
            base_url=base_url, transport=httpx.AsyncHTTPTransport(local_address=ATTACKER)
        ) as attacker,
        httpx.AsyncClient(base_url=base_url) as partner,
    ):
        guesses = [
            await attacker.get("/events/x", headers={"Authorization": f"Bearer guess-{n}"})
            for n in range(6)
        ]
        with_valid_key = await attacker.get(
            "/events/x", headers={"Authorization": f"Bearer {GP_KEY}"}
        )
        elsewhere = await partner.get("/events/x", headers={"Authorization": f"Bearer {GP_KEY}"})

    assert [r.status_code for r in guesses] == [401] * 5 + [429]
    for refused in (guesses[5], with_valid_key):
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["code"] == "AUTHENTICATION_THROTTLED"
    assert elsewhere.status_code == 404


async def test_over_tls_a_dripping_connection_is_closed_and_the_cap_holds(
    kafka: KafkaSettings, registry: PartnerRegistry, tmp_path: Path
) -> None:
    """Over HTTPS, past the cap of 2 per address a connection is closed at once, and dripping ones close at the header timeout."""
    ca = trustme.CA()
    server_pem = tmp_path / "server.pem"
    ca.issue_cert(PARTNER).private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with (
        _gateway(
            kafka,
            registry,
            context,
            tls_certfile=server_pem,
            tls_keyfile=server_pem,
            max_connections_per_client=2,
        ) as base_url,
        _connections() as own,
    ):
        port = _port(base_url)
        for _ in range(3):
            own.append(await Connection.open(port, ATTACKER, tls=context))
        drips = [
            connection.drip(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n", b"X-Drip: 1\r\n", 0.5)
            for connection in own
        ]
        await asyncio.gather(*drips)
        assert all(connection.ended.done() for connection in own), "a connection is still open"
        lifetimes = [connection.lifetime for connection in own]

    assert lifetimes[2] < 1.0
    assert [HEADER_TIMEOUT - 0.5 <= t < HEADER_TIMEOUT + 1.5 for t in lifetimes[:2]] == [True] * 2
    assert {connection.received for connection in own} == {b""}


async def _raw_answer(base_url: str, request: bytes) -> tuple[bytes, bytes, Connection]:
    """Send ``request`` on a new connection; the answer's head and body once the server closed it."""
    connection = await Connection.open(_port(base_url), PARTNER)
    try:
        connection.writer.write(request)
        async with asyncio.timeout(5):
            await connection.ended
    finally:
        await connection.close()
    head, _, body = connection.received.partition(b"\r\n\r\n")
    return head, body, connection


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: abc\r\n",
        b"Content-Length: -1\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
    ],
)
async def test_a_request_the_http_layer_cannot_parse_gets_a_problem_body(
    kafka: KafkaSettings, registry: PartnerRegistry, framing: bytes
) -> None:
    """uvicorn's own 400 is plain text; the gateway's is a problem with a code, and the connection closes."""
    async with _gateway(kafka, registry) as base_url:
        head, body, _ = await _raw_answer(
            base_url,
            b"POST /events HTTP/1.1\r\nHost: gw\r\nContent-Type: application/cloudevents+json\r\n"
            + framing
            + b"\r\n",
        )
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    assert json.loads(body)["code"] == "BAD_REQUEST"


async def test_content_length_with_transfer_encoding_is_400_and_closes(
    kafka: KafkaSettings, registry: PartnerRegistry
) -> None:
    """Both framings in one request (RFC 9112, 6.3): 400 BAD_REQUEST, Connection: close, nothing served after it."""
    event = json.dumps(make_event(REFERRAL)).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(event), event)
    async with _gateway(kafka, registry) as base_url:
        head, body, connection = await _raw_answer(
            base_url,
            b"POST /events HTTP/1.1\r\nHost: gw\r\n"
            + f"Authorization: Bearer {GP_KEY}\r\n".encode()
            + b"Content-Type: application/cloudevents+json\r\n"
            b"Content-Length: 5000000\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked
            + b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n",
        )
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["code"] == "BAD_REQUEST"
    assert connection.received.count(b"HTTP/1.1 ") == 1
