"""`hub replay` refuses partners that take no webhooks, before touching Kafka."""

from __future__ import annotations

import pytest

from hub.cli import main


@pytest.mark.parametrize("partner", ["swt-zwolle", "no-such-partner"])
def test_replay_refuses_a_partner_without_webhook_delivery(
    partner: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A partner that is unknown or reads its own Kafka topic has nothing parked: exit 2, one sentence."""
    assert main(["replay", partner]) == 2
    assert (
        capsys.readouterr().out == f"hub replay: {partner} is not a registered webhook recipient\n"
    )
