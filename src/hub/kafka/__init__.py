"""The Kafka seam: the only package that imports aiokafka or FastStream.

- ``clients``: the client factory (connection, TLS and SASL options built once from
  KafkaSettings, for aiokafka and FastStream alike), group names, start-up probes.
- ``errors``: what a Kafka failure means (``classify``) and its place in the hub's error
  tree (``BrokerUnavailable``, ``KafkaMisconfigured``).
- ``retry``: retry policies built from RetrySettings.
- ``changelog``: a reader of compacted topics that catches up to their last stable offset.
- ``transactions``: the transactional consume-transform-produce loop.
- ``healing``: a producer connected in the background, rebuilt when its state breaks and
  stopped for good when Kafka refuses the hub (the gateway's sink and iWmo writer).
- ``topics``: creating topics and waiting until every broker leads them.
- ``stream``: pages of a topic's committed records from given offsets (pull delivery).
- ``types``: the client and record types other packages name.
- ``unreadable``: partners' records the client cannot unpack, handed on by place
  (``UnreadableRecord``) instead of stopping the consumer; installed on import.
"""

from hub.kafka.clients import (
    admin_client,
    adopt_committed_offsets,
    broker_ids,
    check_security,
    client_options,
    consumer,
    faststream_batch_consumer,
    faststream_broker,
    hub_group,
    producer,
    quiet_client_logs,
    router_transactional_id,
    sasl_failure,
    stop_consumer,
    stop_faststream,
    tls_failure,
    topic_partitions,
)
from hub.kafka.errors import (
    BrokerUnavailable,
    KafkaFailure,
    KafkaMisconfigured,
    classify,
    is_kafka_failure,
    is_transient,
)
from hub.kafka.healing import HealingProducer
from hub.kafka.retry import kafka_retrying
from hub.kafka.stream import OffsetsOutOfRange, StreamPage, StreamReader
from hub.kafka.types import (
    Admin,
    CommitFailedError,
    Consumer,
    KafkaError,
    Producer,
    RebalanceListener,
    Record,
    TopicPartition,
)
from hub.kafka.unreadable import UnreadableRecord, tolerate_unreadable

__all__ = [
    "Admin",
    "BrokerUnavailable",
    "CommitFailedError",
    "Consumer",
    "HealingProducer",
    "KafkaError",
    "KafkaFailure",
    "KafkaMisconfigured",
    "OffsetsOutOfRange",
    "Producer",
    "RebalanceListener",
    "Record",
    "StreamPage",
    "StreamReader",
    "TopicPartition",
    "UnreadableRecord",
    "admin_client",
    "adopt_committed_offsets",
    "broker_ids",
    "check_security",
    "classify",
    "client_options",
    "consumer",
    "faststream_batch_consumer",
    "faststream_broker",
    "hub_group",
    "is_kafka_failure",
    "is_transient",
    "kafka_retrying",
    "producer",
    "quiet_client_logs",
    "router_transactional_id",
    "sasl_failure",
    "stop_consumer",
    "stop_faststream",
    "tls_failure",
    "tolerate_unreadable",
    "topic_partitions",
]
