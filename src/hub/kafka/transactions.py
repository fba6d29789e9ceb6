"""The transactional consume-transform-produce loop's Kafka half.

``TransactionalClients`` holds a ``read_committed`` group consumer and a transactional
producer. ``commit`` runs a batch through a ``Transform`` and writes its output together
with the consumed offsets (``send_offsets_to_transaction``) in one transaction:

- a crash or failure before the commit aborts it and rewinds the consumer to the last
  committed offsets, so the batch is read again, in order, and nothing is duplicated for
  ``read_committed`` readers;
- a record Kafka refuses (or the transform's own code fails on) does not block the
  batch: it is found by committing the batch one record per transaction, and its
  ``Transform.refused`` output is written in its place;
- transient failures and broken producer state propagate, for ``session_retrying`` to
  retry with a new pair of clients (a new producer gets a new epoch).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from tenacity import AsyncRetrying

from hub.kafka.clients import consumer, producer, stop_consumer
from hub.kafka.errors import KafkaFailure, KafkaMisconfigured, classify
from hub.kafka.retry import kafka_retrying
from hub.kafka.types import (
    Consumer,
    KafkaError,
    Producer,
    RebalanceListener,
    Record,
    TopicPartition,
)
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings, RetrySettings

__all__ = [
    "Batch",
    "Outcome",
    "Output",
    "TransactionalClients",
    "Transform",
    "send_batches",
    "session_retrying",
    "stop_if_misconfigured",
]

Batch = Mapping[TopicPartition, list[Record]]

_log = get_logger()
# aiokafka's default, set explicitly: write() checks each record against it, as send() does.
_MAX_REQUEST_BYTES = 1024 * 1024
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of a key, as the Java client and aiokafka's default partitioner compute it.

    Written out because aiokafka's pure-Python one indexes the key byte by byte and was
    ~9% of the router's time; this one unpacks the key's 32-bit words at once, and gives
    the same value (tests/unit/kafka/test_partition.py), so records land on the
    partition every other Kafka client picks for their key.
    """
    length = len(data)
    h = 0x9747B28C ^ length
    whole = length & ~3
    for k in struct.unpack_from(f"<{length >> 2}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    extra = length & 3
    if extra >= 3:
        h ^= data[whole + 2] << 16
    if extra >= 2:
        h ^= data[whole + 1] << 8
    if extra >= 1:
        h = ((h ^ data[whole]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: bytes | None, partitions: Sequence[int]) -> int:
    """The partition Kafka's default partitioner gives a key (a random one for no key)."""
    if key is None:
        return random.choice(partitions)  # noqa: S311 - spreading load, not a secret
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


class Output(Protocol):
    """One record to write."""

    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Outcome(Protocol):
    """What transforming some records gave: records to write, and changes to keep once committed."""

    @property
    def records(self) -> Sequence[Output]: ...

    def keep(self) -> None:
        """Called once the transaction that wrote ``records`` has committed."""


class Transform(Protocol):
    """The application's half of the loop: pure of Kafka, run on each batch."""

    def handle(self, records: Sequence[Record]) -> Outcome:
        """Transform the records of a batch, in order."""
        ...

    def refused(self, record: Record, exc: BaseException) -> Outcome:
        """What to write instead of a record whose output Kafka (or the transform) refused."""
        ...


async def send_batches(producer: Producer, records: Sequence[Output]) -> list[asyncio.Future[Any]]:
    """Queue the records as one batch per partition (in order), closed so none lingers; their results.

    Inside a transaction the caller awaits every result before it commits.

    Why not ``send()`` per record: it waits on metadata, partitions, queues and makes a
    future for every record, ~20% of the router's time; a batch builder per partition
    does the same work once per partition. Records keep the partition and the order
    ``send()`` gives them.
    """
    partitions: dict[str, list[int]] = {}
    # Keys repeat within a batch (a hash chain's records share one), and murmur2 in
    # Python is the dearest step per record: each (topic, key) is hashed once per batch.
    placed: dict[tuple[str, bytes], tuple[str, int]] = {}
    builders: dict[tuple[str, int], Any] = {}
    sent: list[asyncio.Future[Any]] = []
    for r in records:
        if r.topic not in partitions:
            partitions[r.topic] = sorted(await producer.partitions_for(r.topic))
        headers = list(r.headers)
        _check_size(r, headers)
        where = None if r.key is None else placed.get((r.topic, r.key))
        if where is None:
            where = (r.topic, partition_for(r.key, partitions[r.topic]))
            if r.key is not None:
                placed[r.topic, r.key] = where
        builder = builders.get(where)
        if builder is None:
            builder = builders[where] = producer.create_batch()
        if builder.append(timestamp=None, key=r.key, value=r.value, headers=headers) is None:
            # Full: send it (a later batch of this partition waits for it) and start anew.
            sent.append(await producer.send_batch(builder, where[0], partition=where[1]))
            builder = builders[where] = producer.create_batch()
            builder.append(timestamp=None, key=r.key, value=r.value, headers=headers)
    for (topic, partition), builder in builders.items():
        builder.close()
        sent.append(await producer.send_batch(builder, topic, partition=partition))
    return sent


def _check_size(record: Output, headers: list[tuple[str, bytes]]) -> None:
    """Refuse a record larger than a request, before it is queued, as ``send()`` does."""
    rough = len(record.value or b"") + len(record.key or b"")
    if rough > _MAX_REQUEST_BYTES // 2:
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(record.key, record.value, headers)
        if size > _MAX_REQUEST_BYTES:
            raise MessageSizeTooLargeError(
                f"The message is {size} bytes when serialized, more than a request may hold"
            )


def _is_about_a_record(exc: BaseException) -> bool:
    """Kafka refuses a record, or the application's own code fails on one: retrying cannot help."""
    return classify(exc) in (KafkaFailure.RECORD_REJECTED, None)


def _is_retryable(exc: BaseException) -> bool:
    # A broken producer is cured by the new pair of clients a retry builds.
    return classify(exc) in (KafkaFailure.TRANSIENT, KafkaFailure.PRODUCER_BROKEN)


def session_retrying(
    retry: RetrySettings, *, event: str, on_retry: Callable[[], None] | None = None
) -> AsyncRetrying:
    """Retry a whole session (new clients each time) on transient failures and broken producers, forever.

    ``on_retry`` is called before each wait (the router counts its retries with it).
    """
    return kafka_retrying(
        retry, event=event, doing="running a session", retry_on=_is_retryable, on_retry=on_retry
    )


@contextlib.contextmanager
def stop_if_misconfigured() -> Iterator[None]:
    """Turn a refusal by the broker (authorisation, SASL, TLS, versions) into KafkaMisconfigured."""
    try:
        yield
    except Exception as exc:
        if classify(exc) is KafkaFailure.MISCONFIGURED:
            raise KafkaMisconfigured(exc) from exc
        raise


class TransactionalClients:
    """A read_committed group consumer of ``topics`` and a transactional producer."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        topics: Sequence[str],
        transactional_id: str,
        listener: RebalanceListener | None = None,
    ) -> None:
        self._kafka = kafka
        self._topics = list(topics)
        self._listener = listener
        self.producer: Producer = producer(
            kafka, transactional_id=transactional_id, max_request_size=_MAX_REQUEST_BYTES
        )
        self.consumer: Consumer = consumer(
            kafka,
            group_id=kafka.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )

    async def start(self) -> None:
        """Connect both clients and join the group (closes both when that fails)."""
        try:
            await self.producer.start()
            await self.consumer.start()
            if self._listener is not None:
                self.consumer.subscribe(self._topics, listener=self._listener)
            else:
                self.consumer.subscribe(self._topics)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Disconnect both (closing after a failure may fail again; that is ignored)."""
        try:
            with contextlib.suppress(Exception):
                await stop_consumer(self.consumer)
        finally:
            with contextlib.suppress(Exception):
                await self.producer.stop()

    async def probe(self) -> bool:
        """Ask the cluster for metadata now through the producer: True when it answers."""
        try:
            await self.producer.client.fetch_all_metadata()
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer holds now."""
        return set(self.consumer.assignment())

    async def fetch(self, timeout_ms: int = 200) -> Batch:
        """The next records, at most ``max_batch``; empty after ``timeout_ms`` without any."""
        batch: Batch = await self.consumer.getmany(
            timeout_ms=timeout_ms, max_records=self._kafka.max_batch
        )
        return batch

    async def write(
        self, records: Sequence[Output], offsets: Mapping[TopicPartition, int] | None = None
    ) -> None:
        """Write records (and the consumed offsets) in one transaction; raise when any is refused."""
        async with self.producer.transaction():
            # Every result is awaited inside the transaction: aiokafka commits even when the
            # broker refused one of its records (only that batch's future fails), so a
            # refusal must abort it here.
            written = asyncio.gather(*await send_batches(self.producer, records))
            if offsets:
                # Added while the records are in flight, so the coordinator's two round
                # trips overlap the produce requests instead of following them; an abort
                # discards these offsets with the records.
                added = self.producer.send_offsets_to_transaction(
                    dict(offsets), self._kafka.group_id
                )
                results = await asyncio.gather(written, added, return_exceptions=True)
                for result in results:
                    if isinstance(result, BaseException):
                        raise result
            else:
                await written

    async def commit(self, batch: Batch, transform: Transform) -> None:
        """Transform a batch and commit its output with its offsets; see the module docstring."""
        try:
            try:
                outcome = transform.handle([r for records in batch.values() for r in records])
                await self.write(
                    outcome.records, {tp: records[-1].offset + 1 for tp, records in batch.items()}
                )
            except Exception as exc:
                if not _is_about_a_record(exc):
                    raise
                # Retrying the batch would fail the same way and block every partner: find
                # the record at fault with one record per transaction.
                _log.warning("batch_record_rejected", exc_type=type(exc).__name__)
                for tp, records in batch.items():
                    for record in records:
                        await self._commit_alone(tp, record, transform)
                return
            outcome.keep()
        except BaseException:
            # The transaction was aborted: rewind so the batch is read again, in order.
            with contextlib.suppress(Exception):
                await self.consumer.seek_to_committed(*batch.keys())
            raise

    async def _commit_alone(self, tp: TopicPartition, record: Record, transform: Transform) -> None:
        offsets = {tp: record.offset + 1}
        try:
            outcome = transform.handle([record])
            await self.write(outcome.records, offsets)
        except Exception as exc:
            if not _is_about_a_record(exc):
                raise
            # Its changes are not kept: the record had no effect but its refusal.
            await self.write(transform.refused(record, exc).records, offsets)
            return
        outcome.keep()
