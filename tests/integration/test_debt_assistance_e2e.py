"""The worked example end to end on this broker: its own integration test, run in a session of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "connectors" / "debt-assistance" / "tests" / "test_debt_assistance_e2e.py"


@pytest.mark.timeout(300)
def test_debt_assistance_request_status_and_withholding_on_the_broker(kafka_bootstrap: str) -> None:
    """swt posts over HTTP; the partner receives it; its status reaches swt; no consent: withheld."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
        cwd=REPO,
        env={
            **os.environ,
            "HUB_ENVIRONMENT": "development",
            "HUB_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        },
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
