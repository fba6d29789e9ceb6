"""A service of `hub run` in a child process of its own, as the audit feed and the KPI aggregator run.

Why a process: `hub run`'s services share one event loop and one GIL, and the router waits
for whatever else holds them. The audit feed's inserts and the KPI aggregator's reading of
every inbound record are work the router does not wait for; out of its process they no
longer take its CPU (docs/benchmarks.md). The child is ``spawn``-ed (no copy of the
parent's event loop and threads) and runs the same service class the tests run in
process, so its guarantees are unchanged.

When ``stop`` is set the child is sent SIGTERM and stops its service (killed after
``stop_seconds``). When the child ends on its own with a ConfigurationError, ``run`` raises
it, so `hub run` stops (no restart mends a setting). Any other end (a failure, a kill, a
SIGTERM to the child alone) starts the child again, after 1 s, then 2, 4, ... up to a
minute, logged as ``child_process_failed`` and counted in
``hub_child_process_restarts_total``: the audit feed and the KPI aggregator copy and count
what the router has already committed, so the router, and every partner's messages, go
on without them meanwhile, and the new child takes up where its last commit left off. A
parent killed outright leaves no child behind: the child sees the end of a pipe that only
the parent held open, and stops.

The child reports to this process over a pipe of its own (its metrics' figures, a
snapshot for the page): `hub run` serves one ops port. Written by hand because
prometheus_client's multiprocess mode would put every metric of the router's process
into memory-mapped files for the few a child moves, and no library runs an asyncio
service in a supervised child with a report channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from prometheus_client import Counter

from hub.errors import ConfigurationError, HubError
from hub.observability.logging import configure_logging, get_logger
from hub.settings import LoggingSettings

__all__ = ["ChildService", "Runnable"]

_log = get_logger()
# How long a child that ended well but untold waits for this process's own stop to arrive.
_UNTOLD_GRACE_SECONDS = 1.0
# How long, once the child has ended, the reader of its reports may take to read the rest.
_READER_JOIN_SECONDS = 10.0
# The wait before a failed child is started again, doubling up to the most; a child that
# ran this long since its start is judged anew (its next failure waits the least again).
_RESTART_SECONDS = 1.0
_RESTART_MAX_SECONDS = 60.0
_HEALTHY_SECONDS = 300.0

RESTARTS = Counter(
    "hub_child_process_restarts_total",
    "Times a child process of `hub run` (hub-audit-feed, hub-kpi) ended on its own and was "
    "started again; the router goes on meanwhile.",
    ["child"],
)


class Runnable(Protocol):
    """What a child runs: a service of `hub run` (``run`` until ``stop`` is set)."""

    async def run(self, stop: asyncio.Event) -> None: ...


Build = Callable[..., Runnable]
"""Builds the child's service from its arguments and ``on_report`` (a module-level function:
``spawn`` pickles it by name)."""


class ChildService:
    """Runs ``build(*args, on_report=...)`` in a child process until ``stop``; reports go to ``on_report``."""

    def __init__(
        self,
        name: str,
        build: Build,
        args: tuple[Any, ...],
        *,
        logging: LoggingSettings,
        on_report: Callable[[Any], None],
        failed: Callable[[int | None], HubError],
        stop_seconds: float = 30.0,
        restart_seconds: float = _RESTART_SECONDS,
        on_end: Callable[[], None] | None = None,
        nice: int = 0,
    ) -> None:
        self._name = name
        self._build = build
        self._args = args
        self._logging = logging
        self._on_report = on_report
        self._failed = failed
        self._stop_seconds = stop_seconds
        self._restart_seconds = restart_seconds
        self._on_end = on_end
        self._nice = nice
        self._exit_code: int | None = None
        RESTARTS.labels(name)  # at 0 from the start, so an increase shows

    async def run(self, stop: asyncio.Event) -> None:
        """Run the child until ``stop`` is set, starting it again whenever it ends on its own.

        Raises the child's ConfigurationError, which no restart mends, and the caller's error
        when the child ended badly while stopping (killed after ``stop_seconds``, or failed):
        `hub run` then exits non-zero, as it always did. ``on_end`` is called after each end
        of the child, its last reports taken (the caller's figures are then no longer live).
        """
        pause = self._restart_seconds
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._run_once(stop)
                return
            except ConfigurationError:
                raise
            except HubError:
                if stop.is_set():
                    raise
                if time.monotonic() - started >= _HEALTHY_SECONDS:
                    pause = self._restart_seconds
                RESTARTS.labels(self._name).inc()
                # The exit code only: the child logged its own exception (``service_failed``).
                _log.error(
                    "child_process_failed",
                    child=self._name,
                    exit_code=self._exit_code,
                    retry_seconds=pause,
                )
            finally:
                if self._on_end is not None:
                    self._on_end()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, max(_RESTART_MAX_SECONDS, self._restart_seconds))

    async def _run_once(self, stop: asyncio.Event) -> None:
        """Run the child once, until ``stop`` is set or it ends; raises when it ended on its own."""
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        reports, report = context.Pipe(duplex=False)
        # Never written: the child reads its end to see this process end (EOF), however it ends.
        parent_gone, parent_alive = context.Pipe(duplex=False)
        child = context.Process(
            target=_child_main,
            args=(self._logging, self._build, self._args, send, parent_gone, report, self._nice),
            name=self._name,
        )
        child.start()
        send.close()  # the child's ends, closed here so that only the child holds them
        parent_gone.close()
        report.close()
        loop = asyncio.get_running_loop()
        ended = asyncio.Event()
        loop.add_reader(child.sentinel, ended.set)
        # Read in a thread of its own, not on the loop: a report larger than the pipe's
        # buffer arrives in parts, and ``recv`` waits for the rest; a child stalled while
        # writing one (stopped, swapped out) must not stall the router's loop with it.
        reader = threading.Thread(
            target=self._read_reports, args=(reports, loop), name=f"{self._name}-reports"
        )
        reader.daemon = True
        reader.start()
        try:
            waits = [asyncio.create_task(stop.wait()), asyncio.create_task(ended.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
        finally:
            loop.remove_reader(child.sentinel)
            # Its reports are still taken while it stops: what it committed last is counted.
            if child.is_alive():
                child.terminate()
                await asyncio.to_thread(child.join, self._stop_seconds)
            if child.is_alive():
                _log.error("child_process_kill", child=self._name, after_seconds=self._stop_seconds)
                child.kill()
                await asyncio.to_thread(child.join)
            # The child has ended, so the pipe's end comes as soon as what it sent is read;
            # its reports are handed to the loop before this wait ends (in order).
            await asyncio.to_thread(reader.join, _READER_JOIN_SECONDS)
            if reader.is_alive():  # another process holds the pipe's end: left to itself
                _log.error("child_reports_unfinished", child=self._name)
            else:
                reports.close()
            parent_alive.close()
        with receive:
            failure = None
            with contextlib.suppress(EOFError):  # the child sent nothing: it did not fail
                failure = receive.recv() if receive.poll() else None
        self._exit_code = child.exitcode
        if isinstance(failure, tuple):
            raise ConfigurationError(*failure)
        if child.exitcode not in (0, -signal.SIGTERM):
            raise self._failed(child.exitcode)
        if not stop.is_set():
            # Ended well but untold: a SIGTERM to the process group (reaching this process
            # within a moment, which then stops), or to the child alone (someone's `kill`),
            # which must not end `hub run` with success: its supervisor would not restart it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _UNTOLD_GRACE_SECONDS)
            if not stop.is_set():
                raise self._failed(child.exitcode)

    def _read_reports(self, reports: Connection, loop: asyncio.AbstractEventLoop) -> None:
        """Hand each report of the child's to the loop, until the pipe ends (the child has gone)."""
        while True:
            try:
                report = reports.recv()
            except (EOFError, OSError):
                return
            try:
                loop.call_soon_threadsafe(self._on_report, report)
            except RuntimeError:  # the loop has closed: nobody is left to count it
                return


def _child_main(
    logging: LoggingSettings,
    build: Build,
    args: tuple[Any, ...],
    failures: Connection,
    parent_gone: Connection,
    reports: Connection,
    nice: int = 0,
) -> None:
    """The child's body: the built service until SIGTERM or until the parent is gone."""
    if nice:
        # Below the router: on a busy machine the router, which partners wait for, gets the
        # CPU first; the child catches up when it is free (docs/benchmarks.md, "Ninth pass").
        os.nice(nice)
    configure_logging(
        format=logging.format,
        level=logging.level,
        library_repeat_seconds=logging.library_repeat_seconds,
    )
    # Ctrl-C reaches the whole process group: the parent stops first and then stops this.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def report(value: Any) -> None:
        # A parent that has gone reads no more; the end of ``parent_gone`` stops this child.
        with contextlib.suppress(BrokenPipeError):
            reports.send(value)

    try:
        service = build(*args, on_report=report)
        asyncio.run(_run_until_told(service, parent_gone))
    except ConfigurationError as exc:
        failures.send((exc.source, exc.path, exc.message))
        raise SystemExit(1) from None
    except (Exception, asyncio.CancelledError):
        # Through the hub's log, which redacts: multiprocessing would print the traceback
        # (and any value in its messages) on stderr as it is.
        _log.exception("service_failed")
        raise SystemExit(1) from None
    finally:
        failures.close()
        reports.close()


async def _run_until_told(service: Runnable, parent_gone: Connection) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # Readable only at end of file: the parent has ended without stopping this process.
    loop.add_reader(parent_gone.fileno(), stop.set)
    try:
        await service.run(stop)
    finally:
        loop.remove_reader(parent_gone.fileno())
