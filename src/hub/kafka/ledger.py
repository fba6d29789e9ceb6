"""A transactional writer of keyed records to one compacted topic, for a ledger kept beside it.

A ledger that follows other topics (``hub.kpi``) writes what changed and how far it has
read in one transaction, so that a restart reads both back consistently: nothing is
counted twice and nothing lost. One transactional id per ledger: a second writer with
the same id fences the first (its next write fails), so two of them never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import NamedTuple

from aiokafka import AIOKafkaProducer

from hub.kafka.clients import producer
from hub.kafka.transactions import send_batches
from hub.settings import KafkaSettings

__all__ = ["LedgerWriter"]


class _Entry(NamedTuple):
    topic: str
    key: bytes
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


class LedgerWriter:
    """Writes batches of (key, value) records to ``topic`` each in one transaction (None: a tombstone)."""

    def __init__(self, kafka: KafkaSettings, *, topic: str, transactional_id: str) -> None:
        self._topic = topic
        self._producer: AIOKafkaProducer = producer(kafka, transactional_id=transactional_id)

    async def start(self) -> None:
        """Connect (and fence an earlier writer with the same transactional id)."""
        try:
            await self._producer.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Disconnect (a failure while closing is ignored)."""
        with contextlib.suppress(Exception):
            await self._producer.stop()

    async def write(self, records: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Write every record in one transaction; raise (and abort it) when any is refused."""
        entries = [_Entry(self._topic, key, value) for key, value in records]
        async with self._producer.transaction():
            # Each result is awaited inside the transaction: aiokafka would commit even when
            # one batch was refused. A batch per partition, as the router writes: send()
            # per record was a sixth of the KPI aggregator's time.
            await asyncio.gather(*await send_batches(self._producer, entries))
