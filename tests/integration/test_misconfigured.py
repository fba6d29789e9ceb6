"""A hub Kafka refuses (no ACLs for its principal) stops with exit 78 instead of retrying forever."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from hub.dev.localkafka import LocalKafka

_HUB = ("hub", "hub-local-secret")
_PARTNER = ("partner-a", "partner-a-secret")


@pytest.fixture(scope="module")
def scram_kafka() -> LocalKafka:
    """The local SCRAM broker with ACLs (the same one the local-Kafka tests use)."""
    kafka = LocalKafka(scram=True, scram_users=dict([_HUB, _PARTNER]))
    kafka.ensure_running()
    return kafka


@pytest.mark.timeout(120)
def test_hub_run_without_authorisation_exits_78(scram_kafka: LocalKafka) -> None:
    """`hub run` as a principal without ACLs exits 78 naming the refusal, not a retry loop."""
    run = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "HUB_ENVIRONMENT": "development",
        "HUB_KAFKA__BOOTSTRAP_SERVERS": scram_kafka.sasl_bootstrap_servers,
        "HUB_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "HUB_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "HUB_KAFKA__SASL_USERNAME": _PARTNER[0],
        "HUB_KAFKA__SASL_PASSWORD": _PARTNER[1],
        "HUB_KAFKA__TOPIC_PREFIX": f"t{run}",
        "HUB_KAFKA__GROUP_ID": f"router-{run}",
        "HUB_LOGGING__FORMAT": "json",
        "HUB_AUDIT__STORE_URL": f"sqlite:///{os.environ.get('TMPDIR', '/tmp')}/audit-{run}.sqlite3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "run"],
        env=env,
        capture_output=True,
        timeout=100,
        check=False,
    )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 78, output[-3000:]
    assert "AuthorizationFailed" in output


@pytest.mark.timeout(120)
def test_hub_gateway_with_a_wrong_password_exits_78(scram_kafka: LocalKafka) -> None:
    """`hub gateway` whose SASL password Kafka refuses exits 78 instead of answering 503 forever."""
    env = {
        **os.environ,
        "HUB_ENVIRONMENT": "development",
        "HUB_KAFKA__BOOTSTRAP_SERVERS": scram_kafka.sasl_bootstrap_servers,
        "HUB_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "HUB_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "HUB_KAFKA__SASL_USERNAME": _PARTNER[0],
        "HUB_KAFKA__SASL_PASSWORD": "not-the-password",
        "HUB_LOGGING__FORMAT": "json",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "gateway", "--port", "0"],
        env=env,
        capture_output=True,
        timeout=100,
        check=False,
    )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 78, output[-3000:]
    assert "kafka_login_refused" in output
    assert "not-the-password" not in output
