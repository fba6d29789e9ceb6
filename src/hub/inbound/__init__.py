"""Inbound adapters: each turns one partner wire format into the hub's structured-mode events.

::

    HTTP request  --choose_http(HTTP_ADAPTERS)-->   HttpAdapter.read  -> [Reading, ...]
    Kafka record  --choose_kafka(KAFKA_ADAPTERS)--> KafkaAdapter.read -> Reading
    Reading.event (a structured-mode dict) -> hub.schemas.validate_event -> the pipeline

An adapter knows one wire format and nothing of the contract: it gives the structured-mode
dict of each event the message holds, or the contract errors (a path and a stable code)
of an event it cannot read, with the event's id where that could still be read and may be
repeated (``hub.envelope.is_event_id``). The content type chooses the adapter; the first
in a sequence that accepts a message reads it. Every adapter's events then pass the same
validation, rules and privacy, so a format never changes what an event may do.

Shipped: HTTP structured, batch and binary mode (``hub.inbound.http``); Kafka binary and
structured mode (``hub.inbound.kafka``). A new format (a partner's XML, say) is one more
class with the ``HttpAdapter`` or ``KafkaAdapter`` methods, put in the sequence the gateway
(``create_app(adapters=...)``) or the pipeline (``Pipeline(adapters=...)``) is given; no
stage after it changes.
"""

from hub.inbound.http import (
    BATCH_MEDIA_TYPE,
    BINARY_MEDIA_TYPE,
    HTTP_ADAPTERS,
    STRUCTURED_MEDIA_TYPES,
    HttpBatch,
    HttpBinary,
    HttpStructured,
    choose_http,
)
from hub.inbound.kafka import (
    KAFKA_ADAPTERS,
    STRUCTURED_CONTENT_TYPE,
    UNREAD_BYTES,
    KafkaBinary,
    KafkaStructured,
    choose_kafka,
)
from hub.inbound.reading import HttpAdapter, HttpMessage, KafkaAdapter, KafkaMessage, Reading

__all__ = [
    "BATCH_MEDIA_TYPE",
    "BINARY_MEDIA_TYPE",
    "HTTP_ADAPTERS",
    "KAFKA_ADAPTERS",
    "STRUCTURED_CONTENT_TYPE",
    "STRUCTURED_MEDIA_TYPES",
    "UNREAD_BYTES",
    "HttpAdapter",
    "HttpBatch",
    "HttpBinary",
    "HttpMessage",
    "HttpStructured",
    "KafkaAdapter",
    "KafkaBinary",
    "KafkaMessage",
    "KafkaStructured",
    "Reading",
    "choose_http",
    "choose_kafka",
]
