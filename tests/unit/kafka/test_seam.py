"""The Kafka seam: the only place that imports the Kafka libraries, and their options built once."""

from __future__ import annotations

import ast
from pathlib import Path

from pydantic import SecretStr

from hub.audit.feed import AuditFeed
from hub.settings import AuditSettings, KafkaSettings
from hub.topics import TopicLayout

_SRC = Path(__file__).resolve().parents[3] / "src"
_SEAM = _SRC / "hub" / "kafka"
_LIBRARIES = ("aiokafka", "faststream")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_outside_the_seam_imports_the_kafka_libraries() -> None:
    """No module under src/ outside src/hub/kafka imports aiokafka or faststream, even lazily."""
    offenders = sorted(
        f"{path.relative_to(_SRC)}: {name}"
        for path in _SRC.rglob("*.py")
        if _SEAM not in path.parents
        for name in _imported_modules(path)
        if name.split(".")[0] in _LIBRARIES
    )
    assert offenders == []


def _feed_client_options(kafka: KafkaSettings) -> dict[str, object]:
    feed = AuditFeed(kafka=kafka, audit=AuditSettings(), layout=TopicLayout("t"))
    # What FastStream will hand to aiokafka's consumer when the feed starts.
    return dict(feed._broker.config.broker_config.builder.keywords)


def test_audit_feed_keeps_sasl_plain() -> None:
    """The audit feed logs in with PLAIN when PLAIN is configured (it once used SCRAM-SHA-256)."""
    kafka = KafkaSettings(
        bootstrap_servers="broker-1:9092,broker-2:9092",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="hub",
        sasl_password=SecretStr("secret"),
    )
    options = _feed_client_options(kafka)
    assert (
        options["bootstrap_servers"],
        options["security_protocol"],
        options["sasl_mechanism"],
        options["sasl_plain_username"],
        options["sasl_plain_password"],
        options["ssl_context"],
    ) == (["broker-1:9092", "broker-2:9092"], "SASL_PLAINTEXT", "PLAIN", "hub", "secret", None)


def test_audit_feed_honours_ssl() -> None:
    """The audit feed connects with TLS when security_protocol is SSL (it once ignored it)."""
    options = _feed_client_options(
        KafkaSettings(bootstrap_servers="broker:9093", security_protocol="SSL")
    )
    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"] is not None
    assert "sasl_mechanism" not in options or options["sasl_mechanism"] is None
