"""``hub policy test CASES.yaml``: a privacy officer's cases on the live pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import hub
from hub.cli import main
from hub.testing import personal_values, scenario

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TABLE = Path(hub.__file__).parent / "data" / "privacy.default.yaml"


def test_the_shipped_cases_hold_under_the_default_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", str(EXAMPLES / "policy-cases.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.count("ok   ") == 4


def test_a_table_that_gives_the_gp_the_note_fails_the_officers_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row changed to send the team's note without content consent is caught, by path."""
    changed = TABLE.read_text(encoding="utf-8").replace(
        "fields: [referral_id, status, status_on, team]\n",
        "fields: [referral_id, status, status_on, team, note]\n",
    )
    assert changed != TABLE.read_text(encoding="utf-8")
    (tmp_path / "privacy.yaml").write_text(changed, encoding="utf-8")

    code = main(
        [
            "policy", "test", str(EXAMPLES / "policy-cases.yaml"),
            "--privacy", str(tmp_path / "privacy.yaml"), "--json",
        ]
    )  # fmt: skip

    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    failed = [line for line in lines if not line["ok"]]
    assert [line["case"] for line in failed] == [
        "with status consent only, the GP hears the status, never the team's note"
    ]
    assert failed[0]["problems"] == ["gp-de-linde received note"]


def test_every_kind_of_expectation_reports_a_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    referral = str(EXAMPLES / "referrals.submitted/valid/poh-ggz-referral.json")
    cases = {
        "cases": [
            {"name": "wrong recipients", "event": referral, "expect": {"recipients": ["gp-de-linde"]}},
            {"name": "missing field", "event": referral,
             "expect": {"fields": {"swt-zwolle": {"present": ["client.nickname"]}}}},
            {"name": "expected a rejection", "event": referral, "expect": {"rejected": ["X"]}},
            {"name": "expected a withholding", "event": referral,
             "expect": {"withheld": {"gp-de-linde": "NO_STATUS_FEEDBACK_CONSENT"}}},
            {"name": "nothing received", "event": referral,
             "expect": {"fields": {"backoffice-zwolle": {"present": ["client"]}}}},
        ]
    }  # fmt: skip
    path = tmp_path / "cases.yaml"
    path.write_text(json.dumps(cases), encoding="utf-8")  # JSON is YAML

    assert main(["policy", "test", str(path), "--json"]) == 1

    output = capsys.readouterr().out
    problems = {line["case"]: line["problems"] for line in map(json.loads, output.splitlines())}
    assert problems == {
        "wrong recipients": ["recipients ['swt-zwolle'], expected ['gp-de-linde']"],
        "missing field": ["swt-zwolle did not receive client.nickname"],
        "expected a rejection": ["event was released, expected rejected (X)"],
        "expected a withholding": [
            "withheld {}, expected {'gp-de-linde': 'NO_STATUS_FEEDBACK_CONSENT'}"
        ],
        "nothing received": ["backoffice-zwolle received nothing; its fields cannot be checked"],
    }
    values = {v for raw in scenario() for v in personal_values(raw["data"])}
    assert not [value for value in values if value in output]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("cases: []\n", "cases"),
        ("cases:\n  - name: x\n    event: a.json\n", "cases.0.expect"),
        ("cases:\n  - {name: x, event: missing.json, expect: {}}\n", "cannot read"),
        ("cases: [\n", "not YAML"),
        ("just a line\n", "(the file): Input should be a valid dictionary\n"),
        ("cases:\n  - 3\n", "cases.0: Input should be a valid dictionary\n"),
    ],
)
def test_an_unusable_cases_file_exits_2_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(content, encoding="utf-8")

    assert main(["policy", "test", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_per_assignment_outcomes_are_named_provider_at_assignment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second plan reaches thuiszorg for 25000107 and is withheld for its 25000109."""
    order = yaml.safe_load((EXAMPLES / "scenario.yaml").read_text(encoding="utf-8"))["events"]
    second = order.index("cases.plan-updated/valid/second-plan.json")
    case = {
        "name": "the plan per assignment (invariant 4)",
        "given": [str(EXAMPLES / f) for f in order[:second]],
        "event": str(EXAMPLES / order[second]),
        "expect": {
            "recipients": [
                "provider-thuiszorg-zwolle@25000107",
                "provider-jeugdhulp-ijssel@25000108",
            ],
            "withheld": {"provider-thuiszorg-zwolle@25000109": "NO_GOALS_FOR_ASSIGNMENT"},
        },
    }
    path = tmp_path / "cases.yaml"
    path.write_text(json.dumps({"cases": [case]}), encoding="utf-8")

    assert main(["policy", "test", str(path)]) == 0, capsys.readouterr().out
