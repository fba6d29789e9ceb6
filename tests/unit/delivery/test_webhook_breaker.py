"""The per-recipient circuit breaker's state machine."""

from __future__ import annotations

import pytest

from hub.delivery.breaker import BreakerState, CircuitBreaker


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: _Clock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=threshold, cooldown_seconds=10.0, clock=clock)


def test_closed_breaker_grants_every_call_and_opens_after_threshold_failures() -> None:
    """Calls pass while closed; the threshold-th consecutive failure opens it, once."""
    breaker = _breaker(_Clock())

    assert breaker.acquire() == 0.0
    assert breaker.record_failure() is False
    assert breaker.record_failure() is False
    assert breaker.state is BreakerState.CLOSED
    assert breaker.record_failure() is True
    assert breaker.state is BreakerState.OPEN
    assert breaker.record_failure() is False  # a late failure of a concurrent call
    assert breaker.consecutive_failures == 4


def test_success_resets_the_consecutive_count() -> None:
    """A success between failures starts the count again."""
    breaker = _breaker(_Clock())
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.record_success() is False  # it was closed already
    breaker.record_failure()
    breaker.record_failure()

    assert breaker.state is BreakerState.CLOSED


def test_open_breaker_refuses_until_the_cooldown_is_over() -> None:
    """While open, acquire returns the rest of the cool-down."""
    clock = _Clock()
    breaker = _breaker(clock, threshold=1)
    breaker.record_failure()

    assert breaker.acquire() == pytest.approx(10.0)
    clock.now += 4
    assert breaker.acquire() == pytest.approx(6.0)
    assert breaker.state is BreakerState.OPEN


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    """After the cool-down one caller probes, others wait; its success closes the breaker."""
    clock = _Clock()
    breaker = _breaker(clock, threshold=1)
    breaker.record_failure()
    clock.now += 10

    assert breaker.acquire() == 0.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire() > 0  # the probe is in flight
    assert breaker.record_success() is True
    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire() == 0.0
    assert breaker.acquire() == 0.0


def test_failed_probe_opens_again_for_a_full_cooldown() -> None:
    """A failed probe re-opens the breaker, and the cool-down starts again."""
    clock = _Clock()
    breaker = _breaker(clock, threshold=1)
    breaker.record_failure()
    clock.now += 10
    assert breaker.acquire() == 0.0

    assert breaker.record_failure() is False  # reported as opened only when it left CLOSED
    assert breaker.state is BreakerState.OPEN
    assert breaker.acquire() == pytest.approx(10.0)


def test_released_probe_lets_the_next_caller_probe() -> None:
    """A probe that ended without a result (cancelled) frees the slot for another probe."""
    clock = _Clock()
    breaker = _breaker(clock, threshold=1)
    breaker.record_failure()
    clock.now += 10
    assert breaker.acquire() == 0.0
    assert breaker.acquire() > 0

    breaker.release()

    assert breaker.acquire() == 0.0
    assert breaker.state is BreakerState.HALF_OPEN


@pytest.mark.parametrize(
    ("threshold", "cooldown"), [(0, 1.0), (1, 0.0), (1, -1.0)], ids=["threshold", "zero", "neg"]
)
def test_nonsense_settings_are_refused(threshold: int, cooldown: float) -> None:
    """A threshold below 1 or a cool-down that is not positive raises ValueError."""
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker(failure_threshold=threshold, cooldown_seconds=cooldown)


def test_an_open_breaker_past_its_cool_down_with_nobody_asking_holds_nothing_back() -> None:
    """What operators see: held back while cooling, probing or asked; not when idle past the cool-down."""
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30, clock=lambda: now[0])
    assert not breaker.holds_back()
    breaker.record_failure()
    assert breaker.holds_back()  # cooling down
    now[0] = 10.0
    assert breaker.acquire() == 20.0  # a delivery waits
    now[0] = 31.0
    assert breaker.holds_back()  # it will ask again now
    now[0] = 40.0
    assert not breaker.holds_back()  # nobody asked: its deliveries parked or went elsewhere
    assert breaker.state is BreakerState.OPEN  # the next delivery is its probe
    assert breaker.acquire() == 0.0
    assert breaker.holds_back()  # the probe is in flight
    breaker.record_success()
    assert not breaker.holds_back()


def test_a_delivery_waiting_out_a_retry_longer_than_the_cool_down_is_held_back() -> None:
    """A partner down for long: between probes its pending delivery sleeps in back-off; still held back."""
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30, clock=lambda: now[0])
    breaker.delivery_started()
    breaker.record_failure()
    now[0] = 200.0  # the back-off (up to 300 s) outlasts the cool-down
    assert breaker.holds_back()
    breaker.delivery_ended()  # parked
    assert not breaker.holds_back()
