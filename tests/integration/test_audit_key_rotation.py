"""A pseudonym key rotation on the real broker: a resident's disclosures from before and after it are found.

The example chain goes through `hub run`'s router in two runs: the first with key k1, the
second after a restart with k2 current and k1 kept as an earlier key (docs/privacy.md,
"Rotating the pseudonym key"). The household's case and referral, pseudonymised under k1,
still route the later events; the audit feed stores the whole log; and ``hub audit
subject``, ``hub audit report`` and the read API's BSN filter find the resident's
disclosures of both runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from hub.audit import DisclosureRecord, open_store
from hub.audit.api import create_audit_app
from hub.audit.feed import AuditFeedProcess
from hub.cli import main
from hub.envelope import is_bsn
from hub.privacy import Pseudonymiser
from hub.settings import AuditSettings, HubSettings, OfficerCredential, PrivacySettings
from hub.testing import scenario, sender_of

from .hubtest import HubUnderTest, isolated_settings, running_hub

OLD_SECRET = "integration-rotation-old-secret-0123"
NEW_SECRET = "integration-rotation-new-secret-4567"
MOTHER = "999900018"  # the client of the example referral
ROTATED_AFTER = 4  # the referral, its answers and the household's case: under k1
OFFICER_KEY = "key-privacy-officer-rotation"


def _rotated(settings: HubSettings) -> HubSettings:
    """The same hub after the rotation: k2 current, k1 kept."""
    return settings.model_copy(
        update={
            "privacy": PrivacySettings(
                pseudonym_secret=NEW_SECRET,  # type: ignore[arg-type]
                pseudonym_key_id="k2",
                previous_pseudonym_secrets={"k1": OLD_SECRET},  # type: ignore[dict-item]
            )
        }
    )


def _all_stored(url: str, records: list[DisclosureRecord]) -> bool:
    if not Path(url.removeprefix("sqlite:///")).exists():
        return False
    with open_store(url, read_only=True) as store:
        return all(store.get(r.disclosure_id) for r in records)


async def _stored(hub: HubUnderTest, settings: HubSettings) -> list[DisclosureRecord]:
    """Run the audit feed until the store holds every disclosure record on the topic."""
    written = [
        DisclosureRecord.model_validate_json(r.value or b"")
        for r in await hub.settle([hub.layout.disclosures], idle_seconds=2)
        if b'"record_type"' not in (r.value or b"")  # checkpoints, attempts
    ]
    feed = AuditFeedProcess(
        kafka=settings.kafka, audit=settings.audit, layout=hub.layout, logging=settings.logging
    )
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    try:
        for _ in range(300):  # up to a minute: the child starts, joins its group, reads
            if _all_stored(settings.audit.store_url, written):
                break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    assert _all_stored(settings.audit.store_url, written)
    return written


async def test_a_residents_disclosures_are_found_across_a_key_rotation(
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Records written under k1 and under k2 (some naming her under both) are all found by
    her BSN after the rotation, and state made under k1 routes every later event."""
    before = isolated_settings(kafka_bootstrap, audit_dir=tmp_path, partitions=1)
    before.privacy = PrivacySettings(pseudonym_secret=OLD_SECRET)  # type: ignore[arg-type]
    after = _rotated(before)
    events = scenario()
    for settings, part in ((before, events[:ROTATED_AFTER]), (after, events[ROTATED_AFTER:])):
        async with running_hub(settings) as hub:
            for event in part:
                # One at a time: the chain's events come from several partners' topics,
                # and a later one may name what an earlier one made.
                await hub.send(sender_of(event, hub.hub.registry).id, [event])
                await hub.wait_for_status([event])
    statuses = [
        json.loads(r.value or b"") for r in await hub.settle([hub.layout.status], idle_seconds=1)
    ]
    assert len(statuses) == len(events)
    assert {s["status"] for s in statuses} == {"delivered"}
    written = await _stored(hub, after)

    keys = Pseudonymiser.from_settings(after.privacy)
    old_pseudonym = Pseudonymiser(OLD_SECRET.encode())(MOTHER)
    hers = [r for r in written if set(keys.every(MOTHER)) & set(r.data_subjects)]
    assert {r.pseudonym_key for r in hers} == {"k1", "k2"}
    # A later record takes her k1 pseudonym over from the household's case.
    assert any(old_pseudonym in r.data_subjects for r in hers if r.pseudonym_key == "k2")

    # hub audit subject and report, configured as the privacy officer is after the rotation.
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_SECRET", NEW_SECRET)
    monkeypatch.setenv("HUB_PRIVACY__PSEUDONYM_KEY_ID", "k2")
    monkeypatch.setenv("HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS", json.dumps({"k1": OLD_SECRET}))
    url = after.audit.store_url
    capsys.readouterr()
    assert main(["audit", "subject", "--bsn", MOTHER, "--store", url, "--json"]) == 0
    printed = capsys.readouterr()
    listed = [json.loads(line) for line in printed.out.splitlines()]
    assert sorted((line["event_id"], line["recipient"]) for line in listed) == sorted(
        (r.event_id, r.recipient) for r in hers
    )
    first_run = {r.event_id for r in hers if r.pseudonym_key == "k1"}
    assert first_run
    assert first_run <= {e["id"] for e in events[:ROTATED_AFTER]}
    assert first_run <= {line["event_id"] for line in listed}
    assert MOTHER not in printed.out + printed.err
    assert main(["audit", "keys", "--store", url, "--json"]) == 0
    counted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(c["key"], c["configured"]) for c in counted] == [("k1", "earlier"), ("k2", "current")]
    assert sum(c["records"] for c in counted) == len(written)
    page = tmp_path / "overzicht.html"
    assert main(
        ["audit", "report", "--bsn", MOTHER, "--store", url, "--format", "html",
         "--output", str(page)]
    ) == 0  # fmt: skip
    assert f"a report of {len(hers)} disclosure(s)" in capsys.readouterr().err

    # The read API's data-subject filter: the BSN, pseudonymised under every key.
    audit = AuditSettings(
        store_url=url,
        officers=(
            OfficerCredential(
                id="po-rotation", api_key_sha256=hashlib.sha256(OFFICER_KEY.encode()).hexdigest()
            ),
        ),
    )
    app = create_audit_app(
        audit,
        open_store=lambda: open_store(url, read_only=True),
        pseudonyms_of=keys.every,
        is_bsn=is_bsn,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://audit.test"
    ) as client:
        response = await client.post(
            "/processing-activities",
            json={"bsn": MOTHER},
            headers={"Authorization": f"Bearer {OFFICER_KEY}"},
        )
    assert response.status_code == 200, response.text
    assert MOTHER not in response.text
    answered = response.json()
    assert answered["truncated"] is False
    subjects = [r["attributes"]["dpl.core.data_subject_id"] for r in answered["records"]]
    # One Logboek record per (disclosure, pseudonym of hers it names).
    assert len(subjects) == sum(len(set(keys.every(MOTHER)) & set(r.data_subjects)) for r in hers)
    assert set(subjects) == set(keys.every(MOTHER))
