"""`make kafka`: the local broker, started or reused, and its address on the last line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.dev.localkafka import LocalKafka

_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_kafka_prints_the_local_brokers_bootstrap_address_last() -> None:
    """`make -s kafka` exits 0 and its last line is the local broker's bootstrap address, which answers."""
    result = subprocess.run(
        ["make", "-s", "kafka"],
        cwd=_ROOT,
        env={k: v for k, v in os.environ.items() if k != "HUB_KAFKA__BOOTSTRAP_SERVERS"},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    kafka = LocalKafka()
    assert result.stdout.splitlines()[-1] == kafka.bootstrap_servers
    assert kafka.status().listening is True
