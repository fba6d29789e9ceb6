"""WMO301 delivery on the real broker: an iWmo provider gets its assignment as iWmo 3.2 XML.

The hub (router and deliverers) runs in this event loop with the gateway app in memory
(as in ``test_pull_delivery``). The back office issues Wmo assignments on its inbound
topic; a provider with ``iwmo: true`` and Kafka-topic delivery reads a binary-mode record
whose value is the 301, one with pull delivery a structured-mode event whose ``data`` is
the 301 as a string. Both documents pass ``hub.iwmo``'s own structure check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.connectors.registry import DEMO_REGISTRY_PATH
from hub.iwmo import MessageKind, ensure_structure, identificatie_301, parse_document
from hub.iwmo.kept import sent_301_key

from .hubtest import isolated_settings
from .test_pull_delivery import pull_all, pulling_hub
from .test_webhook_delivery import SECRET, SECRET_ENV, Receiver, serving, wait_until

FIXTURE = Path(__file__).parents[1] / "unit/iwmo/data/assignments-issued-wmo.json"
KAFKA_PROVIDER = "provider-thuiszorg-zwolle"  # AGB 73730001
PULL_PROVIDER = "provider-jeugdhulp-ijssel"  # AGB 73730002


def issued(event_id: str, number: str, provider_agb: str) -> dict[str, Any]:
    """The Wmo assignment fixture, under another id and number, for one provider."""
    event: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    event["id"] = event_id
    event["subject"] = number
    event["data"].update(assignment_number=number, provider_agb=provider_agb)
    return event


def registry_file(tmp_path: Path, webhook: str | None = None) -> Path:
    """The demo registry: both providers with ``iwmo: true``, the second pulling its deliveries.

    With ``webhook`` the first takes its deliveries there instead of from its topic.
    """
    raw = yaml.safe_load(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"))
    for partner in raw["partners"]:
        if partner["id"] in (KAFKA_PROVIDER, PULL_PROVIDER):
            partner["iwmo"] = True
        if partner["id"] == PULL_PROVIDER:
            partner["delivery"] = {"kind": "pull"}
        if partner["id"] == KAFKA_PROVIDER and webhook is not None:
            partner["delivery"] = {"kind": "webhook", "url": webhook, "secret_env": SECRET_ENV}
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def check_301(document: bytes) -> None:
    """The document passes the translator's own section 2 check of a 301."""
    ensure_structure(parse_document(document, max_bytes=len(document)), MessageKind.WMO301)


async def test_an_iwmo_provider_reads_its_assignment_as_a_wmo301_from_its_topic_and_by_pull(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Kafka topic: the XML bytes as the value (application/xml); pull: the XML as the data string; the 301's record on the state changelog."""
    settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)
    settings.partners_file = registry_file(tmp_path)
    on_topic = issued("9a4b8c2e-1f3d-4e5a-8b6c-7d8e9f0a1b2c", "26000411", "73730001")
    pulled = issued("0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e", "26000412", "73730002")
    async with pulling_hub(settings) as (hub, client):
        await hub.send("backoffice-zwolle", [on_topic, pulled])
        await hub.wait_for_status([on_topic, pulled], timeout=90)
        [record] = await hub.collect(
            [hub.deliveries_topic(KAFKA_PROVIDER)], lambda records: len(records) >= 1
        )
        identificatie = identificatie_301(on_topic["source"], on_topic["id"])
        kept = await hub.collect(
            [hub.layout.state],
            lambda records: any(
                r.key == sent_301_key("73730001", identificatie).encode() for r in records
            ),
        )
        events, _, _ = await pull_all(client, PULL_PROVIDER, {"limit": "10"})

    headers = {name: value.decode() for name, value in record.headers}
    assert headers["content-type"] == "application/xml"
    assert headers["ce_type"] == on_topic["type"]
    assert headers["ce_subject"] == "26000411"
    assert record.key == b"26000411"
    assert "ce_dataschema" not in headers
    document = record.value or b""
    check_301(document)
    assert f"<bs:Identificatie>{identificatie}</bs:Identificatie>".encode() in document

    [sent] = [
        json.loads(r.value or b"")
        for r in kept
        if r.key == sent_301_key("73730001", identificatie).encode()
    ]
    assert sent["numbers"] == ["26000411"]
    assert sent["delivery_id"] == headers["ce_id"]
    assert sent["event_id"] == on_topic["id"]

    [event] = events
    assert event["datacontenttype"] == "application/xml"
    assert event["subject"] == "26000412"
    assert isinstance(event["data"], str)
    check_301(event["data"].encode("utf-8"))


async def test_a_webhook_provider_gets_the_wmo301_as_the_data_string_of_a_signed_event(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Webhook: structured mode, ``datacontenttype`` application/xml, ``data`` the 301 as a JSON string."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    receiver = Receiver()
    event = issued("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "26000413", "73730001")
    async with serving(receiver) as url:
        settings = isolated_settings(kafka_bootstrap, audit_dir=tmp_path)
        settings.partners_file = registry_file(tmp_path, webhook=url)
        async with pulling_hub(settings) as (hub, _client):
            await hub.send("backoffice-zwolle", [event])
            await wait_until(lambda: len(receiver.delivered) == 1, timeout=60)

    [delivered] = receiver.delivered
    assert delivered["datacontenttype"] == "application/xml"
    assert delivered["type"] == event["type"]
    assert delivered["subject"] == "26000413"
    assert isinstance(delivered["data"], str)
    check_301(delivered["data"].encode("utf-8"))
