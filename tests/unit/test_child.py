"""``hub.child.ChildService``: a service of `hub run` in a spawned child, its reports and its end."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from prometheus_client import REGISTRY

from hub.child import ChildService
from hub.errors import ConfigurationError, HubError
from hub.settings import LoggingSettings


class _Reporting:
    """Reports 1, 2, 3, then runs until stopped (SIGTERM in the child)."""

    def __init__(self, on_report: Any) -> None:
        self._on_report = on_report

    async def run(self, stop: asyncio.Event) -> None:
        for n in (1, 2, 3):
            self._on_report(n)
        await stop.wait()
        self._on_report("stopped")  # taken while the parent waits for the child to end


class _Failing:
    def __init__(self, exc: BaseException, on_report: Any = None) -> None:
        self._exc = exc
        self._on_report = on_report

    async def run(self, stop: asyncio.Event) -> None:
        if self._on_report is not None:
            self._on_report("started")
        raise self._exc


def build_reporting(*, on_report: Any) -> _Reporting:
    return _Reporting(on_report)


def build_misconfigured(*, on_report: Any) -> _Failing:
    return _Failing(ConfigurationError("settings", "ops.kpi", "not usable"))


def build_broken(*, on_report: Any) -> _Failing:
    return _Failing(RuntimeError("a bug"), on_report)


def _child(
    build: Any, reports: list[Any], name: str = "hub-test-child", on_end: Any = None
) -> ChildService:
    return ChildService(
        name,
        build,
        (),
        logging=LoggingSettings(level="ERROR"),
        on_report=reports.append,
        failed=lambda code: HubError(f"ended with code {code}"),
        stop_seconds=10,
        restart_seconds=0.05,
        on_end=on_end,
    )


async def _until(condition: Any, within: float = 60) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 -- polls what the child's reports change
            await asyncio.sleep(0.05)


async def test_reports_reach_the_parent_and_a_stop_ends_the_child() -> None:
    reports: list[Any] = []
    stop = asyncio.Event()
    running = asyncio.create_task(_child(build_reporting, reports).run(stop))
    for _ in range(300):
        if len(reports) == 3:
            break
        await asyncio.sleep(0.1)
    assert reports == [1, 2, 3]
    stop.set()
    await asyncio.wait_for(running, 30)  # ended by SIGTERM: no error
    assert reports == [1, 2, 3, "stopped"]


async def test_a_child_misconfigured_raises_its_configuration_error_here() -> None:
    with pytest.raises(ConfigurationError, match=r"ops\.kpi"):
        await asyncio.wait_for(_child(build_misconfigured, []).run(asyncio.Event()), 60)


async def test_a_child_that_fails_is_started_again_until_stopped() -> None:
    """A bug in a child does not stop `hub run`: the child starts again, counted and logged."""
    reports: list[Any] = []
    stop = asyncio.Event()

    def restarts() -> float:
        labels = {"child": "hub-test-broken"}
        return REGISTRY.get_sample_value("hub_child_process_restarts_total", labels) or 0.0

    before = restarts()
    ends: list[int] = []
    child = _child(build_broken, reports, "hub-test-broken", on_end=lambda: ends.append(1))
    with structlog.testing.capture_logs() as logs:
        running = asyncio.create_task(child.run(stop))
        await _until(lambda: reports.count("started") >= 2)
        stop.set()
        await asyncio.wait_for(running, 60)  # stopped as asked: no error
    assert restarts() - before >= 1
    assert len(ends) >= 2  # told after every end: the caller's figures are not live then
    failed = [e for e in logs if e["event"] == "child_process_failed"]
    assert failed[0] == {
        "event": "child_process_failed",
        "log_level": "error",
        "child": "hub-test-broken",
        "exit_code": 1,
        "retry_seconds": 0.05,
    }
    if len(failed) > 1:
        assert failed[1]["retry_seconds"] == 0.1  # the wait doubles


class _Ending:
    """Ends by itself without being told, as a child sent SIGTERM by someone else does."""

    def __init__(self, on_report: Any) -> None:
        self._on_report = on_report

    async def run(self, stop: asyncio.Event) -> None:
        self._on_report("ending")


def build_ending(*, on_report: Any) -> _Ending:
    return _Ending(on_report)


async def test_a_child_that_ends_well_but_untold_is_started_again() -> None:
    """A child that stopped without being told (someone's `kill` of it alone) is not left stopped."""
    reports: list[Any] = []
    stop = asyncio.Event()
    running = asyncio.create_task(_child(build_ending, reports).run(stop))
    await _until(lambda: reports.count("ending") >= 2)
    stop.set()
    await asyncio.wait_for(running, 60)


async def test_the_reports_left_in_the_pipe_when_the_child_ended_are_all_taken() -> None:
    """The reader hands every report the child sent to the loop, in order, up to the pipe's end."""
    import multiprocessing

    reports: list[Any] = []
    receiving, sending = multiprocessing.Pipe(duplex=False)
    for n in range(50):
        sending.send(n)
    sending.close()  # the child has ended
    _child(build_reporting, reports)._read_reports(receiving, asyncio.get_running_loop())
    await asyncio.sleep(0)
    receiving.close()
    assert reports == list(range(50))


class _Large:
    """Sends one report larger than a pipe's buffer, then runs until stopped."""

    def __init__(self, on_report: Any) -> None:
        self._on_report = on_report

    async def run(self, stop: asyncio.Event) -> None:
        self._on_report({"rows": ["x" * 1000] * 300})  # about 300 KB pickled
        await stop.wait()


def build_large(*, on_report: Any) -> _Large:
    return _Large(on_report)


async def test_a_report_larger_than_the_pipes_buffer_arrives_whole_while_the_loop_runs() -> None:
    reports: list[Any] = []
    stop = asyncio.Event()
    running = asyncio.create_task(_child(build_large, reports).run(stop))
    for _ in range(600):
        if reports:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 30)
    assert len(reports) == 1
    assert len(reports[0]["rows"]) == 300


class _FailingOnStop:
    """Runs until stopped, then fails while stopping."""

    def __init__(self, on_report: Any) -> None:
        self._on_report = on_report

    async def run(self, stop: asyncio.Event) -> None:
        self._on_report("running")
        await stop.wait()
        raise RuntimeError("a bug while stopping")


def build_failing_on_stop(*, on_report: Any) -> _FailingOnStop:
    return _FailingOnStop(on_report)


async def test_a_child_that_fails_while_stopping_still_fails_the_run() -> None:
    """Not started again (`hub run` is stopping), but not hidden either: `hub run` exits non-zero."""
    reports: list[Any] = []
    stop = asyncio.Event()
    running = asyncio.create_task(_child(build_failing_on_stop, reports).run(stop))
    await _until(lambda: reports == ["running"])
    stop.set()
    with pytest.raises(HubError, match="ended with code 1"):
        await asyncio.wait_for(running, 60)


class _Priority:
    """Reports its own CPU priority (nice value), then runs until stopped."""

    def __init__(self, on_report: Any) -> None:
        self._on_report = on_report

    async def run(self, stop: asyncio.Event) -> None:
        import os

        self._on_report(os.getpriority(os.PRIO_PROCESS, 0))
        await stop.wait()


def build_priority(*, on_report: Any) -> _Priority:
    return _Priority(on_report)


async def test_a_child_runs_below_the_routers_priority_by_its_nice() -> None:
    """On a busy machine the router comes first: the child's nice value is the parent's plus ``nice``."""
    import os

    reports: list[Any] = []
    stop = asyncio.Event()
    child = ChildService(
        "hub-test-nice",
        build_priority,
        (),
        logging=LoggingSettings(level="ERROR"),
        on_report=reports.append,
        failed=lambda code: HubError(f"ended with code {code}"),
        nice=5,
    )
    running = asyncio.create_task(child.run(stop))
    await _until(lambda: bool(reports))
    stop.set()
    await asyncio.wait_for(running, 60)
    assert reports == [min(os.getpriority(os.PRIO_PROCESS, 0) + 5, 19)]
