"""A real Prometheus for tests (scripts/local-prometheus): promtool, and a server that scrapes a hub."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local-prometheus"


def promtool() -> str:
    """The path of promtool; installs Debian's prometheus package when missing (as root)."""
    found = subprocess.run(
        [str(_SCRIPT), "ensure"], capture_output=True, text=True, timeout=900, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"scripts/local-prometheus ensure failed:\n{found.stderr}")
    return found.stdout.strip().splitlines()[-1]


@contextmanager
def prometheus_scraping(target: str) -> Iterator[str]:
    """A Prometheus server scraping ``target``'s /metrics every second with the hub's rules; yields its URL."""
    directory = tempfile.mkdtemp(prefix="hub-prom-")
    started = subprocess.run(
        [str(_SCRIPT), "start", directory, target],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/local-prometheus start failed:\n{started.stderr}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(_SCRIPT), "stop", directory], timeout=60, check=False)


def query(url: str, promql: str) -> list[dict[str, Any]]:
    """The result vector of an instant query through Prometheus's HTTP API."""
    answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result
