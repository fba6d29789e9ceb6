"""Retry policies for Kafka work, built from RetrySettings: one mechanism (tenacity) for all.

Every loop that talks to Kafka (the router's session, webhook delivery, the gateway's
producer and status tail, adopting renamed groups) retries through ``kafka_retrying``:
bounded exponential backoff with jitter, only for what a retry can cure, each wait
logged. A budget that runs out raises ``BrokerUnavailable`` from the last failure.
"""

from __future__ import annotations

from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    stop_never,
    wait_exponential_jitter,
)

from hub.kafka.errors import BrokerUnavailable, classify, is_transient
from hub.observability.logging import get_logger
from hub.settings import RetrySettings

__all__ = ["kafka_retrying"]


def kafka_retrying(
    settings: RetrySettings,
    *,
    event: str,
    doing: str,
    retry_on: Callable[[BaseException], bool] = is_transient,
    give_up_after: float | None = None,
    on_retry: Callable[[], None] | None = None,
    **log_context: object,
) -> AsyncRetrying:
    """An ``async for attempt in ...: with attempt:`` policy that retries ``retry_on`` failures.

    Waits grow from ``initial_seconds`` to ``max_seconds`` with jitter; each wait is
    logged as ``event`` (with the failure's class, never its message). Without
    ``give_up_after`` it retries forever; with it, it raises BrokerUnavailable after that
    many seconds. Failures ``retry_on`` rejects propagate at once, unchanged.
    ``on_retry`` is called before each wait, e.g. to count it in a metric.
    """

    def log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        failure = classify(error) if error else None
        get_logger().warning(
            event,
            attempt=state.attempt_number,
            exc_type=type(error).__name__ if error else None,
            failure=failure.value if failure else None,
            delay_seconds=round(state.upcoming_sleep, 2),
            **log_context,
        )
        if on_retry is not None:
            on_retry()

    def give_up(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        raise BrokerUnavailable(doing, error) from error

    return AsyncRetrying(
        retry=retry_if_exception(retry_on),
        # multiplier, not initial: tenacity 9.2 deprecates a non-default initial.
        wait=wait_exponential_jitter(
            multiplier=settings.initial_seconds,
            max=settings.max_seconds,
            jitter=settings.initial_seconds,
        ),
        stop=stop_never if give_up_after is None else stop_after_delay(give_up_after),
        before_sleep=log,
        retry_error_callback=give_up,
        reraise=False,
    )
