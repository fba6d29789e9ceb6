"""The shipped alert rules are valid and each one's unit tests pass (promtool from Debian's prometheus)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .prometheustest import promtool

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def test_the_alert_rules_are_valid() -> None:
    """`promtool check rules` accepts hub-alerts.yml."""
    checked = subprocess.run(
        [promtool(), "check", "rules", str(RULES / "hub-alerts.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say() -> None:
    """`promtool test rules` passes, and its tests name every alert of the rule file."""
    tested = subprocess.run(
        [promtool(), "test", "rules", "hub-alerts.test.yml"],
        capture_output=True,
        text=True,
        cwd=RULES,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {
        line.split(":", 1)[1].strip()
        for line in (RULES / "hub-alerts.yml").read_text().splitlines()
        if line.strip().startswith("- alert:")
    }
    tests = (RULES / "hub-alerts.test.yml").read_text()
    for alert in alerts:
        # Each alert has a case where it fires and one where it does not.
        assert f"alertname: {alert}\n        exp_alerts: []" in tests, alert
        assert f"alertname: {alert}\n        exp_alerts:\n" in tests, alert
