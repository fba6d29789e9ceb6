"""`hub run` stops promptly on SIGTERM, also while Kafka does not answer."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.integration.hubtest import hub_process, isolated_settings


def _unused_address() -> str:
    """A loopback address where nothing listens (a port just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _wait_for_line(log: Path, event: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        for line in log.read_text().splitlines():
            if line.startswith("{") and json.loads(line).get("event") == event:
                return
        time.sleep(0.2)
    raise AssertionError(f"no {event} within {timeout} s:\n{log.read_text()}")


def _group_ends(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_sigterm_stops_hub_run_while_kafka_does_not_answer(tmp_path: Path) -> None:
    """A `hub run` retrying an unreachable broker (router and audit feed) exits 0, feed and all, within seconds of SIGTERM."""
    settings = isolated_settings(_unused_address(), audit_dir=tmp_path)
    log = tmp_path / "hub.log"
    process = hub_process(
        settings,
        log,
        extra_env={"HUB_RETRY__MAX_SECONDS": "30", "HUB_OPS__PORT": "0"},
    )
    try:
        # Both processes are retrying: the router, and the audit feed's child process.
        _wait_for_line(log, "router_retrying", process, timeout=90)
        _wait_for_line(log, "group_offsets_retrying", process, timeout=90)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, log.read_text()
        assert _group_ends(process.pid, timeout=10)  # the feed's process has ended too
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
