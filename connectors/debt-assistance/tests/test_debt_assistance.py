"""The debt-assistance connector: the kit, and its two types through the pipeline in memory."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_debt_assistance import CONNECTOR

from hub.connectors import load_registry
from hub.errors import InvalidEvent
from hub.privacy import DEFAULT_POLICY_PATH
from hub.schemas import validate_with_registry
from hub.settings import HubSettings
from hub.testing import InMemoryPipeline, load_example
from hub.testing.connector_kit import check_connector

HERE = Path(__file__).resolve().parent
PARTNERS = HERE / "partners.yaml"
EXAMPLES = Path(str(CONNECTOR.examples))
REQUESTED = EXAMPLES / "debt-assistance.requested" / "valid"
STATUS = EXAMPLES / "debt-assistance.status-changed" / "valid"
WGS = "Wet gemeentelijke schuldhulpverlening art. 8a"


def test_the_connector_passes_the_kit() -> None:
    """Examples, views, adapters, delivery and the protection classes: the kit finds nothing."""
    check_connector(CONNECTOR, registry=load_registry(PARTNERS))


def _hub(policy_file: Path | None = None) -> InMemoryPipeline:
    settings = HubSettings(partners_file=PARTNERS)
    if policy_file is not None:
        settings = settings.model_copy(
            update={"privacy": settings.privacy.model_copy(update={"policy_file": policy_file})}
        )
    return InMemoryPipeline(settings)


def _event(path: Path) -> dict[str, Any]:
    event = load_example(path)
    event["id"] = str(uuid.uuid4())
    return event


def _written(hub: InMemoryPipeline, event: dict[str, Any]) -> dict[str, list[Any]]:
    """What the hub wrote for one event, per topic, values decoded."""
    written: dict[str, list[Any]] = {}
    for record in hub.feed(event):
        written.setdefault(record.topic, []).append(json.loads(record.value or b"null"))
    return written


def _deliveries(hub: InMemoryPipeline, written: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The data delivered per partner id (binary mode: a delivery's value is its data)."""
    return {
        partner.id: written[hub.layout.deliveries(partner)]
        for partner in hub.registry
        if hub.layout.deliveries(partner) in written
    }


def test_a_request_with_consent_reaches_debt_assistance_without_anything_else() -> None:
    """Client identity and contact, household size, reason, consent: to debt assistance alone."""
    hub = _hub()
    event = _event(REQUESTED / "with-consent.json")
    written = _written(hub, event)

    [delivered] = _deliveries(hub, written)["schuldhulp-zwolle"]
    assert sorted(delivered) == [
        "client", "consent", "household_size", "reason", "request_id", "requested_on",
    ]  # fmt: skip
    assert list(_deliveries(hub, written)) == ["schuldhulp-zwolle"]
    [record] = written[hub.layout.disclosures]
    assert (record["recipient"], record["outcome"], record["legal_basis"]) == (
        "schuldhulp-zwolle",
        "delivered",
        WGS,
    )
    assert record["processing_activity"] == "debt-assistance"


def test_without_consent_the_request_is_withheld_and_the_withholding_logged() -> None:
    """No recorded consent: nothing is delivered; the disclosure log says withheld, and why."""
    hub = _hub()
    written = _written(hub, _event(REQUESTED / "without-consent.json"))

    assert _deliveries(hub, written) == {}
    [record] = written[hub.layout.disclosures]
    assert record["recipient"] == "schuldhulp-zwolle"
    assert record["outcome"] == "withheld"
    assert record["reason"] == "NO_CONSENT_DEBT_ASSISTANCE"
    assert record["fields_disclosed"] == []
    assert "client.bsn" in record["fields_withheld"]


def test_the_status_reaches_the_wijkteam_only() -> None:
    """status-changed goes to swt and to no one else, with its legal basis."""
    hub = _hub()
    event = _event(STATUS / "intake-scheduled.json")
    written = _written(hub, event)

    assert _deliveries(hub, written) == {"swt-zwolle": [event["data"]]}
    assert [(r["recipient"], r["outcome"]) for r in written[hub.layout.disclosures]] == [
        ("swt-zwolle", "delivered")
    ]


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        (lambda d: d.update(case_notes="Gesprek 12/3: ..."), "data.case_notes", "FIELD_UNKNOWN"),
        (lambda d: d.update(reason="x" * 1001), "data.reason", "TOO_LONG"),
        (lambda d: d.update(household_size=0), "data.household_size", "OUT_OF_RANGE"),
        (
            lambda d: d["consent"].pop("recorded_on"),
            "data.consent.recorded_on",
            "CONSENT_INCONSISTENT",
        ),
        (lambda d: d["client"].pop("bsn"), "data.client.bsn", "FIELD_REQUIRED"),
    ],
)
def test_a_request_keeps_to_its_contract(change: Any, path: str, code: str) -> None:
    """No case notes, a reason of at most 1,000 characters, a household, consent with its date."""
    event = _event(REQUESTED / "with-consent.json")
    change(event["data"])
    with pytest.raises(InvalidEvent) as raised:
        validate_with_registry(event, load_registry(PARTNERS))
    assert [(e.path, e.code.value) for e in raised.value.errors] == [(path, code)]


def test_only_the_wijkteam_may_send_a_request() -> None:
    """A request from the debt-assistance partner itself is refused (TYPE_NOT_ALLOWED)."""
    event = _event(REQUESTED / "with-consent.json")
    event["source"] = "urn:nld:oin:00000001234567890000:systeem:schuldhulp"
    with pytest.raises(InvalidEvent) as raised:
        validate_with_registry(event, load_registry(PARTNERS))
    assert [e.code.value for e in raised.value.errors] == ["TYPE_NOT_ALLOWED"]


def test_the_main_table_may_change_the_legal_basis(tmp_path: Path) -> None:
    """A table defining ``wgs`` overrides the connector's basis of that name."""
    table = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    table = copy.deepcopy(table)
    table["legal_bases"]["wgs"] = "Wgs art. 8a, lid 2 (gemeentelijk beleid)"
    path = tmp_path / "privacy.yaml"
    path.write_text(yaml.safe_dump(table), encoding="utf-8")
    hub = _hub(path)
    written = _written(hub, _event(REQUESTED / "with-consent.json"))
    [record] = written[hub.layout.disclosures]
    assert record["legal_basis"] == "Wgs art. 8a, lid 2 (gemeentelijk beleid)"
