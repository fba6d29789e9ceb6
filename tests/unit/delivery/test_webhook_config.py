"""WebhookDeliverer's start-up checks of each webhook partner's URL and signing secret."""

from __future__ import annotations

import base64

import pytest

from hub.connectors.registry import KafkaTopicDelivery, Partner, WebhookDelivery
from hub.delivery.webhook import WebhookDeliverer
from hub.errors import ConfigurationError
from hub.settings import KafkaSettings, WebhookSettings
from hub.topics import TopicLayout

GOOD_SECRET = "whsec_" + base64.b64encode(b"x" * 32).decode()


def _partner(partner_id: str, delivery: WebhookDelivery | KafkaTopicDelivery) -> Partner:
    return Partner(
        id=partner_id,
        role="backoffice",
        source=f"urn:nld:oin:{partner_id}",
        delivery=delivery,
    )


def _deliverer(*partners: Partner, env: dict[str, str] | None = None) -> WebhookDeliverer:
    return WebhookDeliverer(
        partners,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        webhooks=WebhookSettings(),
        layout=TopicLayout("t"),
        environ={"SECRET": GOOD_SECRET} if env is None else env,
    )


def test_only_webhook_partners_are_served() -> None:
    """Partners that read a Kafka topic are left alone."""
    deliverer = _deliverer(
        _partner("kafka-one", KafkaTopicDelivery()),
        _partner("hook-one", WebhookDelivery(url="https://hooks.example/", secret_env="SECRET")),
    )
    assert deliverer.partners == ("hook-one",)


@pytest.mark.parametrize(
    ("delivery", "env", "path"),
    [
        (
            WebhookDelivery(url="http://hooks.example/?token=t0p", secret_env="SECRET"),
            None,
            "partners.p.delivery.url",
        ),
        (WebhookDelivery(url="https://hooks.example/"), None, "partners.p.delivery.secret_env"),
        (WebhookDelivery(url="https://hooks.example/", secret_env="UNSET"), None, "UNSET"),
        (
            WebhookDelivery(url="https://hooks.example/", secret_env="SECRET"),
            {"SECRET": "whsec_" + base64.b64encode(b"short").decode()},
            "SECRET",
        ),
        (
            WebhookDelivery(url="https://hooks.example/", secret_env="SECRET"),
            {"SECRET": "whsec_%%%"},
            "SECRET",
        ),
    ],
    ids=["plain-http", "no-secret-env", "secret-unset", "secret-short", "secret-not-base64"],
)
def test_bad_webhook_configuration_stops_start_up(
    delivery: WebhookDelivery, env: dict[str, str] | None, path: str
) -> None:
    """A non-loopback http URL, a missing, unset, short or malformed secret raise ConfigurationError naming the path, not the value."""
    with pytest.raises(ConfigurationError) as raised:
        _deliverer(_partner("p", delivery), env=env)
    assert raised.value.path == path
    assert "t0p" not in str(raised.value)
    assert "%%%" not in str(raised.value)


def test_each_partners_failure_count_starts_at_zero() -> None:
    """HubWebhookPartnerFailing watches increase(): a counter born at 1 would show none for a first failure."""
    from prometheus_client import REGISTRY

    _deliverer(
        _partner("hook-counted", WebhookDelivery(url="https://hooks.example/", secret_env="SECRET"))
    )
    labels = {"partner": "hook-counted"}
    assert REGISTRY.get_sample_value("hub_webhook_partner_failures_total", labels) == 0.0
