"""The worked example (connectors/debt-assistance, docs/connectors.md) passes its own tests here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "connectors" / "debt-assistance" / "tests"


def test_the_debt_assistance_connector_passes_its_tests_against_this_hub() -> None:
    """Its kit and in-memory tests pass in a session of their own, where it is installed."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not integration",
            str(EXAMPLE),
        ],
        cwd=REPO,
        env={**os.environ, "HUB_ENVIRONMENT": "development"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout
