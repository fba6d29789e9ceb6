"""`hub run` while Kafka does not answer: its ops port says so, and SIGTERM stops it promptly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.integration.hubtest import hub_process, isolated_settings


def _unused_port() -> int:
    """A loopback port where nothing listens (just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unused_address() -> str:
    return f"127.0.0.1:{_unused_port()}"


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


def test_the_ops_port_says_kafka_is_unreachable(tmp_path: Path) -> None:
    """/healthz is 200, /readyz 503 naming its three checks, /metrics shows the router retrying."""
    settings = isolated_settings(_unused_address(), audit_dir=tmp_path)
    log = tmp_path / "hub.log"
    port = _unused_port()
    process = hub_process(settings, log, extra_env={"HUB_OPS__PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_line(log, "router_retrying", process, timeout=90)
        _wait_for_line(log, "ops_server_started", process, timeout=90)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz")
        assert (ready.status_code, ready.json()) == (
            503,
            {"status": "unavailable", "failing": ["kafka", "state", "router"]},
        )
        metrics = httpx.get(f"{base}/metrics").text.splitlines()
        assert "hub_router_retrying 1.0" in metrics
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
