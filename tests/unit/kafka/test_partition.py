"""The router's own partitioning gives the partition aiokafka's default partitioner gives."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from hub.kafka.transactions import murmur2, partition_for


def test_murmur2_equals_aiokafkas_for_every_length_and_byte() -> None:
    rng = random.Random(9)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(70) for _ in range(20)]
    keys += [b"", b"\xff" * 13, b"burger-123456789", b"a", b"ab", b"abc"]
    for key in keys:
        assert murmur2(key) == aiokafka_murmur2(key), key


def test_partition_for_equals_the_default_partitioner() -> None:
    rng = random.Random(3)
    for count in (1, 3, 6, 12):
        partitions = list(range(count))
        for _ in range(300):
            key = rng.randbytes(rng.randrange(1, 60))
            assert partition_for(key, partitions) == DefaultPartitioner()(
                key, partitions, partitions
            )


def test_a_record_without_key_gets_one_of_the_partitions() -> None:
    assert partition_for(None, [0, 1, 2]) in (0, 1, 2)
