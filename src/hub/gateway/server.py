"""Running the gateway under uvicorn: TLS and client certificates, no access log, graceful stop.

uvicorn's access log would write the raw request path, and ``GET /events/{id}`` carries a
partner's event id there; the app logs each request by endpoint name instead
(``http_request``), so uvicorn's is off and its logging configuration is left alone.

Slow and half-open clients are met in the protocol (``GatewayProtocol``): a cap on open
connections per client address, a deadline for a request's headers, and a limit on requests
per keep-alive connection. Plain HTTP is served on a loopback address only, unless
``allow_plain_http`` says otherwise (``check_transport``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
from collections.abc import Sequence
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.utils import get_remote_addr

from hub.errors import ConfigurationError
from hub.gateway import metrics
from hub.gateway.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemCode
from hub.gateway.tls import TLSExtensionProtocol
from hub.observability.serving import ServiceServer
from hub.settings import GatewaySettings

__all__ = [
    "ConnectionGuard",
    "GatewayProtocol",
    "GatewayServer",
    "check_transport",
    "is_loopback",
    "uvicorn_config",
]

_GRACEFUL_SHUTDOWN_SECONDS = 10


def uvicorn_config(app: Any, settings: GatewaySettings) -> uvicorn.Config:
    """The uvicorn configuration for the gateway app and its settings."""
    tls: dict[str, Any] = {}
    if settings.tls_certfile is not None:
        tls = {
            "ssl_certfile": str(settings.tls_certfile),
            "ssl_keyfile": str(settings.tls_keyfile),
        }
    if settings.tls_client_ca is not None:
        tls["ssl_ca_certs"] = str(settings.tls_client_ca)
        tls["ssl_cert_reqs"] = (
            ssl.CERT_REQUIRED if settings.tls_client_cert == "required" else ssl.CERT_OPTIONAL
        )
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=gateway_protocol(settings),
        ws="none",
        lifespan="on",
        access_log=False,
        log_config=None,
        proxy_headers=False,  # no X-Forwarded-*: the gateway trusts no proxy by default
        server_header=False,
        limit_concurrency=settings.limit_concurrency,
        timeout_keep_alive=settings.timeout_keep_alive,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        **tls,
    )


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` listens on this machine only (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name, or "" (every interface): not provably local


def check_transport(settings: GatewaySettings) -> None:
    """Refuse plain HTTP on a non-loopback host unless ``allow_plain_http`` is set."""
    plain = settings.tls_certfile is None
    if plain and not settings.allow_plain_http and not is_loopback(settings.host):
        raise ConfigurationError(
            "settings",
            "gateway.allow_plain_http",
            "plain HTTP on a non-loopback host; configure TLS (HUB_GATEWAY__TLS_CERTFILE, "
            "HUB_GATEWAY__TLS_KEYFILE) or set HUB_GATEWAY__ALLOW_PLAIN_HTTP=true",
        )


class ConnectionGuard:
    """Counts the open connections per client address of one server; admits up to a cap."""

    def __init__(self, per_client: int) -> None:
        self._per_client = per_client
        self._open: dict[str, int] = {}

    def admit(self, address: str) -> bool:
        """Count one more connection from ``address``; False (not counted) past the cap."""
        count = self._open.get(address, 0)
        if count >= self._per_client:
            return False
        self._open[address] = count + 1
        return True

    def release(self, address: str) -> None:
        """An admitted connection from ``address`` has closed."""
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)

    def open_from(self, address: str) -> int:
        """Connections now open from ``address``."""
        return self._open.get(address, 0)


class GatewayProtocol(TLSExtensionProtocol):
    """uvicorn's h11 protocol that also resists slow, half-open and greedy clients.

    Hand-written because uvicorn (0.54) has no per-address connection cap and no header
    deadline: its ``limit_concurrency`` counts every
    connection alike, so one address holding a thousand half-open connections makes it
    answer 503 to everyone, and its only idle timer restarts on every byte received, so a
    client dripping one header line every few seconds holds a connection for ever. A
    reverse proxy in front (nginx ``limit_conn``, ``client_header_timeout``) does the same,
    but the gateway must hold on its own. Per connection:

    - past ``max_connections_per_client`` open connections from one address, a new one is
      closed at once, before it counts towards ``limit_concurrency``;
    - from accepting the connection, and again from the end of each response, the next
      request's headers must be complete within ``header_timeout_seconds``, however slowly
      bytes keep coming; else the connection is closed (the body has its own timeout, in the
      app: ``body_timeout_seconds``);
    - the ``max_requests_per_connection``-th answer says ``Connection: close``.

    Connections are ended with ``abort()``: nothing is owed to such a client, and a TLS
    close would wait for a close_notify the client may never send.
    """

    guard: ClassVar[ConnectionGuard]
    header_timeout: ClassVar[float]
    max_requests: ClassVar[int]

    _address: str = ""
    _admitted: bool = False
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Admit the connection under the per-address cap and start the header deadline."""
        remote = get_remote_addr(transport)
        self._address = remote[0] if remote else ""
        if not self.guard.admit(self._address):
            self.transport = transport
            metrics.CONNECTIONS_CLOSED.labels(reason="per_client_limit").inc()
            transport.abort()
            return
        self._admitted = True
        super().connection_made(transport)
        self.app = _closing_after(self.app, self.max_requests)
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Release the connection's place under the cap; uvicorn's clean-up for admitted ones."""
        if not self._admitted:
            return  # never reached uvicorn's bookkeeping
        self._admitted = False
        self._cancel_header_timer()
        self.guard.release(self._address)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """Start the deadline for the next request's headers once an answer is out."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_header_timer()

    def send_400_response(self, msg: str) -> None:
        """Answer a request the HTTP layer cannot parse with a problem body, and close.

        uvicorn answers it in plain text; every error the gateway answers itself is an RFC 9457 problem
        (a Content-Length that is not a number, a garbled request line, an unknown
        Transfer-Encoding). ``msg`` is uvicorn's sentence, not used: the detail is fixed.
        When an answer is already on its way (a broken chunk after the app answered), none
        can follow: the connection is closed.
        """
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            self.transport.close()
            return
        body = json.dumps(Problem(400, ProblemCode.BAD_REQUEST.value).body()).encode()
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()

    def _start_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            # No request is being served: the next one's headers (or the unread rest of the
            # last one's body) did not arrive in time.
            metrics.CONNECTIONS_CLOSED.labels(reason="header_timeout").inc()
            self.transport.abort()


def gateway_protocol(settings: GatewaySettings) -> type[GatewayProtocol]:
    """A ``GatewayProtocol`` class for one server: its own connection count and limits."""

    class _ServerProtocol(GatewayProtocol):
        guard = ConnectionGuard(settings.max_connections_per_client)
        header_timeout = settings.header_timeout_seconds
        max_requests = settings.max_requests_per_connection

    return _ServerProtocol


def _closing_after(app: Any, limit: int) -> Any:
    """The app for one connection: its ``limit``-th answer carries ``Connection: close``."""
    served = 0

    async def app_closing_after(scope: Any, receive: Any, send: Any) -> None:
        nonlocal served
        served += 1
        if served < limit:
            await app(scope, receive, send)
            return

        async def send_closing(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_closing)

    return app_closing_after


class GatewayServer:
    """Serves the gateway app until ``stop`` is set; usable as a service of ``run_until_signalled``."""

    def __init__(self, app: Any, settings: GatewaySettings) -> None:
        check_transport(settings)
        self._server = ServiceServer(uvicorn_config(app, settings))
        self._started = asyncio.Event()

    @property
    def started(self) -> asyncio.Event:
        """Set once the socket listens and the app's lifespan has started."""
        return self._started

    @property
    def ports(self) -> list[int]:
        """The ports listened on (useful with port 0)."""
        return self._server.ports

    async def run(self, stop: asyncio.Event, *, sockets: Sequence[socket.socket] = ()) -> None:
        """Serve until ``stop`` is set, then finish open requests (bounded) and return."""
        await self._server.serve_until(stop, on_started=self._started.set, sockets=sockets)
