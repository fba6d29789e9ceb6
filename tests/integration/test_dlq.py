"""`hub dlq`, `hub status`, `hub flows` and `hub partners` as an operator runs them, against a running hub."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.connectors.registry import DEMO_REGISTRY_PATH
from hub.kafka.inspection import Outgoing, send_all
from hub.privacy import Pseudonymiser
from hub.records import DeadLetter
from hub.schemas import TYPES
from hub.settings import HubSettings
from hub.testing import valid_example

from .hubtest import HubUnderTest, hub_cli, isolated_settings, running_hub

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
REQUESTED = "nl.sociaaldomein.provisions.requested.v1"
DECIDED = "nl.sociaaldomein.provisions.decided.v1"


def event_of(type_: str, **data: Any) -> dict[str, Any]:
    """The shared valid example of a type, with a fresh id and the given data fields replaced."""
    event = copy.deepcopy(valid_example(type_))
    event["id"] = str(uuid.uuid4())
    event["data"].update(data)
    event["subject"] = str(event["data"][TYPES[type_].subject_field])
    return event


async def dlq_json(settings: HubSettings, *args: str, **env: str) -> Any:
    code, out, err = await hub_cli(settings, "dlq", *args, "--json", **env)
    assert code in (0, 1), err
    return json.loads(out)


async def delivered_of(hub: HubUnderTest, recipient: str, type_: str) -> list[dict[str, Any]]:
    records = await hub.settle([hub.deliveries_topic(recipient)], idle_seconds=3.0)
    return [r.event() for r in records if r.event()["type"] == type_]


async def test_a_dead_letter_is_listed_shown_and_replayed_once_the_event_it_needs_has_arrived(
    kafka_bootstrap: str,
) -> None:
    """An unroutable decision is dead-lettered (origin, 0 replays), listed, replayed by id after its request arrives, delivered exactly once."""
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    async with running_hub(settings) as hub:
        request = event_of(REQUESTED, request_id="REQ-dlq-1")
        decision = event_of(DECIDED, request_id="REQ-dlq-1")
        await hub.send("backoffice-zwolle", [decision])
        dead = await hub.collect([hub.layout.deadletter], lambda rs: len(rs) >= 1)
        letter = DeadLetter.from_json(dead[0].value or b"")
        assert letter is not None
        assert (letter.topic, letter.partition, letter.offset) == (
            hub.layout.inbound("backoffice-zwolle"),
            0,
            0,
        )
        assert (letter.replays, letter.replay_of) == (0, None)
        assert b'"replays"' not in (dead[0].value or b"")  # written as before replays existed
        ident = f"dl-{dead[0].partition}-{dead[0].offset}"

        listed = await dlq_json(settings, "list")
        assert [(d["id"], d["code"], d["partner"], d["replays"]) for d in listed] == [
            (ident, "UNKNOWN_REFERENCE", "backoffice-zwolle", 0)
        ]
        assert listed[0]["event_id"] == decision["id"]
        assert listed[0]["origin"] == {
            "topic": hub.layout.inbound("backoffice-zwolle"),
            "partition": 0,
            "offset": 0,
        }
        assert await dlq_json(settings, "list", "--code", "FIELD_UNKNOWN") == []
        assert len(await dlq_json(settings, "list", "--partner", "backoffice-zwolle")) == 1

        # A dry run says what it would do and writes nothing.
        dry = await dlq_json(settings, "replay", ident, "--dry-run", "--operator", "ops-anna")
        assert dry["dry_run"] is True
        assert [r["id"] for r in dry["replays"] if r["replayed"]] == [ident]
        assert await hub.settle([hub.layout.replay, hub.layout.operations], 2.0) == []

        await hub.send("swt-zwolle", [request])
        await hub.wait_for_status([request])
        done = await dlq_json(settings, "replay", ident, "--operator", "ops-anna", "--wait", "60")
        assert [(r["id"], r["replayed"], r["replay_count"]) for r in done["replays"]] == [
            (ident, True, 1)
        ]
        assert done["replays"][0]["result"] == {"outcome": "routed", "recipients": ["swt-zwolle"]}

        # Replayed again: the router reads it, and it is a duplicate of the routed event.
        again = await dlq_json(settings, "replay", ident, "--operator", "ops-bert", "--wait", "5")
        assert again["replays"][0]["replayed"] is True
        assert again["replays"][0]["replayed_before"]["by"] == "ops-anna"
        assert again["replays"][0]["result"] == {"outcome": None}
        replays = await hub.settle([hub.layout.replay], 2.0)
        assert len(replays) == 2
        decisions = await delivered_of(hub, "swt-zwolle", DECIDED)
        dead_after = await hub.settle([hub.layout.deadletter], 2.0)
        operations = await hub.settle([hub.layout.operations], 2.0)
        status = await hub.settle([hub.layout.status], 2.0)

    assert [d["data"]["decision_id"] for d in decisions] == [decision["data"]["decision_id"]]
    assert len(dead_after) == 1  # neither replay was dead-lettered
    logged = [json.loads(r.value or b"") for r in operations]
    assert [(o["action"], o["operator"], o["deadletter_id"]) for o in logged] == [
        ("deadletter-replayed", "ops-anna", ident),
        ("deadletter-replayed", "ops-bert", ident),
    ]
    final = {r.key: json.loads(r.value or b"") for r in status}
    key = f"{decision['source']} {decision['id']}".encode()
    assert final[key]["status"] == "delivered"


async def test_a_replay_that_fails_again_counts_and_the_limit_stops_it(
    kafka_bootstrap: str,
) -> None:
    """An invalid event replayed unfixed is dead-lettered again with its origin, replays 1 and its predecessor; at the limit replay refuses."""
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    async with running_hub(settings) as hub:
        bad = event_of(REFERRAL, referral_id="REF-dlq-2")
        bad["data"]["client"]["nickname"] = "Pietje"
        await hub.send("gp-de-linde", [bad])
        first = await hub.collect([hub.layout.deadletter], lambda rs: len(rs) >= 1)
        ident = f"dl-{first[0].partition}-{first[0].offset}"
        code, out, err = await hub_cli(
            settings, "dlq", "replay", ident, "--operator", "ops-anna", "--wait", "60"
        )
        assert code == 0, err
        both = await hub.collect([hub.layout.deadletter], lambda rs: len(rs) >= 2)
        assert f"dead-lettered again as dl-{both[1].partition}-{both[1].offset}" in out
        second = DeadLetter.from_json(both[1].value or b"")
        assert second is not None
        second_id = f"dl-{both[1].partition}-{both[1].offset}"

        limited = {"HUB_DEADLETTERS__MAX_REPLAYS": "1"}
        code, out, err = await hub_cli(
            settings, "dlq", "replay", second_id, "--operator", "ops-anna", **limited
        )
        refused = await dlq_json(
            settings, "replay", "--partner", "gp-de-linde", "--code", "FIELD_UNKNOWN",
            "--operator", "ops-anna", **limited,
        )  # fmt: skip
        replays = await hub.settle([hub.layout.replay], 2.0)

    assert (second.topic, second.partition, second.offset) == (
        hub.layout.inbound("gp-de-linde"),
        0,
        0,
    )
    assert (second.replays, second.replay_of, second.code) == (1, ident, "FIELD_UNKNOWN")
    assert second.record is not None
    assert all(not name.startswith("hub-replay-") for name, _ in second.record.headers)
    assert code == 1
    assert f"not replayed {second_id}: it already results from 1 replays" in out
    # By filter: the first was replayed already, the second is at the limit.
    assert [(r["id"], r["replayed"]) for r in refused["replays"]] == [
        (ident, False),
        (second_id, False),
    ]
    assert len(replays) == 1


async def test_show_hides_personal_data_unless_asked_and_then_logs_the_viewing_first(
    kafka_bootstrap: str,
) -> None:
    """`hub dlq show` prints codes and origin only; with --with-personal-data it prints the record after a disclosure record names the operator."""
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    async with running_hub(settings) as hub:
        bad = event_of(REFERRAL, referral_id="REF-dlq-3")
        bad["data"]["client"]["nickname"] = "Pietje"
        bsn = bad["data"]["client"]["bsn"]
        await hub.send("gp-de-linde", [bad])
        dead = await hub.collect([hub.layout.deadletter], lambda rs: len(rs) >= 1)
        ident = f"dl-{dead[0].partition}-{dead[0].offset}"

        code, plain, err = await hub_cli(settings, "dlq", "show", ident, "--json")
        assert code == 0, err
        assert await hub.settle([hub.layout.disclosures, hub.layout.operations], 2.0) == []
        code, human, err = await hub_cli(settings, "dlq", "show", ident)
        assert code == 0, err
        code, full, err = await hub_cli(
            settings, "dlq", "show", ident, "--with-personal-data", "--operator", "ops-anna",
            "--json",
        )  # fmt: skip
        assert code == 0, err
        disclosures = await hub.settle([hub.layout.disclosures], 2.0)
        operations = await hub.settle([hub.layout.operations], 2.0)
        code, _, missing = await hub_cli(settings, "dlq", "show", "dl-0-999")

    shown = json.loads(plain)
    assert shown["code"] == "FIELD_UNKNOWN"
    assert shown["errors"][0]["path"] == "data.client.*"  # a key the partner chose
    assert "record" not in shown
    for text in (plain, human):
        assert bsn not in text
        assert "Pietje" not in text
    with_data = json.loads(full)
    assert bsn in with_data["record"]["value"]
    (viewing,) = [json.loads(r.value or b"") for r in disclosures]
    assert viewing["recipient"] == "operator:ops-anna"
    assert viewing["event_id"] == bad["id"]
    assert viewing["source"] == "gp-de-linde"
    assert viewing["processing_activity"] == "hub-operations"
    secret = settings.privacy.pseudonym_secret.get_secret_value().encode()
    assert Pseudonymiser(secret)(bsn) in viewing["data_subjects"]
    assert "client.bsn" in viewing["fields_disclosed"]  # paths into data, as every record
    (logged,) = [json.loads(r.value or b"") for r in operations]
    assert (logged["action"], logged["operator"], logged["disclosure_id"]) == (
        "deadletter-viewed",
        "ops-anna",
        viewing["disclosure_id"],
    )
    assert code == 1
    assert "holds no dl-0-999" in missing


async def test_status_flows_and_partners_report_what_kafka_holds(kafka_bootstrap: str) -> None:
    """`hub status`, `hub flows` and `hub partners` print JSON with the dead letter and the events of the last hour."""
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    async with running_hub(settings) as hub:
        good = event_of(REFERRAL, referral_id="REF-dlq-4")
        bad = event_of(REFERRAL, referral_id="REF-dlq-5")
        bad["data"]["client"]["nickname"] = "Pietje"
        await hub.send("gp-de-linde", [good, bad])
        await hub.wait_for_status([good, bad])
        await hub.collect([hub.layout.deadletter], lambda rs: len(rs) >= 1)
        results = [await hub_cli(settings, name, "--json") for name in ("status", "partners")]
        results.append(await hub_cli(settings, "flows", "--window", "1h", "--json"))

    for code, _, err in results:
        assert code == 0, err
    status, partners, flows = (json.loads(out) for _, out, _ in results)
    assert status["broker"]["missing_topics"] == []
    assert status["router"]["lag"] == 0
    assert status["dead_letters"]["total"] == 1
    assert status["dead_letters"]["by_partner_and_code"] == [
        {"partner": "gp-de-linde", "code": "FIELD_UNKNOWN", "count": 1}
    ]
    gp = next(p for p in partners if p["id"] == "gp-de-linde")
    assert (gp["role"], gp["dead_letters"], gp["inbound_lag"]) == ("gp", 1, 0)
    assert sorted((r["partner"], r["status"], r["count"]) for r in flows["in"]) == [
        ("gp-de-linde", "dead-lettered", 1),
        ("gp-de-linde", "delivered", 1),
    ]
    assert [(r["recipient"], r["type"], r["count"]) for r in flows["out"]] == [
        ("swt-zwolle", REFERRAL, 1)
    ]


async def test_status_counts_a_webhook_partners_undelivered_and_parked_records(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no webhook deliverer running, `hub status` counts the wijkteam's delivery as pending and a parked record, with their times."""
    registry = yaml.safe_load(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"))
    for partner in registry["partners"]:
        if partner["id"] == "swt-zwolle":
            partner["delivery"] = {
                "kind": "webhook",
                "url": "http://127.0.0.1:9/events",
                "secret_env": "HUB_TEST_DLQ_WEBHOOK_SECRET",
            }
    partners_file = tmp_path / "partners.yaml"
    partners_file.write_text(yaml.safe_dump(registry), encoding="utf-8")
    secret = "whsec_" + base64.b64encode(b"integration-test-secret-32bytes!").decode()
    monkeypatch.setenv("HUB_TEST_DLQ_WEBHOOK_SECRET", secret)
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    settings = settings.model_copy(update={"partners_file": partners_file})
    async with running_hub(settings) as hub:
        first, second = event_of(REFERRAL, referral_id="REF-dlq-6"), event_of(REFERRAL)
        await hub.send("gp-de-linde", [first, second])
        await hub.wait_for_status([first, second])
        # As the deliverer parks a delivery the partner refused for good.
        await send_all(hub.kafka, [Outgoing(hub.layout.parked("swt-zwolle"), b"REF-dlq-6", b"{}")])
        code, out, err = await hub_cli(
            settings, "status", "--json", HUB_PARTNERS_FILE=str(partners_file)
        )

    assert code == 0, err
    [swt] = [d for d in json.loads(out)["deliveries"] if d["partner"] == "swt-zwolle"]
    assert (swt["delivery"], swt["pending"], swt["parked"]) == ("webhook", 2, 1)
    assert swt["oldest_pending_at"] is not None
    assert swt["oldest_parked_at"] is not None
    assert json.loads(out)["parked"] == {"swt-zwolle": 1}
