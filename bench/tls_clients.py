"""What making a Kafka client costs the event loop with TLS: a trust store per client, or one shared.

Run: .venv/bin/python bench/tls_clients.py [--clients N] [--repeats R]

Makes ``--clients`` aiokafka consumers (not started: no broker is needed) with
``HUB_KAFKA__SECURITY_PROTOCOL=SSL`` as the seam builds them, in turn:

- each with a TLS context of its own (the behaviour before: ``hub.kafka.clients`` loaded
  the trust store for every client), emptied before each client;
- with the contexts the seam keeps (now).

Baseline in the same run: making the same consumers with PLAINTEXT. Two trust stores:
the system's (no ``ssl_cafile``) and a one-certificate CA file. The hub makes clients on
its event loop: the lag monitor one per backlog read, the webhook deliverer two per
partner at start. docs/benchmarks.md, "TLS contexts".
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trustme

from hub.kafka import clients
from hub.settings import KafkaSettings


def _per_client_ms(make: Callable[[], Any], count: int, *, fresh: bool) -> float:
    started = time.perf_counter()
    for _ in range(count):
        if fresh:
            clients._CONTEXTS.clear()
        make()
    return (time.perf_counter() - started) / count * 1000


async def _measure(args: argparse.Namespace) -> list[tuple[str, dict[str, float]]]:
    """On a running loop, as the hub makes its clients (aiokafka asks for one)."""
    # Made, never started: aiokafka's "Unclosed AIOKafkaConsumer" reports are not news.
    asyncio.get_running_loop().set_exception_handler(lambda _loop, _context: None)
    with tempfile.TemporaryDirectory() as folder:
        ca_file = Path(folder) / "ca.pem"
        trustme.CA().cert_pem.write_to_path(str(ca_file))
        stores = {"system trust store": None, "one-certificate CA file": ca_file}
        plain = KafkaSettings(bootstrap_servers="127.0.0.1:9093")
        rows = []
        for name, cafile in stores.items():
            tls = KafkaSettings(
                bootstrap_servers="127.0.0.1:9093", security_protocol="SSL", ssl_cafile=cafile
            )
            runs: dict[str, list[float]] = {"plaintext": [], "own context": [], "shared": []}
            for _ in range(args.repeats):  # interleaved: the three see the same machine
                runs["plaintext"].append(
                    _per_client_ms(
                        functools.partial(clients.consumer, plain), args.clients, fresh=False
                    )
                )
                runs["own context"].append(
                    _per_client_ms(
                        functools.partial(clients.consumer, tls), args.clients, fresh=True
                    )
                )
                clients._CONTEXTS.clear()
                runs["shared"].append(
                    _per_client_ms(
                        functools.partial(clients.consumer, tls), args.clients, fresh=False
                    )
                )
            medians = {k: statistics.median(v) for k, v in runs.items()}
            rows.append((name, medians))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ResourceWarning)  # consumers made, never started
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    rows = asyncio.run(_measure(args))
    print(f"ms per consumer made, median of {args.repeats} runs of {args.clients}")
    print("| trust store | plaintext (baseline) | own context (before) | shared (now) |")
    print("|---|---:|---:|---:|")
    for name, m in rows:
        base = m["plaintext"]
        print(
            f"| {name} | {base:.3f} | {m['own context']:.2f} ({m['own context'] / base:.0f}x) "
            f"| {m['shared']:.3f} ({m['shared'] / base:.1f}x) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
