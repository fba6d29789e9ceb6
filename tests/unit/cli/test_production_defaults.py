"""Outside development, `hub run` and `hub gateway` refuse the public demo registry and secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.connectors.registry import DEMO_REGISTRY_PATH
from hub.settings import (
    DEMO_PSEUDONYM_SECRET,
    AuditSettings,
    HubSettings,
    PrivacySettings,
    demo_defaults_in_use,
)

_OWN_SECRET = PrivacySettings(pseudonym_secret="a-secret-of-this-municipality")  # type: ignore[arg-type]
_OWN_KEY = AuditSettings(signing_key="q0mQKu1S4pI6kR5l8rRkZxV2x9bKkJ3lq7m0U1p2s3c=")  # type: ignore[arg-type]


def test_production_names_every_demo_value_still_in_use() -> None:
    """With the defaults, production names the registry, the pseudonym secret and the signing key."""
    assert demo_defaults_in_use(HubSettings(environment="production")) == [
        "HUB_PARTNERS_FILE",
        "HUB_PRIVACY__PSEUDONYM_SECRET",
        "HUB_AUDIT__SIGNING_KEY",
    ]


def test_development_allows_the_demo_values() -> None:
    """HUB_ENVIRONMENT=development (make demo, the tests) may use the demo registry and secret."""
    assert demo_defaults_in_use(HubSettings(environment="development")) == []


def test_own_registry_and_secret_pass_in_production(tmp_path: Path) -> None:
    """A registry file of one's own (even a copy of the demo one) and an own secret pass."""
    own = tmp_path / "partners.yaml"
    own.write_text(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    settings = HubSettings(
        environment="production", partners_file=own, privacy=_OWN_SECRET, audit=_OWN_KEY
    )
    assert demo_defaults_in_use(settings) == []


def test_the_demo_secret_kept_as_an_earlier_key_is_refused_too(tmp_path: Path) -> None:
    """A rotation away from the demo secret that keeps it as an earlier key is still refused:
    the pseudonyms made with it can be reversed by anyone."""
    own = tmp_path / "partners.yaml"
    own.write_text(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    privacy = PrivacySettings(
        pseudonym_secret="a-secret-of-this-municipality",  # type: ignore[arg-type]
        pseudonym_key_id="k2",
        previous_pseudonym_secrets={"k1": DEMO_PSEUDONYM_SECRET},  # type: ignore[dict-item]
    )
    settings = HubSettings(
        environment="production", partners_file=own, privacy=privacy, audit=_OWN_KEY
    )
    assert demo_defaults_in_use(settings) == ["HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS"]


def refused(args: list[str], **settings: str) -> tuple[dict[str, Any], str]:
    """`hub <args>` with these HUB_ settings, refused before it connects: its
    configuration_invalid line and all it wrote (exit 78 asserted)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",  # never reached: refused before
        "HUB_LOGGING__FORMAT": "json",
        **settings,
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 78, output
    [line] = [json.loads(x) for x in output.splitlines() if "configuration_invalid" in x]
    return line, output


@pytest.mark.parametrize("command", ["run", "gateway"])
def test_the_commands_exit_78_naming_the_setting(command: str) -> None:
    """`hub run` and `hub gateway` in production with demo values exit 78 and name the setting."""
    line, _ = refused([command], HUB_ENVIRONMENT="production")
    # A list of tokens: a "A, B, C" value was redacted whole by the log's redaction.
    assert line["paths"] == [
        "HUB_PARTNERS_FILE",
        "HUB_PRIVACY__PSEUDONYM_SECRET",
        "HUB_AUDIT__SIGNING_KEY",
    ]


def test_a_setting_that_does_not_parse_is_named_with_its_reason_and_never_its_value() -> None:
    """`hub run` with a mistyped setting: exit 78, the variable and why, not the value."""
    line, output = refused(
        ["run"], HUB_AUDIT__SIGNING_KEY="my-secret-xyz", HUB_WEBHOOKS__MAX_ATTEMPTS="twelve-xyz"
    )
    assert line["paths"] == ["HUB_AUDIT__SIGNING_KEY", "HUB_WEBHOOKS__MAX_ATTEMPTS"]
    assert "HUB_AUDIT__SIGNING_KEY: Value error, not base64" in line["error"]
    assert "HUB_WEBHOOKS__MAX_ATTEMPTS: Input should be a valid integer" in line["error"]
    assert "xyz" not in output


def test_a_bad_gateway_option_is_named_as_the_option() -> None:
    """`hub gateway --port 70000`: the refusal names --port, not a variable that was never set."""
    line, _ = refused(["gateway", "--port", "70000"])
    assert line["paths"] == ["--port"]
    assert "--port: Input should be less than or equal to 65535" in line["error"]
