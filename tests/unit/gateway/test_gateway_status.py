"""GET /events/{id}: what became of an event, for its sender only."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from hub.gateway import StatusBook, status_key
from hub.gateway import status as status_module
from hub.gateway.status import StatusTail
from hub.settings import KafkaSettings

from ..readers import RecordingReader
from .gatewaytest import auth, referral

GP_SOURCE = "urn:nld:agb:01234567"


def _record(**fields: Any) -> bytes:
    record = {
        "event_id": "e-1",
        "source": GP_SOURCE,
        "partner": "gp-de-linde",
        "type": "nl.sociaaldomein.referrals.submitted.v1",
        "status": "delivered",
        "codes": [],
        "recipients": ["swt-zwolle"],
        "withheld": [],
        "at": "2026-11-22T10:00:00+00:00",
        "errors": [],
    }
    record.update(fields)
    return json.dumps(record).encode()


async def test_delivered_event_shows_its_recipients(
    client: httpx.AsyncClient, book: StatusBook
) -> None:
    """A router record 'delivered' answers 200 with recipients (partner ids) and when."""
    book.apply(status_key(GP_SOURCE, "e-1"), _record())
    response = await client.get("/events/e-1", headers=auth())
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "id": "e-1",
        "status": "delivered",
        "codes": [],
        "recipients": ["swt-zwolle"],
        "withheld": [],
        "at": "2026-11-22T10:00:00+00:00",
        "errors": [],
    }


async def test_dead_lettered_event_shows_its_codes(
    client: httpx.AsyncClient, book: StatusBook
) -> None:
    """A dead-lettered event answers its reason codes, each error's path and sentence, and no recipients."""
    error = {"path": "data.referral_id", "code": "ID_ALREADY_KNOWN", "message": "Known already."}
    record = _record(
        status="dead-lettered", codes=["ID_ALREADY_KNOWN"], recipients=[], errors=[error]
    )
    book.apply(status_key(GP_SOURCE, "e-1"), record)
    body = (await client.get("/events/e-1", headers=auth())).json()
    assert (body["status"], body["codes"], body["recipients"], body["errors"]) == (
        "dead-lettered",
        ["ID_ALREADY_KNOWN"],
        [],
        [error],
    )


async def test_accepted_but_not_yet_processed_reads_accepted(client: httpx.AsyncClient) -> None:
    """Right after a 202, before the router's record, the status is 'accepted'."""
    event = referral()
    await client.post("/events", content=json.dumps(event), headers=auth())
    response = await client.get(f"/events/{event['id']}", headers=auth())
    assert response.json() == {
        "id": event["id"],
        "status": "accepted",
        "codes": [],
        "recipients": [],
        "withheld": [],
        "at": None,
        "errors": [],
    }


async def test_router_record_replaces_accepted(client: httpx.AsyncClient, book: StatusBook) -> None:
    """Once the router's record arrives it is what the partner reads."""
    event = referral()
    await client.post("/events", content=json.dumps(event), headers=auth())
    book.apply(status_key(event["source"], event["id"]), _record(event_id=event["id"]))
    body = (await client.get(f"/events/{event['id']}", headers=auth())).json()
    assert body["status"] == "delivered"


async def test_another_partners_event_is_404_like_an_unknown_one(
    client: httpx.AsyncClient, book: StatusBook
) -> None:
    """Another partner asking for the GP's event gets exactly the answer for an unknown id."""
    book.apply(status_key(GP_SOURCE, "e-1"), _record())
    other = await client.get("/events/e-1", headers=auth("gp-het-anker"))
    unknown = await client.get("/events/never-sent", headers=auth("gp-het-anker"))
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()
    assert other.json()["code"] == "NOT_FOUND"


async def test_record_naming_another_partner_is_not_shown(
    client: httpx.AsyncClient, book: StatusBook
) -> None:
    """A record under the GP's source but written for another partner (a spoof on Kafka) is 404."""
    book.apply(status_key(GP_SOURCE, "e-1"), _record(partner="gp-het-anker"))
    response = await client.get("/events/e-1", headers=auth())
    assert response.status_code == 404


async def test_ids_with_slashes_and_spaces_are_looked_up(
    client: httpx.AsyncClient, book: StatusBook
) -> None:
    """The id is the rest of the path, percent-decoded: slashes and spaces are allowed in ids."""
    book.apply(status_key(GP_SOURCE, "a/b c"), _record(event_id="a/b c"))
    response = await client.get("/events/a/b%20c", headers=auth())
    assert response.status_code == 200
    assert response.json()["id"] == "a/b c"


async def test_status_needs_authentication(client: httpx.AsyncClient) -> None:
    """Without credentials the status answers 401."""
    assert (await client.get("/events/e-1")).status_code == 401


def test_book_forgets_the_oldest_records_first() -> None:
    """The book holds at most max_records router records and recent_ids acceptances."""
    book = StatusBook(max_records=2, recent_ids=1)
    for name in ("a", "b", "c"):
        book.apply(name, _record())
        book.mark_accepted(f"x {name}", "gp-de-linde")
    assert [book.seen(name) for name in ("a", "b", "c")] == [False, True, True]
    assert [book.seen(f"x {name}") for name in ("a", "b", "c")] == [False, False, True]


def test_tombstone_and_unreadable_records() -> None:
    """A tombstone deletes the record; an unreadable value is refused and changes nothing."""
    book = StatusBook(max_records=10, recent_ids=10)
    assert book.apply("k", _record())
    assert not book.apply("k", b"not json")
    assert not book.apply("k", b'{"no": "status"}')
    assert book.seen("k")
    assert book.apply("k", None)
    assert not book.seen("k")


async def test_status_tail_takes_at_most_500_records_a_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tail reads the status topic in rounds of at most 500 records, so the gateway's loop runs between them."""
    reader = RecordingReader.fresh()

    monkeypatch.setattr(status_module, "CompactedReader", reader)
    tail = StatusTail(KafkaSettings(), "t.status", StatusBook(max_records=10, recent_ids=10))
    await tail.start()
    async with asyncio.timeout(5):
        await reader.followed.wait()
    await tail.stop()
    assert reader.rounds[:2] == [("catch_up", 500), ("follow", 500)]
    assert {limit for _, limit in reader.rounds} == {500}
