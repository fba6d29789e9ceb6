"""The AsyncAPI 3.0 document of the hub's Kafka topics, generated from the code (``hub asyncapi``)."""

from hub.asyncapi.document import (
    ASYNCAPI_VERSION,
    KAFKA_BINDING_VERSION,
    asyncapi_document,
    render_document,
)

__all__ = ["ASYNCAPI_VERSION", "KAFKA_BINDING_VERSION", "asyncapi_document", "render_document"]
