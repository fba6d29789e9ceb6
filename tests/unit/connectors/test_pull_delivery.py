"""A partner registered for pull delivery: how the registry reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.connectors.registry import DEMO_REGISTRY_PATH, PullDelivery, load_registry
from hub.errors import ConfigurationError
from hub.topics import TopicLayout


def _registry_with(tmp_path: Path, partner_id: str, delivery: object) -> Path:
    raw = yaml.safe_load(DEMO_REGISTRY_PATH.read_text())
    for partner in raw["partners"]:
        if partner["id"] == partner_id:
            partner["delivery"] = delivery
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_pull_partner_is_read_from_the_registry(tmp_path: Path) -> None:
    """`delivery: {kind: pull}` makes a PullDelivery, whose stream is the default deliveries topic."""
    registry = load_registry(_registry_with(tmp_path, "gp-het-anker", {"kind": "pull"}))
    partner = registry.get("gp-het-anker")
    assert partner is not None
    assert partner.delivery == PullDelivery()
    assert TopicLayout("hub").deliveries(partner) == "hub.deliveries.gp-het-anker"


def test_a_pull_delivery_takes_no_other_field(tmp_path: Path) -> None:
    """A pull partner has no topic or URL of its own: a stray field stops the start, naming its path."""
    path = _registry_with(tmp_path, "gp-het-anker", {"kind": "pull", "topic": "elsewhere"})
    with pytest.raises(ConfigurationError) as raised:
        load_registry(path)
    assert raised.value.path == "partners[4].delivery.pull.topic"


@pytest.mark.parametrize(
    "topic",
    [
        "hub.deadletter",  # every partner's dead letters, with copies of their records
        "hub.deliveries.gp-de-linde",  # another partner's stream
        "hub.state",
    ],
)
def test_a_delivery_topic_of_the_hubs_own_is_refused(tmp_path: Path, topic: str) -> None:
    """GET /deliveries reads a partner's topic with the gateway's rights: it must be the partner's own."""
    registry = load_registry(
        _registry_with(tmp_path, "gp-het-anker", {"kind": "kafka", "topic": topic})
    )
    with pytest.raises(ConfigurationError) as refused:
        TopicLayout("hub").check_delivery_topics(registry)
    assert ".delivery.topic" in str(refused.value)


def test_two_partners_on_one_delivery_topic_are_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEMO_REGISTRY_PATH.read_text())
    for partner in raw["partners"]:
        if partner["id"] in ("gp-het-anker", "gp-de-linde"):
            partner["delivery"] = {"kind": "kafka", "topic": "shared.gp.deliveries"}
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigurationError, match="each partner's is its own"):
        TopicLayout("hub").check_delivery_topics(load_registry(path))


def test_a_topic_of_its_own_outside_the_hubs_names_is_accepted(tmp_path: Path) -> None:
    registry = load_registry(
        _registry_with(tmp_path, "gp-het-anker", {"kind": "kafka", "topic": "anker.inbox"})
    )
    TopicLayout("hub").check_delivery_topics(registry)
