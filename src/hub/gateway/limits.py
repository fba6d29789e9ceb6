"""Limits per request, per partner and per client address: body size and time, events and
failed authentications per window.

The body is read as a stream and refused (413) as soon as it passes the limit, and before
reading at all when Content-Length already says it would: an oversized request never sits
in memory whole. A body that does not arrive in time is refused with 408. Both answers
close the connection, as the rest of the body was never read.

Failed authentications count per client address (``AuthFailureLimiter``): past the limit,
every request from that address is refused with 429 until the window has room again, a
valid key included, so that guessing cannot go on at the limit's pace and learn from a
success.

The rate limit counts events per partner in a moving window (the ``limits`` library,
in memory): a batch costs one per event, every other request one. An instance counts on
its own; several gateway instances each allow the configured rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import ClientDisconnect, Request

from hub.errors import ErrorCode, ErrorDetail
from hub.gateway.problems import Problem, ProblemCode, ProblemError

__all__ = [
    "ON_LOOP_BYTES",
    "AuthFailureLimiter",
    "PartnerLanes",
    "PartnerRateLimiter",
    "body_too_large",
    "event_too_large",
    "read_body",
]

ON_LOOP_BYTES: Final = 8 * 1024
"""A body up to this size is read and checked on the event loop: under a millisecond for an
event, up to about 20 ms for the costliest JSON (a batch of bare numbers; docs/benchmarks.md)."""

_T = TypeVar("_T")

# The rest of the body was never read: the connection cannot carry another request.
_CLOSE: Final = {"Connection": "close"}


class _MovingWindows:
    """Moving windows (limits syntax, in memory) counted per key; refuses with 429."""

    def __init__(self, spec: str, code: ProblemCode) -> None:
        self._items: list[RateLimitItem] = parse_many(spec)
        self._code = code
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def close(self) -> None:
        """Stop the storage's background expiry task, so none is left on a closed loop."""
        timer = getattr(self._storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _refuse(self, item: RateLimitItem, key: str) -> None:
        stats = await self._limiter.get_window_stats(item, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ProblemError(
            Problem(429, self._code.value, headers={"Retry-After": str(retry_after)})
        )


class AuthFailureLimiter(_MovingWindows):
    """Counts failed authentications per client address; refuses the address past the limit."""

    def __init__(self, spec: str) -> None:
        super().__init__(spec, ProblemCode.AUTHENTICATION_THROTTLED)

    async def precheck(self, address: str) -> None:
        """Refuse (429) any request from an address with no failures left in a window."""
        for item in self._items:
            if not await self._limiter.test(item, address):
                await self._refuse(item, address)

    async def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        for item in self._items:
            await self._limiter.hit(item, address)


class PartnerRateLimiter(_MovingWindows):
    """Counts events per partner in a moving window; refuses with 429 and Retry-After."""

    def __init__(self, spec: str) -> None:
        super().__init__(spec, ProblemCode.RATE_LIMITED)

    @property
    def smallest(self) -> int:
        """The smallest number of events any configured window allows."""
        return min(item.amount for item in self._items)

    async def precheck(self, partner_id: str) -> None:
        """Refuse (429) a partner with no room left, before its body is read; takes nothing."""
        for item in self._items:
            if not await self._limiter.test(item, partner_id):
                await self._refuse(item, partner_id)

    async def charge(self, partner_id: str, cost: int = 1) -> None:
        """Take ``cost`` where there is room, refusing nothing: for a request already refused.

        Its own answer stands (a 408 or 413 closes the connection; a 429 would not): the
        next request finds the windows used.
        """
        for item in self._items:
            await self._limiter.hit(item, partner_id, cost=cost)

    async def check(self, partner_id: str, cost: int = 1) -> None:
        """Take ``cost`` from every window of this partner, or raise ProblemError(429)."""
        for item in self._items:
            if not await self._limiter.test(item, partner_id, cost=cost):
                await self._refuse(item, partner_id)
        for item in self._items:
            if not await self._limiter.hit(item, partner_id, cost=cost):
                await self._refuse(item, partner_id)  # another request took the rest meanwhile


class PartnerLanes:
    """Work on a large request body: in the gateway's body threads, one thread at a time per partner.

    Reading JSON and checking the contract is pure CPU work, 0.2-3 s for a hostile MiB by the
    JSON's shape (docs/benchmarks.md, "The gateway's lanes"). Done on the event loop, one
    partner sending large bodies within its rate limit held every other partner's
    requests for as long as they came. A body over ``ON_LOOP_BYTES`` is worked on in one
    of ``workers`` threads of its own pool (not the loop's default executor, which other
    work shares), each step of a partner's body waiting for its previous one: one partner
    has one thread at a time whatever it sends in parallel, and all partners together
    ``workers``. The threads share the interpreter with the loop (the JSON parser, in
    Rust, holds it for its whole call, 16-34 ms for a MiB; the rest is Python), so
    other requests are slowed, not held. A small body stays on the loop (``ON_LOOP_BYTES``),
    kept free of thread hand-offs.
    """

    def __init__(self, workers: int = 2) -> None:
        self._lanes: dict[str, asyncio.Lock] = {}
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None  # made at first use, again after close

    async def run(self, partner_id: str, size: int, work: Callable[[], _T]) -> _T:
        """``work()``, on the loop for a body of ``size`` up to ``ON_LOOP_BYTES``, else in the partner's lane."""
        if size <= ON_LOOP_BYTES:
            return work()
        lane = self._lanes.setdefault(partner_id, asyncio.Lock())  # one per registered partner
        async with lane:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix="gateway-body"
                )
            # With the caller's context, as asyncio.to_thread does (log context, metrics).
            context = contextvars.copy_context()
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, functools.partial(context.run, work)
            )

    def close(self) -> None:
        """Let the threads end once their work is done; a later body makes new ones."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)


def body_too_large() -> ProblemError:
    """413 BODY_TOO_LARGE: a body over the gateway's limit (a batch, an endpoint's document)."""
    return ProblemError(Problem(413, ProblemCode.BODY_TOO_LARGE.value, headers=_CLOSE))


def event_too_large() -> ProblemError:
    """413 EVENT_TOO_LARGE for one event whose body is over the limit: the contract's code for it.

    The event was not read, so its size is not known, only that it came larger than the
    gateway takes (at least 768 KiB: the contract's 256 KiB written with escapes); the error
    says just that.
    """
    unread = ErrorDetail(
        "",
        ErrorCode.EVENT_TOO_LARGE,
        "The request body is over the gateway's limit, so the event was not read; an event "
        "is at most 256 KiB (its compact JSON): split it over several events.",
    )
    return ProblemError(
        Problem(413, ErrorCode.EVENT_TOO_LARGE.value, errors=(unread,), headers=_CLOSE)
    )


async def read_body(
    request: Request,
    *,
    max_bytes: int,
    timeout_seconds: float,
    too_large: Callable[[], ProblemError] = body_too_large,
) -> bytes:
    """The request body, read as a stream within ``max_bytes`` (else ``too_large``, a 413) and the time (else 408).

    A body with a content coding (``Content-Encoding`` other than ``identity``) is 415
    before it is read: the gateway reads bodies as sent, and its limits count those bytes.
    (A request with both Content-Length and Transfer-Encoding never gets here: 400 for
    every route, ``hub.gateway.app``.)
    """
    codings = [
        coding.strip().lower()
        for value in request.headers.getlist("content-encoding")
        for coding in value.split(",")
    ]
    if any(coding not in ("", "identity") for coding in codings):
        raise ProblemError(
            Problem(
                415,
                ProblemCode.CONTENT_ENCODING_UNSUPPORTED.value,
                # RFC 9110, 15.5.16: name the codings the server takes.
                headers={**_CLOSE, "Accept-Encoding": "identity"},
            )
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ProblemError(Problem(400, ProblemCode.BAD_REQUEST.value))
        if int(declared) > max_bytes:
            raise too_large()
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise too_large()
                chunks.append(chunk)
    except TimeoutError:
        raise ProblemError(
            Problem(408, ProblemCode.REQUEST_TIMEOUT.value, headers=_CLOSE)
        ) from None
    except ClientDisconnect:
        # Nobody will read the answer; a problem keeps the exception out of the logs.
        raise ProblemError(Problem(400, ProblemCode.BAD_REQUEST.value)) from None
    return b"".join(chunks)
