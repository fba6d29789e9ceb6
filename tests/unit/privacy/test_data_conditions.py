"""Data conditions: a row (or some of its fields) needs a boolean field of the event's own data true."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.connectors.registry import load_registry
from hub.errors import ConfigurationError
from hub.privacy import DEFAULT_POLICY_PATH, load_policy
from hub.privacy.policy import DataCondition
from hub.settings import HubSettings
from hub.testing import InMemoryPipeline, load_example

DEFAULT: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def _table(tmp_path: Path, **changes: Any) -> Path:
    """The default table with the referrals.submitted -> swt row changed."""
    document = copy.deepcopy(DEFAULT)
    row = next(
        r
        for r in document["routes"]
        if r["type"] == "referrals.submitted" and r["recipient"] == "swt"
    )
    row.update(changes)
    path = tmp_path / "privacy.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _hub(path: Path) -> InMemoryPipeline:
    settings = HubSettings()
    settings = settings.model_copy(
        update={"privacy": settings.privacy.model_copy(update={"policy_file": path})}
    )
    return InMemoryPipeline(settings)


def _out(hub: InMemoryPipeline, event: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The data delivered to swt (binary mode: the value is the data) and the disclosure records."""
    out = hub.feed(event)
    swt = hub.registry.only("swt")
    deliveries = [json.loads(r.value) for r in out if r.topic == hub.layout.deliveries(swt)]
    records = [json.loads(r.value) for r in out if r.topic == hub.layout.disclosures]
    return deliveries, records


def _referral(number: int, **data: Any) -> dict[str, Any]:
    """A direct youth-care referral (its client is young enough) with its own id and changes."""
    event = load_example("referrals.submitted/valid/youth-care-direct.json")
    event["id"] = str(uuid.uuid4())
    event["subject"] = event["data"]["referral_id"] = f"REF-DATA-{number}"
    event["data"].update(data)
    return event


def test_a_row_with_a_data_condition_delivers_only_when_the_field_is_true(tmp_path: Path) -> None:
    """``when: data.youth_care``: delivered when true; withheld and logged with a derived reason."""
    hub = _hub(_table(tmp_path, when="data.youth_care"))

    delivered, records = _out(hub, _referral(1, youth_care=True))
    assert len(delivered) == 1
    assert [r["outcome"] for r in records if r["recipient"] == "swt-zwolle"] == ["delivered"]

    withheld, records = _out(hub, _referral(2, youth_care=False))
    assert withheld == []
    [record] = [r for r in records if r["recipient"] == "swt-zwolle"]
    assert record["outcome"] == "withheld"
    assert record["reason"] == "NO_YOUTH_CARE"
    assert record["fields_disclosed"] == []


def test_fields_when_a_data_condition_adds_fields_only_when_it_holds(tmp_path: Path) -> None:
    """``fields_when: {data.consent.content_feedback: [...]}`` adds the listed paths when true."""
    hub = _hub(
        _table(
            tmp_path,
            fields=["referral_id"],
            fields_when={"data.consent.content_feedback": ["request.urgency"]},
        )
    )
    with_content = _referral(
        3,
        consent={"status_feedback": True, "content_feedback": True, "recorded_on": "2025-03-03"},
    )
    without = _referral(
        4,
        consent={"status_feedback": True, "content_feedback": False, "recorded_on": "2025-03-03"},
    )
    [first], _ = _out(hub, with_content)
    [second], _ = _out(hub, without)
    assert first == {
        "referral_id": with_content["data"]["referral_id"],
        "request": {"urgency": with_content["data"]["request"]["urgency"]},
    }
    assert second == {"referral_id": without["data"]["referral_id"]}


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            "data.referral_id",
            "data.referral_id is not a boolean field of referrals.submitted's data",
        ),
        ("data.consent.nothing", "data.consent.nothing is not a boolean field"),
        ("data.client.bsn.x", "data.client.bsn.x is not a boolean field"),
        ("consent.somewhere", "not a condition; known: consent.status_feedback, "),
    ],
)
def test_a_data_condition_must_name_a_boolean_field(
    tmp_path: Path, when: str, message: str
) -> None:
    """A path that is not a boolean of the type's v1 data stops the hub, naming the row's key."""
    path = _table(tmp_path, when=when)
    with pytest.raises(ConfigurationError) as raised:
        load_policy(path, registry=load_registry())
    assert raised.value.path.endswith(".when")
    assert message in raised.value.message


def test_the_condition_reads_only_a_present_true() -> None:
    """Absent, false, a string "true" or a walk through a non-object: the condition does not hold."""
    condition = DataCondition(("consent", "debt_assistance"))
    assert condition.value == "data.consent.debt_assistance"
    assert condition.withheld_reason == "NO_CONSENT_DEBT_ASSISTANCE"
    assert condition.holds({"consent": {"debt_assistance": True}})
    for data in ({}, {"consent": {}}, {"consent": {"debt_assistance": False}},
                 {"consent": {"debt_assistance": "true"}}, {"consent": [True]}):  # fmt: skip
        assert not condition.holds(data)
