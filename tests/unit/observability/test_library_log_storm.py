"""Repeated library log records (aiokafka's reconnect loop) collapse into one line per interval."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from hub.observability.logging import configure_logging

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def stderr_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Lines]:
    """The JSON lines written to stderr so far; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_thousands_of_repeated_records_become_one_line(stderr_lines: Lines) -> None:
    """5,000 records of one logger, template and level within the interval write one line; others pass."""
    configure_logging(format="json")
    client = logging.getLogger("aiokafka.client")
    for node in range(5000):
        client.error("Unable connect to node with id %s: %s", node % 3, "Connect call failed")
    client.warning("Unable connect to node with id %s: %s", 1, "Connect call failed")
    logging.getLogger("aiokafka.conn").error("Unable connect to node with id %s: %s", 1, "x")
    client.error("Unable to update metadata from %s", [1])

    lines = stderr_lines()
    assert [(line["logger"], line["level"], line["detail"]) for line in lines] == [
        ("aiokafka.client", "error", "Unable connect to node with id 0: Connect call failed"),
        ("aiokafka.client", "warning", "Unable connect to node with id 1: Connect call failed"),
        ("aiokafka.conn", "error", "Unable connect to node with id 1: x"),
        ("aiokafka.client", "error", "Unable to update metadata from [1]"),
    ]
    assert all("suppressed" not in line for line in lines)


def test_the_next_line_after_the_interval_counts_the_suppressed_records(
    stderr_lines: Lines,
) -> None:
    """After the interval the record is written again with the number suppressed since the last line."""
    configure_logging(format="json", library_repeat_seconds=1.0)
    client = logging.getLogger("aiokafka.client")
    for _ in range(100):
        client.error("Unable to update metadata from %s", [1])
    time.sleep(1.1)
    client.error("Unable to update metadata from %s", [1])
    client.error("Unable to update metadata from %s", [1])

    lines = stderr_lines()
    assert [(line["detail"], line.get("suppressed")) for line in lines] == [
        ("Unable to update metadata from [1]", None),
        ("Unable to update metadata from [1]", 99),
    ]


def test_an_interval_of_zero_writes_every_record(stderr_lines: Lines) -> None:
    """With the interval set to 0 nothing is collapsed."""
    configure_logging(format="json", library_repeat_seconds=0)
    for _ in range(5):
        logging.getLogger("aiokafka.client").error("Unable to update metadata from %s", [1])
    assert len(stderr_lines()) == 5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_aiokafka_client_against_a_closed_port_writes_a_bounded_number_of_lines(
    stderr_lines: Lines,
) -> None:
    """A real aiokafka producer retrying a closed port for three seconds writes one line per template."""
    configure_logging(format="json")
    bootstrap = f"127.0.0.1:{_closed_port()}"
    attempts = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=1000)
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()
        attempts += 1
        await asyncio.sleep(0.01)

    lines = [line for line in stderr_lines() if line["event"] == "library_log"]
    assert attempts >= 20
    assert [(line["logger"], line["level"]) for line in lines] == [("aiokafka", "error")]
    assert lines[0]["detail"].startswith(f'Unable connect to "{bootstrap}": ')
