"""The webhook sender against real sockets: a receiver that drips its answer, a certificate for another host."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import trustme

from hub.delivery.breaker import CircuitBreaker
from hub.delivery.sender import AttemptResult, SendOutcome, WebhookSender, WebhookSettings

KEY = b"sender-test-secret-of-32-bytes!!"
EVENT = {"specversion": "1.0", "id": "evt-1", "subject": "s-1", "data": {"a": 1}}
SETTINGS = WebhookSettings(
    initial_backoff_seconds=0.001,
    max_backoff_seconds=0.005,
    jitter_seconds=0.001,
    max_attempts=2,
    max_elapsed_seconds=60,
    timeout_seconds=1,
    connect_timeout_seconds=1,
    attempt_timeout_seconds=2,
    breaker_failure_threshold=100,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A real TCP server on 127.0.0.1 (TLS when given a context); yields its port."""
    tasks: set[asyncio.Task[None]] = set()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    server = await asyncio.start_server(connection, "127.0.0.1", 0, ssl=tls)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request, then answer one header byte every 0.5 s, forever."""
    await _read_request(reader)
    for byte in b"HTTP/1.1 200 OK\r\nx-drip: " + b"a" * 10_000:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.5)


async def no_content(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request and answer 204 No Content."""
    await _read_request(reader)
    writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
    await writer.drain()


async def _send(
    url: str, verify: ssl.SSLContext | bool = True
) -> tuple[SendOutcome, list[AttemptResult]]:
    attempts: list[AttemptResult] = []

    async def record(result: AttemptResult) -> None:
        attempts.append(result)

    async with httpx.AsyncClient(
        timeout=httpx.Timeout(SETTINGS.timeout_seconds, connect=SETTINGS.connect_timeout_seconds),
        verify=verify,
    ) as client:
        sender = WebhookSender(
            partner_id="p",
            url=url,
            keys=(KEY,),
            settings=SETTINGS,
            client=client,
            breaker=CircuitBreaker(failure_threshold=100, cooldown_seconds=1),
        )
        return await sender.send(EVENT, record), attempts


def _shape(attempts: list[AttemptResult]) -> list[tuple[int, str, int | None, str | None]]:
    return [(a.attempt, a.result, a.status, a.reason) for a in attempts]


async def test_a_receiver_dripping_its_headers_is_cut_off_at_the_attempt_timeout() -> None:
    """Each attempt ends after attempt_timeout_seconds as a retried TIMEOUT, though every read is quick."""
    async with serving(drip) as port:
        started = time.monotonic()
        async with asyncio.timeout(20):
            outcome, attempts = await _send(f"http://127.0.0.1:{port}/hooks")
        elapsed = time.monotonic() - started

    assert outcome == SendOutcome(False, 2, None, "RETRIES_EXHAUSTED")
    assert _shape(attempts) == [
        (1, "failed", None, "TIMEOUT"),
        (2, "parked", None, "RETRIES_EXHAUSTED"),
    ]
    assert 4.0 <= elapsed < 6.0


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority made for these tests."""
    return trustme.CA()


def _server_tls(ca: trustme.CA, hostname: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(hostname).configure_cert(context)
    return context


def _client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_a_certificate_for_another_host_is_reported_as_tls_failed(ca: trustme.CA) -> None:
    """A trusted certificate for the wrong hostname fails each attempt with TLS_FAILED, not CONNECTION_FAILED."""
    async with serving(no_content, tls=_server_tls(ca, "partner.example")) as port:
        outcome, attempts = await _send(f"https://127.0.0.1:{port}/hooks", _client_tls(ca))

    assert outcome == SendOutcome(False, 2, None, "RETRIES_EXHAUSTED")
    assert _shape(attempts) == [
        (1, "failed", None, "TLS_FAILED"),
        (2, "parked", None, "RETRIES_EXHAUSTED"),
    ]


async def test_a_certificate_for_the_right_host_delivers(ca: trustme.CA) -> None:
    """The same CA with a certificate for 127.0.0.1 delivers: only the hostname made the difference."""
    async with serving(no_content, tls=_server_tls(ca, "127.0.0.1")) as port:
        outcome, attempts = await _send(f"https://127.0.0.1:{port}/hooks", _client_tls(ca))

    assert outcome == SendOutcome(True, 1, 204, None)
    assert _shape(attempts) == [(1, "delivered", 204, None)]


async def test_a_refused_connection_is_still_connection_failed() -> None:
    """Nothing listening on the port is CONNECTION_FAILED, as before."""
    async with serving(no_content) as port:
        pass
    outcome, attempts = await _send(f"http://127.0.0.1:{port}/hooks")

    assert outcome == SendOutcome(False, 2, None, "RETRIES_EXHAUSTED")
    assert _shape(attempts) == [
        (1, "failed", None, "CONNECTION_FAILED"),
        (2, "parked", None, "RETRIES_EXHAUSTED"),
    ]
