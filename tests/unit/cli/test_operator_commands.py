"""The operators' commands parse their options and refuse unusable input before touching Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.cli import main
from hub.cli._operator import parse_duration, parse_since


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--help"],
        ["dlq", "list", "--help"],
        ["dlq", "show", "--help"],
        ["dlq", "replay", "--help"],
        ["flows", "--help"],
        ["partners", "--help"],
    ],
)
def test_every_operator_command_has_help_and_a_json_option(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--help`` prints a description and names ``--json``."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    assert "--json" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["dlq", "replay"], "give dead-letter ids, or --partner and --code"),
        (["dlq", "replay", "dl-0-1", "--partner", "gp-de-linde"], "not both"),
        (["dlq", "replay", "--partner", "gp-de-linde"], "needs both --partner and --code"),
        (["dlq", "replay", "999900018"], "not dead-letter ids"),
        (["dlq", "replay", "dl-0-1", "--operator", "Anna de Vries"], "name the operator"),
        (["dlq", "show", "nope"], "not a dead-letter id"),
        (["dlq", "list", "--since", "yesterday"], "not a duration"),
        (["flows", "--window", "an hour"], "not a duration"),
    ],
)
def test_unusable_input_exits_2_with_a_sentence(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad ids, filters, operators and times are refused (exit 2) without echoing a BSN-like id."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err


def test_durations_and_moments() -> None:
    """``15m``, ``2h``, ``3d``, ``1w``; since takes a duration back or an ISO time (UTC if naive)."""
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1w") == timedelta(weeks=1)
    assert parse_since("2026-01-05T09:30") == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert abs(parse_since("1h") - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(seconds=5)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("1y")


def test_viewing_personal_data_with_the_demo_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The viewing's disclosure record needs the hub's own pseudonyms: the demo secret is refused (exit 2)."""
    monkeypatch.setenv("HUB_ENVIRONMENT", "production")
    monkeypatch.delenv("HUB_PRIVACY__PSEUDONYM_SECRET", raising=False)
    argv = ["dlq", "show", "dl-0-1", "--with-personal-data", "--operator", "ops-anna"]
    assert main(argv) == 2
    assert "HUB_PRIVACY__PSEUDONYM_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["partners"],
        ["flows"],
        ["dlq", "list"],
        ["replay", "swt-zwolle"],
        ["demo", "--once"],
        ["audit", "verify"],
        ["audit", "subject", "--bsn", "999990019"],
        ["audit", "export"],
        ["preview", "examples/referrals.submitted/valid/poh-ggz-referral.json"],
        ["asyncapi"],
        ["kpi"],
    ],
)
def test_unusable_settings_exit_2_naming_the_setting_not_its_value(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A setting that does not parse is named by its variable; its value (maybe a secret) is not shown."""
    monkeypatch.setenv("HUB_KAFKA__PARTITIONS", "s3cret-not-a-number")
    assert main(argv) == 2
    out = capsys.readouterr()
    assert "HUB_KAFKA__PARTITIONS: not a valid value" in out.err + out.out
    assert "s3cret" not in out.err + out.out


@pytest.mark.parametrize("command", ["status", "partners", "flows"])
def test_a_registry_that_cannot_be_read_exits_2(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A partners file that is not there is said in one line (exit 2), before Kafka is asked."""
    monkeypatch.setenv("HUB_PARTNERS_FILE", str(tmp_path / "missing.yaml"))
    assert main([command]) == 2
    assert capsys.readouterr().err.startswith(f"hub {command}: ")


def test_hub_kpi_refuses_a_month_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    """`hub kpi --month 2025-13` exits 2 naming the expected form, before it asks Kafka anything."""
    assert main(["kpi", "--month", "2025-13"]) == 2
    assert "not a month like" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ('{"k0": 12345678901234567890}', "HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS"),
        # id and secret swapped: the map's key is the secret, and must not be the name
        (
            '{"Q8+ZR/SUPERSECRETVALUE0123456789ABCDEF=": "k0"}',
            "HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS",
        ),
        ('{"not json', "a structured setting"),
    ],
)
@pytest.mark.parametrize("argv", [["audit", "keys"], ["kpi"], ["status"]])
def test_a_mistyped_earlier_key_is_named_never_shown(
    argv: list[str],
    value: str,
    named: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Neither a secret nor a map key of the earlier-keys setting reaches the terminal."""
    monkeypatch.setenv("HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS", value)
    assert main(argv) == 2
    out = capsys.readouterr()
    said = out.err + out.out
    assert named in said
    for secret in ("12345678901234567890", "SUPERSECRET", "Q8+ZR"):
        assert secret.upper() not in said.upper()


def test_replay_of_a_partner_without_its_signing_secret_exits_2(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A setting to fix is bad input (2), not "some were parked again" (1), and no traceback."""
    from hub.connectors.registry import DEMO_REGISTRY_PATH

    registry = DEMO_REGISTRY_PATH.read_text(encoding="utf-8").replace(
        "  - id: backoffice-zwolle\n",
        "  - id: backoffice-zwolle\n"
        '    delivery: {kind: webhook, url: "https://hooks.example/h", secret_env: HUB_TEST_UNSET}\n',
    )
    partners = tmp_path / "partners.yaml"
    partners.write_text(registry, encoding="utf-8")
    monkeypatch.setenv("HUB_PARTNERS_FILE", str(partners))
    monkeypatch.setenv("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.delenv("HUB_TEST_UNSET", raising=False)

    assert main(["replay", "backoffice-zwolle"]) == 2
    assert "HUB_TEST_UNSET" in capsys.readouterr().out
