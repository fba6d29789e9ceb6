"""``IwmoBook``: the gateway's iWmo state as the Kafka records build it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.families.state import assignment_key, care_starts
from hub.iwmo import AssignedProduct, AssignmentRecord, read_inbound
from hub.iwmo.book import (
    IwmoBook,
    Overdue,
    add_working_days,
    answer_records,
    care_key,
    outcome_record,
    used_key,
)
from hub.iwmo.inbound import ReceiptContext, answer_care_message

from .iwmo_helpers import (
    CLIENT_BSN,
    GEMEENTECODE,
    PROVIDER_AGB,
    PROVIDER_SOURCE,
    document,
    pseudonymise,
)

CLIENT = pseudonymise(CLIENT_BSN)
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
SENT_301 = f"iwmo-301:{PROVIDER_AGB}:0c4435bad64e"


def issued(**changes: Any) -> bytes:
    """An assignment value as the router's changelog holds it (JSON bytes)."""
    value: dict[str, Any] = {
        "provider_agb": PROVIDER_AGB,
        "status": "new",
        "law": "wmo",
        "product": {"category": "03", "code": "03B12"},
        "period": {"start": "2026-09-01", "end": "2027-08-31"},
        "result_areas": [],
        "decision_id": "BES-1",
        "subjects": [CLIENT],
        "care": {},
        "plan_version": 0,
    }
    value.update(changes)
    return json.dumps(value).encode()


def book(clock: datetime = NOW) -> IwmoBook:
    return IwmoBook(
        assignment_key=assignment_key, care_starts=care_starts, replay_days=30, clock=lambda: clock
    )


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def started_305() -> bytes:
    return (Path(__file__).parents[1] / "cli" / "data" / "wmo305-started.xml").read_bytes()


def context(at: datetime = NOW) -> ReceiptContext:
    return ReceiptContext(
        received_at=at, source=PROVIDER_SOURCE, gemeentecode=GEMEENTECODE, pseudonymise=pseudonymise
    )


def test_only_the_keys_the_checks_need_are_kept() -> None:
    """Assignments and iwmo- keys are kept from the state changelog; other keys are skipped."""
    kept = book()
    kept.apply_state(assignment_key("26000311"), issued(), 0)
    kept.apply_state("referral:R-1", b'{"gp": "x"}', 0)
    kept.apply_state("dedupe:urn:x 1", b"{}", 0)

    facts = kept.assignment(26000311)

    assert facts is not None
    assert facts.number == "26000311"
    assert facts.clients == frozenset({CLIENT})
    assert kept._routing.data.keys() == {assignment_key("26000311")}


def test_an_assignment_record_of_the_router_makes_a_budget_known() -> None:
    """``iwmo-assignment:<number>`` is read as the AssignmentRecord the 301 was rendered from."""
    kept = book()
    kept.apply_state(assignment_key("26000311"), issued(), 0)
    product = AssignedProduct(
        number=26000311,
        category="03",
        code=None,
        issued_on=date(2026, 9, 13),
        issued_at="10:00:00",
        start=date(2026, 9, 1),
        end=date(2027, 8, 31),
        budget_cents=50000,
    )
    record = AssignmentRecord("26000311", PROVIDER_AGB, CLIENT, False, product, date(2027, 8, 31))
    kept.apply_state("iwmo-assignment:26000311", json.dumps(record.as_json()).encode(), 0)

    facts = kept.assignment(26000311)

    assert facts is not None
    assert facts.budget is True
    kept.apply_state("iwmo-assignment:26000311", None, 0)
    assert kept.assignment(26000311).budget is False  # type: ignore[union-attr]


def test_a_301_sent_is_known_until_its_key_is_deleted() -> None:
    """``iwmo-301:<agb>:<identificatie>`` marks a 301 sent; a tombstone forgets it."""
    kept = book()
    kept.apply_state(SENT_301, b"{}", ms(NOW))

    assert kept.sent_301(PROVIDER_AGB, "0c4435bad64e")
    assert not kept.sent_301("73730002", "0c4435bad64e")
    assert [r.retour for r in kept.retours_of("0c4435bad64e")] == ["awaiting"]
    kept.apply_state(SENT_301, None, ms(NOW))
    assert not kept.sent_301(PROVIDER_AGB, "0c4435bad64e")
    assert kept.retours_of("0c4435bad64e") == []


def test_an_approval_stores_care_and_its_receipt_and_a_replay_reads_them_back() -> None:
    """The records of an approved answer, applied, make the same bytes a replay and care current."""
    kept = book()
    kept.apply_state(assignment_key("26000311"), issued(), 0)
    message = read_inbound(started_305(), sender_agb=PROVIDER_AGB, max_bytes=1 << 20)
    assert not isinstance(message, type(None))
    answer = answer_care_message(message, kept, context())  # type: ignore[arg-type]
    assert answer.accepted

    own, receipts = answer_records(answer, NOW)
    for key, value in own:
        kept.apply_own(key, value)
    for key, value in receipts:
        kept.apply_receipt(key, value)

    assert [key for key, _ in own] == [
        care_key("26000311"),
        used_key(PROVIDER_AGB, 418, "TZ-305-0016"),
    ]
    assert [key for key, _ in receipts] == [used_key(PROVIDER_AGB, 418, "TZ-305-0016")]
    assert kept.deliveries("26000311")["starts"][0]["begin"] == "2026-10-01"
    again = answer_care_message(message, kept, context())  # type: ignore[arg-type]
    assert again.replayed
    assert again.retour == answer.retour


def test_a_retour_is_replayed_only_while_it_is_kept() -> None:
    """After replay_days the same bytes find the receipt without its retour (then: 9056)."""
    kept = book(NOW + timedelta(days=31))
    key = used_key(PROVIDER_AGB, 418, "X-1")
    kept.apply_own(
        key, json.dumps({"digest": "d", "accepted": True, "at": NOW.isoformat()}).encode()
    )
    kept.apply_receipt(key, json.dumps({"retour": "<x/>", "at": NOW.isoformat()}).encode())

    used = kept.used_identificatie(PROVIDER_AGB, 418, "X-1")

    assert used is not None
    assert used.retour is None
    assert book().used_identificatie(PROVIDER_AGB, 418, "X-1") is None


def test_a_9056_answer_stores_no_receipt() -> None:
    """Other bytes under a used Identificatie do not replace the first message's receipt."""
    kept = book()
    kept.apply_state(assignment_key("26000311"), issued(), 0)
    key = used_key(PROVIDER_AGB, 418, "TZ-305-0016")
    kept.apply_own(
        key, json.dumps({"digest": "other", "accepted": True, "at": NOW.isoformat()}).encode()
    )
    message = read_inbound(started_305(), sender_agb=PROVIDER_AGB, max_bytes=1 << 20)

    answer = answer_care_message(message, kept, context())  # type: ignore[arg-type]

    assert answer.retourcodes == {"Header": ("9056",)}
    assert answer_records(answer, NOW) == ([], [])


def test_a_302_outcome_shows_on_its_301() -> None:
    """A stored 302 outcome (rejected, with codes per number) is what the 301's status shows."""
    kept = book()
    kept.apply_state(SENT_301, b"{}", ms(NOW))
    kept.apply_own(
        f"iwmo-302:{PROVIDER_AGB}:0c4435bad64e",
        json.dumps({"outcome": "rejected", "rejected": {"26000311": ["9019"]}, "at": "t"}).encode(),
    )

    [retour] = kept.retours_of("0c4435bad64e")

    assert retour.as_dict() == {
        "provider_agb": PROVIDER_AGB,
        "identificatie": "0c4435bad64e",
        "retour": "rejected",
        "rejected": {"26000311": ["9019"]},
        "at": "t",
    }


def test_outcome_record_is_keyed_by_the_301() -> None:
    """The 302's record has the 301's key: provider AGB and Identificatie."""
    body = document("wmo302-approved.xml")
    retour = read_inbound(body, sender_agb=PROVIDER_AGB, max_bytes=1 << 20)

    key, value = outcome_record(retour, NOW)  # type: ignore[arg-type]

    assert key == f"iwmo-302:{PROVIDER_AGB}:5f1e2d3c4b5a"
    assert json.loads(value) == {"outcome": "acknowledged", "rejected": {}, "at": NOW.isoformat()}


def test_working_days_skip_the_weekend() -> None:
    """Three working days after a Friday noon is the Wednesday after, at noon (Amsterdam)."""
    due = add_working_days(NOW, 3)

    assert due.date() == date(2026, 12, 2)
    assert due.astimezone(UTC) == NOW + timedelta(days=5)


def test_a_301_is_overdue_once_after_three_working_days_without_a_302() -> None:
    """Overdue 301s are named once; an answered one never."""
    kept = book()
    kept.apply_state(SENT_301, b"{}", ms(NOW))
    kept.apply_state(f"iwmo-301:{PROVIDER_AGB}:aaaaaaaaaaaa", b"{}", ms(NOW))
    kept.apply_own(
        f"iwmo-302:{PROVIDER_AGB}:aaaaaaaaaaaa",
        json.dumps({"outcome": "acknowledged", "rejected": {}, "at": "t"}).encode(),
    )

    assert kept.overdue(NOW + timedelta(days=4), 3) == []
    assert kept.overdue(NOW + timedelta(days=5), 3) == [Overdue(PROVIDER_AGB, "0c4435bad64e")]
    assert kept.overdue(NOW + timedelta(days=6), 3) == []


def test_numbers_are_found_by_value_through_an_index_not_a_scan() -> None:
    """A leading-zero number is found by its value; an unknown one scans nothing."""
    kept = book()
    kept.apply_state(assignment_key("06000311"), issued(), 0)
    for n in range(1000):
        kept.apply_state(assignment_key(f"1{n:07d}"), issued(), 0)
    found = kept.assignment(6000311)
    assert found is not None
    assert found.number == "06000311"

    def no_scan(prefix: str) -> Any:
        raise AssertionError("the state was scanned")

    kept._routing.keys_with_prefix = no_scan  # type: ignore[method-assign]
    assert kept.assignment(99999999) is None
    kept.apply_state(assignment_key("06000311"), None, 0)
    assert kept.assignment(6000311) is None
