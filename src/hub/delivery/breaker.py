"""A circuit breaker per webhook recipient: stop calling a dead endpoint, probe it after a cool-down.

Written by hand rather than taken from a library: the maintained Python breakers
(pybreaker, circuitbreaker, aiobreaker) are either synchronous, built as decorators
around a call (we need to wait *before* a call and classify its result ourselves), or
little maintained; the state machine below is forty lines and tested on its own.

::

    CLOSED --threshold consecutive failures--> OPEN --cool-down over--> HALF_OPEN
       ^                                        ^                          |
       |                                        +------probe failed--------+
       +----------------------probe succeeded--------------------------------+

In CLOSED every caller may call. In OPEN nobody may until the cool-down has passed. In
HALF_OPEN exactly one caller (the probe) may call; the others wait for its result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failed calls to one recipient and refuses calls while it is open.

    A caller asks ``acquire()`` before each call. ``0.0`` grants the call, and the caller
    then reports exactly one of ``record_success()``, ``record_failure()`` or ``release()``
    (the call ended without a result, e.g. it was cancelled). A positive number refuses the
    call: ask again after that many seconds.
    """

    def __init__(
        self,
        *,
        failure_threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown_seconds <= 0:
            raise ValueError("cooldown_seconds must be positive")
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._refused_until = 0.0  # when the last caller refused means to ask again
        self._pending = 0  # deliveries under way (in an attempt or waiting to retry)

    @property
    def state(self) -> BreakerState:
        """The current state (OPEN turns into HALF_OPEN only when a caller asks)."""
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures recorded since the last success."""
        return self._failures

    def acquire(self) -> float:
        """Grant a call (``0.0``) or say how many seconds to wait before asking again."""
        if self._state is BreakerState.CLOSED:
            return 0.0
        now = self._clock()
        if self._state is BreakerState.OPEN:
            remaining = self._opened_at + self._cooldown - now
            if remaining > 0:
                self._refused_until = now + remaining
                return remaining
            self._state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            # Another caller's probe is in flight; its result decides for everyone.
            wait = min(self._cooldown, 1.0)
            self._refused_until = now + wait
            return wait
        self._probing = True
        return 0.0

    def delivery_started(self) -> None:
        """A delivery to the recipient is under way (its attempts and the waits between)."""
        self._pending += 1

    def delivery_ended(self) -> None:
        """That delivery ended: delivered, or parked."""
        self._pending = max(0, self._pending - 1)

    def holds_back(self) -> bool:
        """True while the breaker keeps calls from the recipient; what operators are shown.

        Not closed, and in its cool-down, probing, or with a delivery under way (attempting,
        or waiting out a retry's back-off, which outgrows the cool-down). Past its cool-down
        with no delivery under way (the last one parked, or replayed by another process),
        it holds nothing back, and the next delivery is its probe.
        """
        if self._state is BreakerState.CLOSED:
            return False
        now = self._clock()
        cooling = self._state is BreakerState.OPEN and now < self._opened_at + self._cooldown
        # A refused caller asks again when told; a little slack for its scheduling.
        waiting = now <= self._refused_until + 1.0
        return cooling or self._probing or waiting or self._pending > 0

    def record_success(self) -> bool:
        """Record a call the recipient answered sanely; True when this closed an open breaker."""
        was_closed = self._state is BreakerState.CLOSED
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probing = False
        return not was_closed

    def record_failure(self) -> bool:
        """Record a failed call; True when this opened a breaker that was closed."""
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return False
        if self._state is BreakerState.CLOSED and self._failures >= self._threshold:
            self._open()
            return True
        return False

    def release(self) -> None:
        """A granted call ended without a result; a half-open breaker lets the next probe through."""
        if self._state is BreakerState.HALF_OPEN:
            self._probing = False

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probing = False
