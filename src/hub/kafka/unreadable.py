"""Records a partner wrote that the Kafka client cannot unpack: handed on by their place, never a stop.

aiokafka unpacks a fetched batch record by record while the consumer iterates it, and a
record it cannot unpack raises out of ``getmany``: a header name that is not UTF-8 (the
protocol does not forbid it), a batch compressed with a codec the client cannot read
(the codecs are installed; a future one), a record whose framing is not Kafka's. The position does not move, so the next fetch raises again:
one partner's record stopped the router, and every other partner's messages with it, for
good (the hub process exited and died again at each start).

No aiokafka option turns that into a per-record error, so the seam replaces the
fetcher's ``PartitionRecords`` (the class that unpacks one partition's fetched batches)
with one that, for the topics ``tolerate_unreadable`` names (partners' inbound topics),
hands every record of the batch it could not unpack on as an ``UnreadableRecord``: no key,
value or headers, the batch's place and timestamp, and which failure it was. The reader
(the router) dead-letters it by reference and goes on; nothing else is skipped. Other
topics (the hub's own) keep the library's behaviour: there a record the client cannot
read is a fault of the hub's, not partner input.

The loop below is aiokafka 0.14.0's ``PartitionRecords._unpack_records`` (the version
pinned in pyproject.toml), with the guard around a batch's records added. The client's
batch iterator does not resume past a failure, so the batch is then read again from the
fetched bytes (kept beside the client's reader, ``_KeptRecords``) with the library's own
pure-Python record reader, record by record: a record that fails is skipped by its length
and handed on as unreadable, the others as the client would have. Only when the batch
itself cannot be read (a codec, its framing) is every record of it unreadable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiokafka import errors as kafka
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import _DefaultRecordBatchPy
from aiokafka.record.util import decode_varint_py
from aiokafka.structs import ConsumerRecord

from hub.observability.logging import get_logger

__all__ = ["UnreadableRecord", "tolerate_unreadable"]

_TOLERANT_PREFIXES: set[str] = set()

# What unpacking a partner's batch may raise: the codec (UnsupportedCodecError), the bytes
# (a header name or a varint that is not what Kafka writes), the checksum.
_UNPACKING = (
    kafka.UnsupportedCodecError,
    kafka.CorruptRecordException,  # a record's own framing (the batch's CRC held)
    UnicodeDecodeError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
)


@dataclass
class UnreadableRecord(ConsumerRecord[bytes, bytes]):  # type: ignore[misc]
    """A record at this place that the Kafka client could not unpack (``problem``: why)."""

    problem: str = "unreadable"


class _KeptRecords:
    """The client's reader of one partition's fetched bytes, with the bytes kept beside it."""

    __slots__ = ("_records", "raw")

    def __init__(self, data: bytes) -> None:
        self.raw = data
        self._records = _MEMORY_RECORDS(data)

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        return self._records.next_batch()

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())


def _python_batch(raw: bytes, base_offset: int) -> Any:
    """The batch starting at ``base_offset`` in the fetched bytes, read by the pure-Python
    reader (None: not there, or an old-format batch)."""
    view = memoryview(raw)
    pos = 0
    while pos + 17 <= len(view):  # base offset (8), length (4), epoch (4), magic (1)
        base = int.from_bytes(view[pos : pos + 8], "big", signed=True)
        end = pos + 12 + int.from_bytes(view[pos + 8 : pos + 12], "big", signed=True)
        if base == base_offset:
            return _DefaultRecordBatchPy(view[pos:end]) if view[pos + 16] >= 2 else None
        pos = end
    return None


def tolerate_unreadable(prefix: str) -> None:
    """Hand on unreadable records of topics whose names start with ``prefix``, in this process."""
    _TOLERANT_PREFIXES.add(prefix)


class _TolerantPartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    def _unpack_records(self) -> Iterator[Any]:
        if not self._tp.topic.startswith(tuple(_TOLERANT_PREFIXES)):
            yield from super()._unpack_records()
            return
        tp = self._tp
        records = self._records
        while records.has_next():
            next_batch = records.next_batch()
            if self._check_crcs and not next_batch.validate_crc():
                # The broker checks a batch's CRC when it is appended, so this is the
                # transfer, not partner input: as the library, raise and fetch again.
                raise kafka.CorruptRecordException(f"Invalid CRC - {tp}")
            if (
                self._isolation_level == fetcher.READ_COMMITTED
                and next_batch.producer_id is not None
            ):
                self._consume_aborted_up_to(next_batch.base_offset)
                if next_batch.is_control_batch and self._contains_abort_marker(next_batch):
                    self._aborted_producers.discard(next_batch.producer_id)
                if (
                    next_batch.is_transactional
                    and next_batch.producer_id in self._aborted_producers
                ):
                    self.next_fetch_offset = next_batch.next_offset
                    continue
            if next_batch.is_control_batch:
                self.next_fetch_offset = next_batch.next_offset
                continue
            try:
                for record in next_batch:
                    if record.offset < self.next_fetch_offset:
                        continue
                    consumer_record = self._consumer_record(tp, record)
                    self.next_fetch_offset = record.offset + 1
                    yield consumer_record
            except _UNPACKING as exc:
                yield from self._record_by_record(next_batch, type(exc).__name__)
            self.next_fetch_offset = next_batch.next_offset

    def _record_by_record(self, batch: Any, problem: str) -> Iterator[Any]:
        """The rest of a batch the client failed on: each record read alone, or unreadable."""
        raw = getattr(self._records, "raw", None)
        found = None if raw is None else _python_batch(raw, batch.base_offset)
        if found is None:
            yield from self._unreadable(batch, problem)
            return
        try:
            found._maybe_uncompress()
            buffer = found._buffer
            for _ in range(found._num_records):
                start = found._pos
                try:
                    record = found._read_msg()
                except _UNPACKING:
                    # Skipped by its length; its offset from the fields before the bad one.
                    length, pos = decode_varint_py(buffer, start)
                    end = pos + length
                    _, pos = decode_varint_py(buffer, pos)  # attributes
                    _, pos = decode_varint_py(buffer, pos)  # timestamp delta
                    delta, _ = decode_varint_py(buffer, pos)
                    found._pos = end
                    offset = found.base_offset + delta
                    if offset >= self.next_fetch_offset:
                        yield from self._unreadable(batch, problem, offset, offset + 1)
                    continue
                if record.offset < self.next_fetch_offset:
                    continue
                self.next_fetch_offset = record.offset + 1
                yield self._consumer_record(self._tp, record)
        except _UNPACKING:
            yield from self._unreadable(batch, problem)  # the rest: no way past it

    def _unreadable(
        self, batch: Any, problem: str, first: int | None = None, end: int | None = None
    ) -> Iterator[UnreadableRecord]:
        """Records of the batch by place, from ``first`` (default: those not handed on yet)
        to ``end`` (default: the batch's end)."""
        first = max(self.next_fetch_offset, batch.base_offset) if first is None else first
        end = batch.next_offset if end is None else end
        if first >= end:
            return
        get_logger().warning(
            "kafka_records_unreadable",
            topic=self._tp.topic,
            partition=self._tp.partition,
            offset=first,
            count=end - first,
            exc_type=problem,
        )
        for offset in range(first, end):
            self.next_fetch_offset = offset + 1  # before the yield, as the library does
            yield UnreadableRecord(
                topic=self._tp.topic,
                partition=self._tp.partition,
                offset=offset,
                timestamp=batch.max_timestamp,
                timestamp_type=batch.timestamp_type,
                key=None,
                value=None,
                checksum=None,
                serialized_key_size=-1,
                serialized_value_size=-1,
                headers=(),
                problem=problem,
            )


_MEMORY_RECORDS = fetcher.MemoryRecords
fetcher.MemoryRecords = _KeptRecords
fetcher.PartitionRecords = _TolerantPartitionRecords
