"""The CloudEvents ``sequence`` of a delivery: where it stands in its recipient's stream.

A recipient's stream is its deliveries topic; a delivery's place in it is its partition
and offset, so the sequence is written from those two, zero-padded to fixed widths::

    00003-0000000000000001234     partition 3, offset 1234

The sequence extension asks for a lexicographically orderable string, and fixed widths
make string order the same as (partition, offset) order. The hub keeps order per
subject, and a subject lives in one partition, so two deliveries of the same subject
compare as they were released: the later one has the greater sequence. Deliveries of
different subjects (other partitions) have no order between them, and their sequences'
order means nothing. Offsets grow but are not contiguous: transaction markers take
offsets too, so a gap is not a lost delivery.

Pull and webhook delivery set it from the record they read; a Kafka-topic partner reads
the same two numbers from the record itself: the broker assigns the offset when it
appends the record, so it cannot be written into the record's headers beforehand.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["SEQUENCE_HEADER", "position_of", "sequence"]

SEQUENCE_HEADER: Final = "ce_sequence"
"""The Kafka binary-mode header of the attribute (on parked copies, which keep their original's)."""

_PARTITION_DIGITS: Final = 5
_OFFSET_DIGITS: Final = 19  # a Kafka offset is a signed 64-bit integer
_SEQUENCE: Final = re.compile(rf"([0-9]{{{_PARTITION_DIGITS}}})-([0-9]{{{_OFFSET_DIGITS}}})")


def sequence(partition: int, offset: int) -> str:
    """The ``sequence`` of the record at this partition and offset of a deliveries topic."""
    if not 0 <= partition < 10**_PARTITION_DIGITS or not 0 <= offset < 2**63:
        raise ValueError("partition or offset out of range")
    return f"{partition:0{_PARTITION_DIGITS}d}-{offset:0{_OFFSET_DIGITS}d}"


def position_of(value: str) -> tuple[int, int]:
    """(partition, offset) of a ``sequence`` the hub wrote; ValueError for anything else."""
    match = _SEQUENCE.fullmatch(value)
    if match is None:
        raise ValueError("not a delivery sequence")
    partition, offset = int(match[1]), int(match[2])
    if offset >= 2**63:
        raise ValueError("not a delivery sequence")
    return partition, offset
