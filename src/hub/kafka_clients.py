"""Connection options for every Kafka client the hub creates, in one place.

Kept apart from the router so that edges (webhook delivery, the gateway, the CLI) can
connect to Kafka without importing the pipeline.
"""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from hub.settings import KafkaSettings

__all__ = ["client_options", "topic_partitions"]


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Bootstrap servers and security options for an aiokafka client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return options


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    """The partitions of a topic; raises KafkaError (retried by callers) when it is missing."""
    # Asked of the cluster, not of a consumer's metadata cache, which may not list the topic yet.
    (described,) = await admin.describe_topics([topic])
    found = sorted(p["partition"] for p in described["partitions"])
    if described["error_code"] != 0 or not found:
        raise KafkaError(f"topic {topic} is not available")
    return [TopicPartition(topic, p) for p in found]
