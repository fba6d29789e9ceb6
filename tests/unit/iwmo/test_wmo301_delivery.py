"""A provider with ``iwmo: true`` gets a translatable ``assignments.issued`` as a WMO301 (in memory).

The live pipeline's per-record step (``hub.testing.InMemoryPipeline``): the 301 rides on
the provider's usual delivery topic in binary mode, the records it keeps go with the
event's own state changes, and its disclosure record lists what it carried.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from hub.connectors.registry import DEMO_REGISTRY_PATH, Partner, PartnerRegistry
from hub.envelope import from_kafka
from hub.errors import InvalidEvent
from hub.iwmo import (
    AssignmentRecord,
    MessageKind,
    disclosed_fields,
    ensure_structure,
    identificatie_301,
    parse_document,
)
from hub.iwmo.kept import assignment_record_key, client_index_key, sent_301_key
from hub.pipeline import OutRecord
from hub.privacy import Pseudonymiser
from hub.privacy.policy import DEFAULT_POLICY_PATH
from hub.settings import HubSettings, PrivacySettings
from hub.testing import InMemoryPipeline

DATA = Path(__file__).parent / "data"
PROVIDER = "provider-thuiszorg-zwolle"
PROVIDER_AGB = "73730001"
NUMBER = "26000311"
BSN = "999900031"
NOW = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
SECRET = "unit-test-pseudonym-secret-0123456789"
NEW_SECRET = "unit-test-rotated-pseudonym-secret-98765"


def issued(event_id: str | None = None, **data: Any) -> dict[str, Any]:
    """The Wmo assignment fixture (inspanningsgericht), with another id and data where given."""
    event: dict[str, Any] = json.loads((DATA / "assignments-issued-wmo.json").read_text())
    if event_id is not None:
        event["id"] = event_id
    event["data"].update(data)
    event["subject"] = event["data"]["assignment_number"]
    return event


def registry(*iwmo: str) -> PartnerRegistry:
    """The demo registry, with ``iwmo: true`` for these partners."""
    raw = yaml.safe_load(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"))
    partners = [Partner.model_validate({**p, "iwmo": p["id"] in iwmo}) for p in raw["partners"]]
    return PartnerRegistry(partners)


def hub_for(*iwmo: str) -> InMemoryPipeline:
    settings = HubSettings(privacy=PrivacySettings(pseudonym_secret=SECRET))
    return InMemoryPipeline(settings, registry=registry(*iwmo), clock=lambda: NOW)


@pytest.fixture
def hub() -> InMemoryPipeline:
    """The demo hub with in-memory state, its first provider asking for iWmo."""
    return hub_for(PROVIDER)


def pseudonym(bsn: str) -> str:
    return Pseudonymiser(SECRET.encode())(bsn)


def deliveries(hub: InMemoryPipeline, out: list[OutRecord]) -> list[OutRecord]:
    partner = hub.registry.get(PROVIDER)
    assert partner is not None
    return [r for r in out if r.topic == hub.layout.deliveries(partner)]


def header(record: OutRecord, name: str) -> str | None:
    return next((v.decode() for k, v in record.headers if k == name), None)


def disclosures(hub: InMemoryPipeline, out: list[OutRecord]) -> list[dict[str, Any]]:
    found = [json.loads(r.value or b"") for r in out if r.topic == hub.layout.disclosures]
    return [d for d in found if d["recipient"] == PROVIDER]


def state(hub: InMemoryPipeline, out: list[OutRecord]) -> dict[str, Any]:
    return {
        r.key.decode(): json.loads(r.value) if r.value else None
        for r in out
        if r.topic == hub.layout.state and r.key is not None
    }


def numbers_in(document: bytes) -> list[str]:
    tree = parse_document(document, max_bytes=len(document))
    return [e.text or "" for e in tree.iter() if str(e.tag).endswith("}ToewijzingNummer")]


# ------------------------------------------------------------------ which deliveries


def test_an_iwmo_provider_gets_a_wmo301_on_its_topic_in_binary_mode(hub: InMemoryPipeline) -> None:
    """Same type, id and subject as the JSON view; content-type application/xml; the value a valid 301."""
    json_hub = hub_for()
    [as_json] = deliveries(json_hub, json_hub.feed(issued()))
    [record] = deliveries(hub, hub.feed(issued()))
    assert header(record, "content-type") == "application/xml"
    assert header(as_json, "content-type") == "application/json"
    for name in ("ce_id", "ce_type", "ce_subject", "ce_source", "ce_time", "hub-disclosure-id"):
        assert header(record, name) == header(as_json, name)
    assert header(record, "ce_subject") == NUMBER
    assert header(record, "ce_dataschema") is None  # the JSON view's schema does not describe it
    assert record.key == NUMBER.encode()
    document = record.value or b""
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n')
    ensure_structure(parse_document(document, max_bytes=len(document)), MessageKind.WMO301)
    event = issued()
    assert identificatie_301(event["source"], event["id"]).encode() in document
    assert numbers_in(document) == [NUMBER]


def test_structured_mode_carries_the_document_as_a_json_string(hub: InMemoryPipeline) -> None:
    """Read back for a webhook or pull: ``datacontenttype`` application/xml, ``data`` the XML text."""
    [record] = deliveries(hub, hub.feed(issued()))
    event = from_kafka(record.key, record.headers, record.value, text_data=True)
    assert event["datacontenttype"] == "application/xml"
    assert event["data"] == (record.value or b"").decode("utf-8")
    with pytest.raises(InvalidEvent):  # a partner's record is always read as JSON
        from_kafka(record.key, record.headers, record.value)


def test_a_provider_without_iwmo_gets_json() -> None:
    """Without ``iwmo: true`` the provider gets its JSON view, and no iWmo state is kept."""
    hub = hub_for()
    out = hub.feed(issued())
    [record] = deliveries(hub, out)
    assert header(record, "content-type") == "application/json"
    assert json.loads(record.value or b"")["assignment_number"] == NUMBER
    assert not [k for k in state(hub, out) if k.startswith("iwmo-")]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            {"law": "jeugdwet", "product": {"category": "45", "code": "45A04"}}, id="not-wmo"
        ),
        pytest.param(
            {"variant": "taakgericht", "scope": {"budget_cents": 240000}}, id="taakgericht"
        ),
    ],
)
def test_untranslatable_assignments_stay_json(
    hub: InMemoryPipeline, changes: dict[str, Any]
) -> None:
    """A Jeugdwet or a taakgericht assignment reaches an iWmo provider as JSON, nothing kept."""
    out = hub.feed(issued(**changes))
    [record] = deliveries(hub, out)
    assert header(record, "content-type") == "application/json"
    assert json.loads(record.value or b"")["assignment_number"] == NUMBER
    [disclosure] = disclosures(hub, out)
    assert disclosure["outcome"] == "delivered"
    assert "case_id" in disclosure["fields_withheld"]
    assert not [k for k in state(hub, out) if k.startswith("iwmo-")]


def test_other_events_to_an_iwmo_provider_stay_json(hub: InMemoryPipeline) -> None:
    """A care.started the provider sends, and the plan it receives, are not rendered."""
    hub.feed(issued())
    started = {
        "specversion": "1.0",
        "id": "c7d2a1c4-5a43-4f0e-9d1b-7f3f1e0b1001",
        "source": "urn:nld:agb:73730001",
        "type": "nl.sociaaldomein.care.started.v1",
        "time": "2026-09-14T09:00:00+02:00",
        "subject": NUMBER,
        "datacontenttype": "application/json",
        "data": {
            "assignment_number": NUMBER,
            "provider_agb": PROVIDER_AGB,
            "product": {"category": "03", "code": "03B12"},
            "started_on": "2026-09-14",
            "delivery_status": "new",
        },
    }
    out = hub.feed(started)
    delivered = [r for r in out if ".deliveries." in r.topic]
    assert delivered
    assert {header(r, "content-type") for r in delivered} == {"application/json"}
    assert {json.loads(r.value or b"")["started_on"] for r in delivered} == {"2026-09-14"}


# ------------------------------------------------------------------ the product list and the state


def test_the_second_assignment_of_a_client_lists_both_products(hub: InMemoryPipeline) -> None:
    """OP087: the 301 of the client's second assignment at the provider lists the first one too."""
    hub.feed(issued())
    second = issued(
        "5b8e2f10-0c4e-4d8b-a7a9-2a1d3c4e5f60",
        assignment_number="26000312",
        product={"category": "06", "code": "06A01"},
    )
    out = hub.feed(second)
    [record] = deliveries(hub, out)
    assert numbers_in(record.value or b"") == [NUMBER, "26000312"]
    client = pseudonym(BSN)
    kept = state(hub, out)
    assert kept[client_index_key(PROVIDER_AGB, client)] == {
        "numbers": [NUMBER, "26000312"],
        "received_on": "2026-09-14",
    }
    sent = kept[sent_301_key(PROVIDER_AGB, identificatie_301(second["source"], second["id"]))]
    assert sent["numbers"] == ["26000312", NUMBER]


def test_the_state_kept_per_301_goes_with_the_events_own_changes(hub: InMemoryPipeline) -> None:
    """The record, the client index and the 301 sent are written in the event's output, before its delivery."""
    event = issued()
    out = hub.feed(event)
    [record] = deliveries(hub, out)
    kept = state(hub, out)
    client = pseudonym(BSN)
    index_key = client_index_key(PROVIDER_AGB, client)
    assert (
        index_key
        == "iwmo-client:" + hashlib.sha256(f"{PROVIDER_AGB}|{client}".encode()).hexdigest()
    )
    assert client not in index_key
    assert BSN not in json.dumps(kept)
    value = kept[assignment_record_key(NUMBER)]
    assert value["received_on"] == "2026-09-14"
    assert AssignmentRecord.from_json(value).client == client
    assert AssignmentRecord.from_json(value).product.number == int(NUMBER)
    identificatie = identificatie_301(event["source"], event["id"])
    assert kept[sent_301_key(PROVIDER_AGB, identificatie)] == {
        "gemeentecode": "0193",
        "provider_agb": PROVIDER_AGB,
        "identificatie": identificatie,
        "numbers": [NUMBER],
        "event_source": event["source"],
        "event_id": event["id"],
        "delivery_id": header(record, "ce_id"),
        "disclosure_id": header(record, "hub-disclosure-id"),
        "sent_on": "2026-09-14",
        "received_on": "2026-09-14",
    }
    # The hash chain's head is the batch's, written once after it (Pipeline.handle_batch).
    state_positions = [
        i
        for i, r in enumerate(out)
        if r.topic == hub.layout.state and not (r.key or b"").startswith(b"audit-chain:")
    ]
    assert max(state_positions) < out.index(record)
    assert hub.state.get(assignment_record_key(NUMBER)) == value  # committed with the batch


# ------------------------------------------------------------------ disclosure and withholding


def test_the_disclosure_record_lists_what_the_301_carried(hub: InMemoryPipeline) -> None:
    """fields_disclosed = the 301's fields of the view; the view's other fields are withheld."""
    event = issued()
    out = hub.feed(event)
    [record] = deliveries(hub, out)
    [disclosure] = disclosures(hub, out)
    assert disclosure["outcome"] == "delivered"
    assert disclosure["delivery_id"] == header(record, "ce_id")
    assert disclosure["fields_disclosed"] == sorted(disclosed_fields(event["data"]))
    assert "client.bsn" in disclosure["fields_disclosed"]
    for path in ("case_id", "decision_id", "team_contact.name", "team_contact.phone"):
        assert path in disclosure["fields_withheld"]
        assert path not in disclosure["fields_disclosed"]


def test_a_301_that_cannot_be_rendered_is_withheld_and_alerted(hub: InMemoryPipeline) -> None:
    """CS338 broken: nothing sent, withheld IWMO_NOT_RENDERABLE, an alert without personal data."""
    event = issued(scope={"volume": 3, "unit": "14", "frequency": "1"})
    with structlog.testing.capture_logs() as logs:
        out = hub.feed(event)
    assert deliveries(hub, out) == []
    [disclosure] = disclosures(hub, out)
    assert disclosure["outcome"] == "withheld"
    assert disclosure["reason"] == "IWMO_NOT_RENDERABLE"
    assert disclosure["delivery_id"] is None
    assert disclosure["fields_disclosed"] == []
    assert "client.bsn" in disclosure["fields_withheld"]
    [status] = [json.loads(r.value or b"") for r in out if r.topic == hub.layout.status]
    assert PROVIDER in status["withheld"]
    assert not [k for k in state(hub, out) if k.startswith("iwmo-")]
    [alert] = [entry for entry in logs if entry["event"] == "delivery_not_rendered"]
    assert alert["log_level"] == "error"
    assert {
        k: alert[k] for k in ("recipient", "format", "reason", "disclosure_id", "event_id")
    } == {
        "recipient": PROVIDER,
        "format": "iwmo",
        "reason": "IWMO_NOT_RENDERABLE",
        "disclosure_id": disclosure["disclosure_id"],
        "event_id": event["id"],
    }
    logged = json.dumps(logs, default=str)
    for value in (BSN, "Wiersma", "1948-07-01", "Roijensingel"):
        assert value not in logged


@pytest.mark.parametrize(
    ("left_out", "rendered"),
    [
        ("change_reason", False),
        ("product.code", False),
        ("scope", False),
        ("client.birth_date", False),
        ("client.phone", True),  # a 301 may go without it: sent without Telefoon
    ],
)
def test_a_table_that_leaves_out_a_field_a_301_needs_makes_it_not_renderable(
    tmp_path: Path, left_out: str, rendered: bool
) -> None:
    """A privacy officer's narrower provider row: a 301 without a field it cannot go without is not sent."""
    table = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    narrowed = table.replace(
        "except: [case_id, decision_id]", f"except: [case_id, decision_id, {left_out}]", 1
    )
    assert narrowed != table
    policy = tmp_path / "privacy.yaml"
    policy.write_text(narrowed, encoding="utf-8")
    settings = HubSettings(privacy=PrivacySettings(pseudonym_secret=SECRET, policy_file=policy))
    narrowed_hub = InMemoryPipeline(settings, registry=registry(PROVIDER), clock=lambda: NOW)
    narrowed_hub.feed(issued())
    changed = issued("changed-1", status="changed", change_reason="05")
    changed["data"]["client"]["phone"] = "+31 6 1234 5678"
    out = narrowed_hub.feed(changed)
    [disclosure] = disclosures(narrowed_hub, out)
    if rendered:
        [delivery] = deliveries(narrowed_hub, out)
        assert b"Telefoon" not in (delivery.value or b"")
        assert disclosure["outcome"] == "delivered"
    else:
        assert deliveries(narrowed_hub, out) == []
        assert (disclosure["outcome"], disclosure["reason"]) == ("withheld", "IWMO_NOT_RENDERABLE")


@pytest.mark.parametrize(
    ("changes", "left_out", "expected"),
    [
        (
            {"variant": "taakgericht", "scope": {"budget_cents": 240000}},
            "client.birth_date",
            "json",
        ),
        (
            {"law": "jeugdwet", "product": {"category": "45", "code": "45A01"}},
            "client.birth_date",
            "json",
        ),
        ({"scope": {"budget_cents": 240000}}, "product.code", "iwmo"),
        ({"law": "jeugdwet", "product": {"category": "45", "code": "45A01"}}, "law", "json"),
        ({"variant": "taakgericht", "scope": {"budget_cents": 240000}}, "client.bsn", "json"),
        ({}, "variant", "json"),  # the view cannot say whether iWmo translates it
    ],
    ids=[
        "taakgericht",
        "jeugdwet",
        "budget-without-code",
        "jeugdwet-without-law",
        "taakgericht-without-bsn",
        "without-variant",
    ],
)
def test_a_narrowed_row_withholds_only_a_301_that_needs_the_field(
    tmp_path: Path, changes: dict[str, Any], left_out: str, expected: str
) -> None:
    """Untranslated assignments stay JSON, and a budget's 301 never carries the code (CD041)."""
    table = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    policy = tmp_path / "privacy.yaml"
    policy.write_text(
        table.replace(
            "except: [case_id, decision_id]", f"except: [case_id, decision_id, {left_out}]", 1
        ),
        encoding="utf-8",
    )
    settings = HubSettings(privacy=PrivacySettings(pseudonym_secret=SECRET, policy_file=policy))
    narrowed_hub = InMemoryPipeline(settings, registry=registry(PROVIDER), clock=lambda: NOW)
    out = narrowed_hub.feed(issued(**changes))
    [delivery] = deliveries(narrowed_hub, out)
    is_xml = header(delivery, "content-type") == "application/xml"
    assert ("iwmo" if is_xml else "json") == expected


def test_a_duplicate_renders_nothing_again(hub: InMemoryPipeline) -> None:
    """A redelivered event is a duplicate: no second 301, no state written."""
    hub.feed(issued())
    assert hub.feed(issued()) == []


def test_another_providers_assignment_reaches_only_that_provider_as_json() -> None:
    """The assignment of a provider without iWmo is JSON for it; the iWmo provider gets nothing."""
    hub = hub_for(PROVIDER)
    out = hub.feed(issued(provider_agb="73730002"))
    assert deliveries(hub, out) == []
    other = hub.registry.get("provider-jeugdhulp-ijssel")
    assert other is not None
    [record] = [r for r in out if r.topic == hub.layout.deliveries(other)]
    assert header(record, "content-type") == "application/json"


def test_a_second_assignment_after_a_key_rotation_lists_the_first_and_rekeys_the_index(
    hub: InMemoryPipeline,
) -> None:
    """OP087 across a pseudonym key rotation: the client's index written under the old key
    is found, its numbers move to the index under the new key, and the old entry goes."""
    hub.feed(issued())
    rotated = InMemoryPipeline(
        HubSettings(
            privacy=PrivacySettings(
                pseudonym_secret=NEW_SECRET,  # type: ignore[arg-type]
                pseudonym_key_id="k2",
                previous_pseudonym_secrets={"k1": SECRET},  # type: ignore[dict-item]
            )
        ),
        registry=registry(PROVIDER),
        clock=lambda: NOW,
    )
    rotated.state, rotated.held = hub.state, hub.held  # a restart: the same routing state
    second = issued(
        "5b8e2f10-0c4e-4d8b-a7a9-2a1d3c4e5f60",
        assignment_number="26000312",
        product={"category": "06", "code": "06A01"},
    )
    out = rotated.feed(second)
    [record] = deliveries(rotated, out)
    assert numbers_in(record.value or b"") == [NUMBER, "26000312"]
    new_client = Pseudonymiser(NEW_SECRET.encode())(BSN)
    kept = state(rotated, out)
    assert kept[client_index_key(PROVIDER_AGB, new_client)] == {
        "numbers": [NUMBER, "26000312"],
        "received_on": "2026-09-14",
    }
    assert kept[client_index_key(PROVIDER_AGB, pseudonym(BSN))] is None
    assert [d["pseudonym_key"] for d in disclosures(rotated, out)] == ["k2"]
