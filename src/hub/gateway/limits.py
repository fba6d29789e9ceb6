"""Limits per request and per partner: body size and time while reading, events per window.

The body is read as a stream and refused (413) as soon as it passes the limit, and before
reading at all when Content-Length already says it would: an oversized request never sits
in memory whole. A body that does not arrive in time is refused with 408.

The rate limit counts events per partner in a moving window (the ``limits`` library,
in memory): a batch costs one per event, every other request one. An instance counts on
its own; several gateway instances each allow the configured rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import ClientDisconnect, Request

from hub.gateway.problems import Problem, ProblemCode, ProblemError

__all__ = ["PartnerRateLimiter", "read_body"]


class PartnerRateLimiter:
    """Counts events per partner in a moving window; refuses with 429 and Retry-After."""

    def __init__(self, spec: str) -> None:
        self._items: list[RateLimitItem] = parse_many(spec)
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)

    @property
    def smallest(self) -> int:
        """The smallest number of events any configured window allows."""
        return min(item.amount for item in self._items)

    async def precheck(self, partner_id: str) -> None:
        """Refuse (429) a partner with no room left, before its body is read; takes nothing."""
        for item in self._items:
            if not await self._limiter.test(item, partner_id):
                await self._refuse(item, partner_id)

    async def check(self, partner_id: str, cost: int = 1) -> None:
        """Take ``cost`` from every window of this partner, or raise ProblemError(429)."""
        for item in self._items:
            if not await self._limiter.test(item, partner_id, cost=cost):
                await self._refuse(item, partner_id)
        for item in self._items:
            if not await self._limiter.hit(item, partner_id, cost=cost):
                await self._refuse(item, partner_id)  # another request took the rest meanwhile

    async def close(self) -> None:
        """Stop the storage's background expiry task, so none is left on a closed loop."""
        timer = getattr(self._storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _refuse(self, item: RateLimitItem, partner_id: str) -> None:
        stats = await self._limiter.get_window_stats(item, partner_id)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ProblemError(
            Problem(429, ProblemCode.RATE_LIMITED.value, headers={"Retry-After": str(retry_after)})
        )


def _too_large() -> ProblemError:
    return ProblemError(Problem(413, ProblemCode.BODY_TOO_LARGE.value))


async def read_body(request: Request, *, max_bytes: int, timeout_seconds: float) -> bytes:
    """The request body, read as a stream within ``max_bytes`` (else 413) and the time (else 408)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ProblemError(Problem(400, ProblemCode.BAD_REQUEST.value))
        if int(declared) > max_bytes:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large()
                chunks.append(chunk)
    except TimeoutError:
        raise ProblemError(Problem(408, ProblemCode.REQUEST_TIMEOUT.value)) from None
    except ClientDisconnect:
        # Nobody will read the answer; a problem keeps the exception out of the logs.
        raise ProblemError(Problem(400, ProblemCode.BAD_REQUEST.value)) from None
    return b"".join(chunks)
