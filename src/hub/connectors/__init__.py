"""Connectors and partners: what each role declares, how connectors are found, who is connected."""

from hub.connectors.discovery import (
    BUILTIN_PACKAGE,
    ENTRY_POINT_GROUP,
    Catalogue,
    catalogue,
    discover,
)
from hub.connectors.protocol import (
    AsJson,
    Connector,
    HttpEndpoint,
    ProtectionClass,
    Reach,
    Rendered,
    Renderer,
    RoleSpec,
    TypeSpec,
    Unrenderable,
)
from hub.connectors.registry import (
    DEMO_REGISTRY_PATH,
    KafkaTopicDelivery,
    Partner,
    PartnerRegistry,
    PullDelivery,
    WebhookDelivery,
    load_registry,
)

__all__ = [
    "BUILTIN_PACKAGE",
    "DEMO_REGISTRY_PATH",
    "ENTRY_POINT_GROUP",
    "AsJson",
    "Catalogue",
    "Connector",
    "HttpEndpoint",
    "KafkaTopicDelivery",
    "Partner",
    "PartnerRegistry",
    "ProtectionClass",
    "PullDelivery",
    "Reach",
    "Rendered",
    "Renderer",
    "RoleSpec",
    "TypeSpec",
    "Unrenderable",
    "WebhookDelivery",
    "catalogue",
    "discover",
    "load_registry",
]
