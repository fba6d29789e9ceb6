"""`hub demo`, as a new user runs it, shows the GP's referral reaching the wijkteam."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


async def test_demo_plays_the_scenario_and_the_referral_reaches_the_wijkteam(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """`hub demo --once` exits 0 after every partner's view was printed, the wijkteam's referral first."""
    env = {
        **os.environ,
        "HUB_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HUB_AUDIT__STORE_URL": f"sqlite:///{tmp_path}/audit.sqlite3",
    }
    env.pop("HUB_KAFKA__TOPIC_PREFIX", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "demo", "--once",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=110)
    text = output.decode()
    assert process.returncode == 0, text[-2000:]
    lines = text.splitlines()
    sent = lines.index("  gp-de-linde sends referrals.submitted")
    assert lines[sent + 1].startswith("      -> swt-zwolle                 referral_id referrer{")
    assert sum(1 for line in lines if " sends " in line) == 40
    assert "The GP's referral reached the wijkteam (swt-zwolle)." in lines
    assert "-> gp-de-linde                referral_id status status_on team{name,contact}" in text
    # Its topics are new: the readers of them wait for the router to create them, rather
    # than greet a new user with a failed reading each.
    for failed in ("lag_check_failed", "deadletters_check_failed", "kpi_aggregation_failed"):
        assert failed not in text
