"""The AsyncAPI document: valid AsyncAPI 3.0.0, every topic the hub creates, and true to what it writes.

Validity is checked by the AsyncAPI Initiative's own JSON Schema of AsyncAPI 3.0.0
(``tests/data/asyncapi``, vendored from ``@asyncapi/specs``); truth by running the example
scenario through the live per-record step and validating every record it writes (key,
headers, value) against the message the document names for its topic.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from hub.asyncapi import asyncapi_document, render_document
from hub.audit.record import AttemptResult, DeliveryAttempt
from hub.connectors.registry import DEMO_REGISTRY_PATH, Partner, PartnerRegistry
from hub.errors import InvalidEvent
from hub.pipeline import InboundRecord, OutRecord
from hub.privacy import load_policy
from hub.privacy.views import view_file, view_schemas
from hub.settings import AuditSettings, HubSettings, PrivacySettings
from hub.testing import InMemoryPipeline, invalid_examples, load_example, personal_values, scenario
from hub.topics import TopicLayout

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "data" / "asyncapi"
SCHEMA_FILE = SCHEMA_DIR / "asyncapi-3.0.0.schema.json"
SCHEMA_SHA256 = "d4571a420e6ffb7fcc7066c95a6db1202f299a3c51daa103d0706bf30f95e626"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

IWMO_PROVIDER = "provider-thuiszorg-zwolle"
JSON_PROVIDER = "provider-jeugdhulp-ijssel"
OWN_TOPIC_GP = "gp-het-anker"
OWN_TOPIC = "partners.gp-het-anker.inbox"
SECRET = "unit-test-pseudonym-secret-0123456789"


def registry() -> PartnerRegistry:
    """The demo registry; one provider asks for iWmo, one GP reads a topic it named."""
    raw = yaml.safe_load(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"))
    partners = []
    for entry in raw["partners"]:
        if entry["id"] == IWMO_PROVIDER:
            entry = {**entry, "iwmo": True}
        if entry["id"] == OWN_TOPIC_GP:
            entry = {**entry, "delivery": {"kind": "kafka", "topic": OWN_TOPIC}}
        partners.append(Partner.model_validate(entry))
    return PartnerRegistry(partners)


def settings() -> HubSettings:
    return HubSettings(privacy=PrivacySettings(pseudonym_secret=SECRET))


@cache
def document() -> dict[str, Any]:
    return asyncapi_document(settings(), registry())


@cache
def asyncapi_validator() -> Draft7Validator:
    """A validator of the published AsyncAPI 3.0.0 schema; its definitions found by their $id."""
    schema = json.loads(SCHEMA_FILE.read_bytes())
    resources = Registry().with_resource(schema["$id"], DRAFT7.create_resource(schema)).crawl()
    return Draft7Validator(schema, registry=resources)


DOC_URI = "urn:hub:asyncapi"


@cache
def doc_registry() -> Registry[Any]:
    """The document as a resource, so its ``#/components/...`` references resolve."""
    return Registry().with_resource(DOC_URI, Resource(document(), DRAFT7))


def validate_at(instance: Any, *pointer: str) -> None:
    """Validate ``instance`` against the schema at ``pointer`` in the document."""
    Draft7Validator({"$ref": f"{DOC_URI}#/{'/'.join(pointer)}"}, registry=doc_registry()).validate(
        instance
    )


def message_name(ref: Mapping[str, str]) -> str:
    return ref["$ref"].removeprefix("#/components/messages/")


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


# ---------------------------------------------------------------------- valid AsyncAPI 3.0.0


def test_the_vendored_asyncapi_schema_is_the_published_one() -> None:
    """The schema file is byte for byte @asyncapi/specs 6.11.1's schemas/3.0.0.json."""
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert "Apache License" in (SCHEMA_DIR / "LICENSE").read_text()
    assert "AsyncAPI Initiative" in (SCHEMA_DIR / "NOTICE").read_text()


def test_the_document_is_valid_asyncapi_3() -> None:
    """The AsyncAPI Initiative's JSON Schema of 3.0.0 finds no error in the document."""
    errors = [
        f"{e.json_path}: {e.message[:200]}" for e in asyncapi_validator().iter_errors(document())
    ]
    assert errors == []
    assert document()["asyncapi"] == "3.0.0"


def test_the_validator_does_refuse_a_broken_document() -> None:
    """The check can fail: a channel without a string address and an unknown action are refused."""
    broken = json.loads(render_document(document()))
    broken["channels"]["status"]["address"] = 7
    broken["operations"]["send.status"]["action"] = "publish"
    assert len(list(asyncapi_validator().iter_errors(broken))) >= 2


def test_every_reference_points_into_the_document() -> None:
    """Each ``$ref`` is a JSON pointer to something the document holds."""

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, Mapping):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    found = list(refs(document()))
    assert found
    for ref in found:
        assert ref.startswith("#/"), ref
        target: Any = document()
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]


def test_the_document_is_the_same_each_time() -> None:
    """Built twice from the same configuration, the bytes are equal (reviewable diffs)."""
    again = asyncapi_document(settings(), registry())
    assert render_document(again) == render_document(document())


# ---------------------------------------------------------------------- the channels


def test_every_topic_the_hub_creates_is_a_channel_and_nothing_else() -> None:
    """The channels' addresses are exactly the topics of ``TopicLayout.all_topics``."""
    specs = TopicLayout("sociaaldomein").all_topics(registry(), settings().kafka)
    addresses = [c["address"] for c in document()["channels"].values()]
    assert sorted(addresses) == sorted(spec.name for spec in specs)
    for channel in document()["channels"].values():
        assert channel["bindings"]["kafka"]["topic"] == channel["address"]


def test_each_partner_has_its_inbound_and_deliveries_channel_at_its_address() -> None:
    """inbound.<id> and deliveries.<id>, addressed at the partner's topics (a named topic too)."""
    channels = document()["channels"]
    for partner in registry():
        assert channels[f"inbound.{partner.id}"]["address"] == f"sociaaldomein.inbound.{partner.id}"
        expected = (
            OWN_TOPIC if partner.id == OWN_TOPIC_GP else f"sociaaldomein.deliveries.{partner.id}"
        )
        assert channels[f"deliveries.{partner.id}"]["address"] == expected
        assert channels[f"parked.{partner.id}"]["address"] == f"sociaaldomein.parked.{partner.id}"
    assert document()["operations"]["receive.inbound.gp-de-linde"]["action"] == "receive"
    assert document()["operations"]["send.deliveries.gp-de-linde"]["action"] == "send"


def test_a_partners_inbound_channel_offers_the_types_its_role_sends() -> None:
    """A GP sends referrals.submitted in binary mode (or structured mode), and nothing the wijkteam sends."""
    messages = document()["channels"]["inbound.gp-de-linde"]["messages"]
    assert set(messages) == {"referrals.submitted", "structured"}
    binary = document()["components"]["messages"][message_name(messages["referrals.submitted"])]
    assert binary["headers"]["properties"]["ce_type"]["const"] == (
        "nl.sociaaldomein.referrals.submitted.v1"
    )
    assert binary["payload"] == {"$ref": "#/components/schemas/data.referrals.submitted"}


def test_a_providers_deliveries_carry_only_the_provider_view() -> None:
    """A JSON provider's assignments.issued payload is the provider's view: no field the wijkteam's has beyond it."""
    channel = document()["channels"][f"deliveries.{JSON_PROVIDER}"]
    assert set(channel["messages"]) == {"assignments.issued", "cases.plan-updated"}
    message = document()["components"]["messages"][
        message_name(channel["messages"]["assignments.issued"])
    ]
    payload = document()["components"]["schemas"][message["payload"]["$ref"].rsplit("/", 1)[1]]
    views = view_schemas(load_policy(registry=registry()))
    provider_view = views[view_file("provider", "nl.sociaaldomein.assignments.issued.v1")]
    swt_view = views[view_file("swt", "nl.sociaaldomein.assignments.issued.v1")]
    assert set(payload["properties"]) == set(provider_view["properties"])
    assert payload["additionalProperties"] is False
    assert set(swt_view["properties"]) - set(payload["properties"])  # the cut is real
    dataschema = message["headers"]["properties"]["ce_dataschema"]["const"]
    assert dataschema.endswith("/v1/views/provider/assignments.issued.json")


def test_an_iwmo_provider_gets_its_assignments_as_xml_and_the_rest_as_json() -> None:
    """With ``iwmo: true`` the deliveries channel says assignments.issued is application/xml."""
    channel = document()["channels"][f"deliveries.{IWMO_PROVIDER}"]
    messages = document()["components"]["messages"]
    xml = messages[message_name(channel["messages"]["assignments.issued"])]
    assert xml["contentType"] == "application/xml"
    assert xml["payload"]["type"] == "string"
    assert xml["headers"]["properties"]["content-type"]["const"] == "application/xml"
    assert "ce_dataschema" not in xml["headers"]["properties"]
    fallback = messages[message_name(channel["messages"]["assignments.issued.json"])]
    assert fallback["contentType"] == "application/json"
    plan = messages[message_name(channel["messages"]["cases.plan-updated"])]
    assert plan["contentType"] == "application/json"
    assert "iwmo" in channel["description"]


def test_the_dead_letter_disclosure_and_status_channels() -> None:
    """Their messages, keys and headers as the hub writes them."""
    channels, messages = document()["channels"], document()["components"]["messages"]
    assert channels["deadletter"]["address"] == "sociaaldomein.deadletter"
    assert channels["disclosures"]["address"] == "sociaaldomein.disclosures"
    assert channels["status"]["address"] == "sociaaldomein.status"
    letter = messages["deadletter"]
    assert set(letter["headers"]["required"]) == {"hub-reason-code", "hub-partner"}
    assert letter["payload"] == {"$ref": "#/components/schemas/DeadLetter"}
    assert set(channels["disclosures"]["messages"]) == {
        "disclosure",
        "delivery-attempt",
        "chain-checkpoint",
    }
    assert messages["disclosure"]["payload"] == {"$ref": "#/components/schemas/DisclosureRecord"}
    assert messages["status"]["payload"] == {"$ref": "#/components/schemas/StatusRecord"}
    assert channels["status"]["bindings"]["kafka"]["topicConfiguration"] == {
        "cleanup.policy": ["compact"]
    }
    retention = channels["disclosures"]["bindings"]["kafka"]["topicConfiguration"]["retention.ms"]
    assert retention == settings().kafka.disclosure_retention_ms


# ---------------------------------------------------------------------- no personal data


def test_the_document_holds_no_personal_data_and_no_examples() -> None:
    """No BSN-shaped number, no example value of a personal field, no example objects at all."""
    text = list(strings(document()))
    assert not [s for s in text if re.search(r"(?<![0-9])[0-9]{9}(?![0-9])", s)]
    personal = {
        value
        for path in EXAMPLES.glob("*/valid/*.json")
        for value in personal_values(load_example(path)["data"])
    }
    assert personal
    assert not personal & set(text)
    assert "examples" not in text
    assert "example" not in text


# ---------------------------------------------------------------------- true to the wire


def channel_of(topic: str) -> Mapping[str, Any]:
    [channel] = [c for c in document()["channels"].values() if c["address"] == topic]
    return channel


def check_record(record: OutRecord) -> str:
    """Validate a written record against the document's message for it; the message's name."""
    channel = channel_of(record.topic)
    headers = {name: value.decode() for name, value in record.headers if value is not None}
    candidates = [message_name(ref) for ref in channel["messages"].values()]
    errors: list[str] = []
    for name in candidates:
        message = document()["components"]["messages"][name]
        try:
            if "headers" in message:
                validate_at(headers, "components", "messages", name, "headers")
            key = None if record.key is None else record.key.decode()
            validate_at(key, "components", "messages", name, "bindings", "kafka", "key")
            if record.value is None:
                value: Any = None
            elif message["contentType"].endswith("json"):
                value = json.loads(record.value)
            else:
                value = record.value.decode()
            validate_at(value, "components", "messages", name, "payload")
        except ValidationError as exc:
            errors.append(f"{name}: {exc.message[:200]}")
            continue
        return name
    raise AssertionError(f"no message of {record.topic} fits: {errors}")


def invalid_records(hub: InMemoryPipeline) -> Iterator[InboundRecord]:
    """The invalid examples as binary-mode records (those a producer could write at all)."""
    for example in invalid_examples():
        try:
            yield hub.record(load_example(example.file))
        except (InvalidEvent, LookupError):  # a BSN subject (binary mode refuses it), no sender
            continue


def test_every_record_of_the_scenario_fits_its_message_in_the_document() -> None:
    """Deliveries (JSON and XML), disclosures, status, state and dead letters all validate."""
    hub = InMemoryPipeline(settings(), registry=registry())
    out = hub.feed(*scenario())
    out += hub.feed(*invalid_records(hub))
    used = {check_record(record) for record in out}
    assert {"deadletter", "disclosure", "status", "state.record"} <= used
    assert "assignments.issued.to.provider.iwmo" in used
    assert "assignments.issued.to.provider" in used  # the JSON provider
    assert "referrals.submitted.to.swt" in used


def test_a_delivery_with_a_header_the_document_does_not_name_fits_no_message() -> None:
    """The hub's own records have closed headers: a new header must be documented first."""
    hub = InMemoryPipeline(settings(), registry=registry())
    [delivery] = [r for r in hub.feed(scenario()[0]) if ".deliveries." in r.topic]
    assert check_record(delivery) == "referrals.submitted.to.swt"
    extra = OutRecord(
        delivery.topic, delivery.key, delivery.value, (*delivery.headers, ("hub-new", b"x"))
    )
    with pytest.raises(AssertionError, match="no message"):
        check_record(extra)


def test_an_inbound_record_fits_its_binary_and_structured_mode_messages() -> None:
    """What a partner writes, in binary mode (as the gateway does) or structured mode, fits a message."""
    hub = InMemoryPipeline(settings(), registry=registry())
    [first, *_] = scenario()
    inbound = hub.record(first)
    out = OutRecord(inbound.topic, inbound.key, inbound.value, inbound.headers)
    assert check_record(out) == "referrals.submitted.binary"
    structured = OutRecord(
        inbound.topic,
        inbound.key,
        json.dumps(first).encode(),
        (("content-type", b"application/cloudevents+json"),),
    )
    assert check_record(structured) == "cloudevent.structured"


def test_a_delivery_attempt_fits_its_message_on_the_disclosure_topic() -> None:
    """A webhook's attempt record, as the channel writes it, fits ``delivery-attempt``."""
    attempt = DeliveryAttempt(
        attempt_id="6a1f3c2e-0000-5000-8000-000000000001",
        disclosure_id="6a1f3c2e-0000-5000-8000-000000000002",
        attempt=2,
        attempted_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        result=AttemptResult.FAILED,
        status=503,
        reason="HTTP_503",
    )
    record = OutRecord(
        "sociaaldomein.disclosures", attempt.disclosure_id.encode(), attempt.to_json()
    )
    assert check_record(record) == "delivery-attempt"


def test_chained_records_and_their_checkpoints_fit_their_messages() -> None:
    """With a checkpoint every 2 records, what the pipeline writes to the log fits the document."""
    hub = InMemoryPipeline(HubSettings(audit=AuditSettings(checkpoint_every=2)))
    written = [r for e in scenario()[:6] for r in hub.feed(e) if r.topic == hub.layout.disclosures]
    names = {check_record(r) for r in written}
    assert names == {"disclosure", "chain-checkpoint"}


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_sasl_is_a_security_scheme_of_the_server(mechanism: str) -> None:
    """A deployment with SASL says so; the document stays valid."""
    base = settings()
    kafka = base.kafka.model_copy(
        update={"sasl_mechanism": mechanism, "security_protocol": "SASL_SSL"}
    )
    doc = asyncapi_document(base.model_copy(update={"kafka": kafka}), registry())
    assert doc["servers"]["kafka"]["protocol"] == "kafka-secure"
    assert doc["components"]["securitySchemes"]["sasl"]["type"] in {"scramSha512", "plain"}
    assert list(asyncapi_validator().iter_errors(doc)) == []
