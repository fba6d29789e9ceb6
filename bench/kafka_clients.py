"""What the Kafka client itself costs the router per event: aiokafka against librdkafka, same loop.

Run: .venv/bin/python bench/kafka_clients.py [--events N] [--kafka HOST:PORT]
     [--clients aiokafka,confluent] [--out FILE]

Both clients run the router's Kafka half with the hub's work taken out: consume
``--events`` pre-loaded referrals ``read_committed``, write five records per referral
(two state records, a status, a delivery, a disclosure record: the router's output for
one) and the consumed offsets in one transaction per fetched batch. The figure is the
process's CPU time (every thread) per referral, from the first batch to the last, and
the rate. aiokafka writes as the router does (``hub.kafka.transactions``: a batch builder
per partition, each key hashed once per batch).

The second client, confluent-kafka (librdkafka, C), is not a dependency of the hub: this
measures whether moving the seam to it would pay. Install it into a scratch directory
and put that on the path, e.g.
  .venv/bin/python -m pip install --target /tmp/ck confluent-kafka==2.16.1
  PYTHONPATH=/tmp/ck .venv/bin/python bench/kafka_clients.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/
    sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from bench.harness import Referrals, create_topic, send_encoded  # noqa: E402

from hub.kafka.transactions import partition_for  # noqa: E402
from hub.settings import KafkaSettings  # noqa: E402

_BATCH = 500


def cpu_seconds() -> float:
    """User and system CPU of this process, every thread (librdkafka works in its own)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def outputs(key: bytes | None, value: bytes, prefix: str) -> Iterator[tuple[str, bytes, bytes]]:
    """Five records for one referral, of the router's sizes and keys, on two topics."""
    k = key or b"-"
    state, other = f"{prefix}.state", f"{prefix}.out"
    yield state, b"seen:" + k, b'{"received_on":"2026-11-29"}'
    yield state, b"referral:" + k, value[:300]
    yield other, b"status:" + k, value[:200]
    yield other, k, value
    yield other, b"chain", value[:600]


async def with_aiokafka(bootstrap: str, topic: str, prefix: str, count: int) -> tuple[float, float]:
    """Seconds and CPU seconds to move ``count`` referrals with aiokafka, as the router writes."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"bench-{uuid.uuid4().hex}"
    )
    await producer.start()
    await consumer.start()
    done, started, cpu_started = 0, 0.0, 0.0
    partitions: dict[str, list[int]] = {}
    try:
        while done < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=_BATCH)
            if not batch:
                continue
            if not done:
                started, cpu_started = time.perf_counter(), cpu_seconds()
            async with producer.transaction():
                builders: dict[tuple[str, int], Any] = {}
                sent = []
                for records in batch.values():
                    for record in records:
                        for out, key, value in outputs(record.key, record.value, prefix):
                            if out not in partitions:
                                partitions[out] = sorted(await producer.partitions_for(out))
                            where = (out, partition_for(key, partitions[out]))
                            builder = builders.get(where)
                            if builder is None:
                                builder = builders[where] = producer.create_batch()
                            if builder.append(key=key, value=value, timestamp=None) is None:
                                sent.append(
                                    await producer.send_batch(builder, where[0], partition=where[1])
                                )
                                builder = builders[where] = producer.create_batch()
                                builder.append(key=key, value=value, timestamp=None)
                        done += 1
                for (out, partition), builder in builders.items():
                    builder.close()
                    sent.append(await producer.send_batch(builder, out, partition=partition))
                await asyncio.gather(*sent)
                offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                await producer.send_offsets_to_transaction(offsets, consumer._group_id)
        return time.perf_counter() - started, cpu_seconds() - cpu_started
    finally:
        await consumer.stop()
        await producer.stop()


def with_confluent(bootstrap: str, topic: str, prefix: str, count: int) -> tuple[float, float]:
    """Seconds and CPU seconds to move ``count`` referrals with confluent-kafka (librdkafka)."""
    from confluent_kafka import Consumer, Producer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"bench-{uuid.uuid4().hex}"}
    )
    producer.init_transactions()
    consumer.subscribe([topic])
    done, started, cpu_started = 0, 0.0, 0.0
    try:
        while done < count:
            messages = consumer.consume(_BATCH, 0.5)
            if not messages:
                continue
            if not done:
                started, cpu_started = time.perf_counter(), cpu_seconds()
            producer.begin_transaction()
            for message in messages:
                for out, key, value in outputs(message.key(), message.value(), prefix):
                    producer.produce(out, value, key)
                done += 1
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
            )
            producer.commit_transaction()
        return time.perf_counter() - started, cpu_seconds() - cpu_started
    finally:
        consumer.close()


async def preload(bootstrap: str, count: int) -> tuple[str, str]:
    """A fresh inbound topic holding ``count`` referrals, and a prefix for the output topics."""
    prefix = f"clients{uuid.uuid4().hex[:8]}"
    kafka = KafkaSettings(bootstrap_servers=bootstrap, partitions=2, replication_factor=1)
    for name in ("in", "state", "out"):
        await create_topic(kafka, f"{prefix}.{name}")
    await send_encoded(kafka, f"{prefix}.in", Referrals().take(count))
    return f"{prefix}.in", prefix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--clients", default="aiokafka,confluent")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for client in args.clients.split(","):
        topic, prefix = asyncio.run(preload(args.kafka, args.events))
        if client == "aiokafka":
            seconds, cpu = asyncio.run(with_aiokafka(args.kafka, topic, prefix, args.events))
        else:
            seconds, cpu = with_confluent(args.kafka, topic, prefix, args.events)
        results[client] = {
            "events_per_second": args.events / seconds,
            "cpu_us_per_event": cpu / args.events * 1e6,
        }
        print(
            f"{client:10s} {results[client]['events_per_second']:8.0f} referrals/s  "
            f"{results[client]['cpu_us_per_event']:6.1f} µs CPU per referral (five records out)"
        )
    if args.out:
        arguments = {**vars(args), "out": str(args.out)}
        args.out.write_text(json.dumps({"arguments": arguments, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
