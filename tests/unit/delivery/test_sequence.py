"""The sequence of a delivery: its partition and offset, orderable as a string."""

from __future__ import annotations

import pytest

from hub.delivery.sequence import position_of, sequence


def test_a_sequence_is_partition_and_offset_zero_padded() -> None:
    """Partition 3, offset 1234 is written 00003-0000000000000001234 and read back."""
    assert sequence(3, 1234) == "00003-0000000000000001234"
    assert position_of("00003-0000000000000001234") == (3, 1234)


def test_string_order_is_offset_order_within_a_partition() -> None:
    """Within a partition (one subject's deliveries), comparing the strings compares the offsets."""
    offsets = [0, 9, 10, 99, 100, 12_345, 2**40, 2**63 - 1]
    written = [sequence(2, offset) for offset in offsets]
    assert sorted(written) == written
    assert sorted(reversed(written)) == written


@pytest.mark.parametrize(("partition", "offset"), [(-1, 0), (0, -1), (100_000, 0), (0, 2**63)])
def test_positions_outside_kafka_ranges_are_refused(partition: int, offset: int) -> None:
    """A negative or oversized partition or offset has no sequence."""
    with pytest.raises(ValueError, match="out of range"):
        sequence(partition, offset)


@pytest.mark.parametrize(
    "text",
    ["", "3-1234", "00003-1234", "00003_0000000000000001234", "00003-9999999999999999999", "x"],
)
def test_anything_but_a_hub_sequence_is_refused(text: str) -> None:
    """Only the fixed-width form the hub writes is read back."""
    with pytest.raises(ValueError, match="not a delivery sequence"):
        position_of(text)
