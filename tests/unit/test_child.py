"""``hub.child.ChildService``: a service of `hub run` in a spawned child, its reports and its end."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

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
    def __init__(self, exc: BaseException) -> None:
        self._exc = exc

    async def run(self, stop: asyncio.Event) -> None:
        raise self._exc


def build_reporting(*, on_report: Any) -> _Reporting:
    return _Reporting(on_report)


def build_misconfigured(*, on_report: Any) -> _Failing:
    return _Failing(ConfigurationError("settings", "ops.kpi", "not usable"))


def build_broken(*, on_report: Any) -> _Failing:
    return _Failing(RuntimeError("a bug"))


def _child(build: Any, reports: list[Any]) -> ChildService:
    return ChildService(
        "hub-test-child",
        build,
        (),
        logging=LoggingSettings(level="ERROR"),
        on_report=reports.append,
        failed=lambda code: HubError(f"ended with code {code}"),
        stop_seconds=10,
    )


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


async def test_a_child_that_fails_raises_the_callers_error() -> None:
    with pytest.raises(HubError, match="ended with code 1"):
        await asyncio.wait_for(_child(build_broken, []).run(asyncio.Event()), 60)


class _Ending:
    """Ends by itself without being told, as a child sent SIGTERM by someone else does."""

    def __init__(self, on_report: Any) -> None:
        self._on_report = on_report

    async def run(self, stop: asyncio.Event) -> None:
        self._on_report("ending")


def build_ending(*, on_report: Any) -> _Ending:
    return _Ending(on_report)


async def test_a_child_that_ends_well_but_untold_raises_the_callers_error() -> None:
    """`hub run` must not end with success when a child stopped without being told to."""
    reports: list[Any] = []
    with pytest.raises(HubError, match="ended with code 0"):
        await asyncio.wait_for(_child(build_ending, reports).run(asyncio.Event()), 60)
    assert reports == ["ending"]


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
