"""What a connector declares besides its types and rows: its examples and its inbound adapters."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import hub.app
from hub.connectors import Connector, RoleSpec, catalogue
from hub.inbound import HttpStructured, KafkaStructured
from hub.testing import EXAMPLES_DIR


def test_every_builtin_connector_declares_the_contract_examples() -> None:
    """Each of the five roles points at examples/, and has a valid example of each type it sends."""
    for connector in catalogue().connectors:
        if connector.role.name not in {"swt", "gp", "provider", "backoffice", "veilig-thuis"}:
            continue
        assert connector.examples == EXAMPLES_DIR
        for spec in connector.sends:
            assert connector.example_files(spec), spec.short_name


def test_a_connector_without_examples_has_no_example_files() -> None:
    """No ``examples`` folder: no files, not an error (the kit reports the gap)."""
    connector = Connector(role=RoleSpec(name="x", description="x"))
    assert connector.example_files(catalogue().types["nl.sociaaldomein.cases.closed.v1"]) == []


def test_a_connectors_adapters_are_its_roles_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """app.http_adapters and app.kafka_adapters give each role its connector's adapters."""
    mine_http, mine_kafka = HttpStructured(), KafkaStructured()
    connector = Connector(
        role=RoleSpec(name="x", description="x"),
        http_adapters=(mine_http,),
        kafka_adapters=(mine_kafka,),
    )
    monkeypatch.setattr(hub.app, "catalogue", lambda: SimpleNamespace(connectors=(connector,)))

    assert hub.app.http_adapters() == {"x": (mine_http,)}
    assert hub.app.kafka_adapters() == {"x": (mine_kafka,)}
