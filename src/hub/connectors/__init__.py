"""Partners: the registry of who is connected, and (per role) what each may send."""

from hub.connectors.registry import (
    DEMO_REGISTRY_PATH,
    KafkaTopicDelivery,
    Partner,
    PartnerRegistry,
    PullDelivery,
    Role,
    WebhookDelivery,
    load_registry,
)

__all__ = [
    "DEMO_REGISTRY_PATH",
    "KafkaTopicDelivery",
    "Partner",
    "PartnerRegistry",
    "PullDelivery",
    "Role",
    "WebhookDelivery",
    "load_registry",
]
