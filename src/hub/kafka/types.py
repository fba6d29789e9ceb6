"""The Kafka client types other packages name, so that only this package imports the library."""

from __future__ import annotations

from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord
from aiokafka import TopicPartition as _TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, KafkaError

__all__ = [
    "Admin",
    "CommitFailedError",
    "Consumer",
    "KafkaError",
    "Producer",
    "RebalanceListener",
    "Record",
    "TopicPartition",
]

Consumer: TypeAlias = AIOKafkaConsumer
Producer: TypeAlias = AIOKafkaProducer
Admin: TypeAlias = AIOKafkaAdminClient
RebalanceListener: TypeAlias = ConsumerRebalanceListener
TopicPartition: TypeAlias = _TopicPartition
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
"""One record as a consumer returns it (topic, partition, offset, key, value, headers, timestamp)."""
