"""``hub preview``: the example chain through the live per-event step, one JSON line per result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.cli import main
from hub.connectors.registry import PartnerRegistry
from hub.schemas import validate_with_registry
from tests.unit.routing.routing_helpers import (
    EXAMPLES,
    InMemoryHub,
    example,
    make_context,
    scenario_files,
)


def preview(capsys: pytest.CaptureFixture[str], *paths: Path | str) -> list[dict[str, Any]]:
    """Run ``hub preview`` and return its output lines as JSON."""
    assert main(["preview", *map(str, paths)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def write(tmp_path: Path, name: str, event: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


def test_the_example_chain_prints_one_line_per_release_or_withholding(
    capsys: pytest.CaptureFixture[str], registry: PartnerRegistry
) -> None:
    """Preview prints, in order, exactly what process() releases or withholds for the chain."""
    lines = preview(capsys, *(EXAMPLES / f for f in scenario_files()))
    hub = InMemoryHub(make_context(registry))
    expected = []
    for outcome in hub.send_examples(scenario_files()):
        assert outcome.decision is not None
        deliveries = {d.disclosure_id: d for d in outcome.decision.deliveries}
        for record in outcome.decision.disclosures:
            line: dict[str, Any] = {"event": record.event_id, "recipient": record.recipient}
            delivery = deliveries.get(record.disclosure_id)
            if delivery is None:
                line["withheld"] = record.reason
            else:
                line["data"] = json.loads(json.dumps(delivery.event.data))
            expected.append(line)
    assert lines == expected
    assert len(lines) == 56
    referral = example("referrals.submitted/valid/poh-ggz-referral.json")
    assert lines[0] == {
        "event": referral["id"],
        "recipient": "swt-zwolle",
        "data": validate_with_registry(referral, registry).canonical_data(),
    }
    assert sum("withheld" in line for line in lines) == 2


def test_rejections_duplicates_and_withholdings_are_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A stateful rejection, a stateless one, a duplicate and a withheld gp feedback each get a line."""
    feedback = EXAMPLES / "referrals.status-changed/valid/received.json"
    referral = example("referrals.submitted/valid/poh-ggz-referral.json")
    referral["data"]["consent"] = {"status_feedback": False, "content_feedback": False}
    no_consent = write(tmp_path, "no-consent.json", referral)
    invalid = EXAMPLES / "referrals.status-changed/invalid/status-unknown.json"
    lines = preview(capsys, feedback, no_consent, feedback, invalid, no_consent)
    received = example("referrals.status-changed/valid/received.json")["id"]
    assert lines == [
        {
            "event": received,
            "rejected": [
                {
                    "path": "data.referral_id",
                    "code": "UNKNOWN_REFERENCE",
                    "message": "No referral with this referral_id is known.",
                }
            ],
        },
        {"event": referral["id"], "recipient": "swt-zwolle", "data": lines[1]["data"]},
        {"event": received, "duplicate": True},  # the rejected one was seen
        {
            "event": example("referrals.status-changed/invalid/status-unknown.json")["id"],
            "rejected": lines[3]["rejected"],
        },
        {"event": referral["id"], "duplicate": True},
    ]
    assert [e["code"] for e in lines[3]["rejected"]] == ["VALUE_NOT_ALLOWED"]


def test_gp_feedback_without_consent_is_shown_as_withheld(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without status-feedback consent the gp's line says withheld, with the reason code."""
    referral = example("referrals.submitted/valid/poh-ggz-referral.json")
    referral["data"]["consent"] = {"status_feedback": False, "content_feedback": False}
    feedback = EXAMPLES / "referrals.status-changed/valid/received.json"
    lines = preview(capsys, write(tmp_path, "referral.json", referral), feedback)
    assert lines[1] == {
        "event": example("referrals.status-changed/valid/received.json")["id"],
        "recipient": "gp-de-linde",
        "withheld": "NO_STATUS_FEEDBACK_CONSENT",
    }


def test_a_file_that_is_not_json_is_a_rejected_event(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Malformed JSON is reported as a rejection without an event id."""
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    assert preview(capsys, path) == [
        {
            "event": None,
            "rejected": [
                {
                    "path": "",
                    "code": "MALFORMED_JSON",
                    "message": "The body is not valid UTF-8 JSON.",
                }
            ],
        }
    ]


def test_an_unreadable_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A missing file makes the arguments unusable: exit 2 and nothing on stdout."""
    assert main(["preview", str(tmp_path / "missing.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("hub preview: cannot read ")


def test_a_bad_partner_registry_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A registry that fails validation makes the arguments unusable: exit 2."""
    registry = tmp_path / "partners.yaml"
    registry.write_text("partners: []\n", encoding="utf-8")
    path = EXAMPLES / "budgets.status-reported/valid/march.json"
    assert main(["preview", str(path), "--partners", str(registry)]) == 2
    assert "exactly one backoffice partner" in capsys.readouterr().err
