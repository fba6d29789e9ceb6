"""The disclosure store's behaviour, written once and run against each backend.

``DisclosureStoreCases`` holds the tests; a subclass supplies the ``store_url`` fixture (an
empty store), ``execute`` (SQL past the store's API) and the driver's error class. SQLite
runs them in tests/unit/audit/test_disclosure_store.py, PostgreSQL, which needs a server,
in tests/integration/test_audit_store_postgres.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from hub.audit import (
    AttemptResult,
    DeliveryAttempt,
    DisclosureOutcome,
    DisclosureRecord,
    open_store,
)
from hub.audit.chain import Signer, record_hash
from hub.settings import DEMO_SIGNING_KEY

ALICE, BOB = "a" * 64, "b" * 64
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def record(
    n: int, *, subjects: tuple[str, ...] = (ALICE,), at: datetime = T0, **changes: Any
) -> DisclosureRecord:
    """A disclosure record numbered n."""
    values: dict[str, Any] = {
        "disclosure_id": f"00000000-0000-5000-8000-{n:012d}",
        "event_id": f"event-{n}",
        "event_type": "nl.sociaaldomein.care.started.v1",
        "source": "provider-thuiszorg-zwolle",
        "recipient": "backoffice-zwolle",
        "delivery_id": f"10000000-0000-5000-8000-{n:012d}",
        "decided_at": at,
        "outcome": DisclosureOutcome.DELIVERED,
        "fields_disclosed": ("assignment_number", "started_on"),
        "fields_withheld": (),
        "legal_basis": "Wmo 2015 art. 5.1.1",
        "processing_activity": "care-delivery-and-outcomes",
        "data_subjects": subjects,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": f"{n:016x}",
    }
    values.update(changes)
    return DisclosureRecord(**values)


def attempt(
    n: int, of: DisclosureRecord, result: AttemptResult, status: int | None
) -> DeliveryAttempt:
    """A delivery attempt number n of a disclosure."""
    return DeliveryAttempt(
        attempt_id=f"{of.disclosure_id}/{n}",
        disclosure_id=of.disclosure_id,
        attempt=n,
        attempted_at=T0 + timedelta(seconds=n),
        result=result,
        status=status,
    )


class DisclosureStoreCases:
    """The tests every backend passes; a subclass named Test... runs them on one backend."""

    database_error: ClassVar[type[Exception]]

    @pytest.fixture
    def store_url(self) -> str:
        """An empty store of the backend."""
        raise NotImplementedError

    def execute(self, store_url: str, sql: str) -> None:
        """Run one SQL statement on the store's database, bypassing the store."""
        raise NotImplementedError

    def test_a_record_is_stored_and_read_back_unchanged(self, store_url: str) -> None:
        """get() and concerning() return the record exactly as it was added."""
        one = record(1, subjects=(ALICE, BOB), reason=None)
        with open_store(store_url) as store:
            assert store.add([one]) == 1
            assert store.get(one.disclosure_id) == one
            assert store.concerning(BOB) == [one]
            assert store.get("no-such-id") is None

    def test_a_redelivered_record_is_stored_once_and_the_first_copy_stays(
        self, store_url: str
    ) -> None:
        """Adding a record whose id is stored is a no-op, also when the copy differs."""
        first = record(1)
        later_copy = record(1, at=T0 + timedelta(hours=1))
        with open_store(store_url) as store:
            assert store.add([first, record(2)]) == 2
            assert store.add([later_copy, record(2), record(3)]) == 1
            assert store.get(first.disclosure_id) == first
            assert [r.event_id for r in store.concerning(ALICE)] == [
                "event-1",
                "event-2",
                "event-3",
            ]

    def test_a_resident_sees_their_disclosures_in_time_order(self, store_url: str) -> None:
        """concerning() lists one pseudonym's records by decided_at, and no one else's."""
        late = record(1, at=T0 + timedelta(days=2))
        early = record(2, at=T0 - timedelta(days=1))
        same_time_b = record(4, at=T0)
        same_time_a = record(3, at=T0)
        withheld = record(
            5,
            at=T0 + timedelta(days=3),
            recipient="gp-de-linde",
            outcome=DisclosureOutcome.WITHHELD,
            reason="NO_STATUS_FEEDBACK_CONSENT",
            delivery_id=None,
            fields_disclosed=(),
            fields_withheld=("status",),
        )
        bobs = record(6, subjects=(BOB,))
        with open_store(store_url) as store:
            store.add([late, early, same_time_b, bobs, same_time_a, withheld])
            assert store.concerning(ALICE) == [early, same_time_a, same_time_b, late, withheld]
            assert store.concerning(BOB) == [bobs]
            assert store.concerning("c" * 64) == []

    def test_records_are_counted_per_pseudonym_key(self, store_url: str) -> None:
        """pseudonym_keys() counts the records per key id (None: naming none), oldest key first,
        with the first and last decided_at; concerning() takes a resident's every pseudonym."""
        older = record(1, at=T0 - timedelta(days=30))
        first = record(2, at=T0 - timedelta(days=2), pseudonym_key="k1")
        rotated = record(3, at=T0, pseudonym_key="k2", subjects=(ALICE, BOB))
        later = record(4, at=T0 + timedelta(days=1), pseudonym_key="k2", subjects=(BOB,))
        with open_store(store_url) as store:
            store.add([later, rotated, first, older])
            assert [
                (use.key, use.records, use.first, use.last) for use in store.pseudonym_keys()
            ] == [
                (None, 1, older.decided_at, older.decided_at),
                ("k1", 1, first.decided_at, first.decided_at),
                ("k2", 2, rotated.decided_at, later.decided_at),
            ]
            assert store.concerning(ALICE, BOB) == [older, first, rotated, later]
            assert store.concerning() == []

    def test_delivery_attempts_are_linked_to_their_disclosure(self, store_url: str) -> None:
        """Attempts are appended per disclosure, idempotently, and listed in attempt order."""
        one = record(1)
        attempts = [
            attempt(2, one, AttemptResult.SUCCEEDED, 204),
            attempt(1, one, AttemptResult.FAILED, 503),
        ]
        with open_store(store_url) as store:
            store.add([one])
            assert store.add_attempts(attempts) == 2
            assert store.add_attempts(attempts[:1]) == 0
            assert store.attempts(one.disclosure_id) == [attempts[1], attempts[0]]
            assert store.attempts(record(2).disclosure_id) == []

    @pytest.mark.parametrize(
        "sql",
        [
            "UPDATE disclosures SET recipient = 'someone-else'",
            "DELETE FROM disclosures",
            "DELETE FROM disclosure_subjects",
            "UPDATE delivery_attempts SET attempt = 9",
            "DELETE FROM delivery_attempts",
        ],
    )
    def test_the_log_is_append_only(self, store_url: str, sql: str) -> None:
        """There is no update or delete API, and the database refuses UPDATE and DELETE too."""
        one = record(1)
        with open_store(store_url) as store:
            store.add([one])
            store.add_attempts([attempt(1, one, AttemptResult.SUCCEEDED, 200)])
            assert not any(hasattr(store, name) for name in ("update", "delete", "remove"))
        with pytest.raises(self.database_error, match="append-only"):
            self.execute(store_url, sql)
        with open_store(store_url, read_only=True) as store:
            assert store.get(one.disclosure_id) == one
            assert store.concerning(ALICE) == [one]

    def test_search_filters_by_trace_activity_subjects_and_window(self, store_url: str) -> None:
        """search() keeps the records matching every filter given, in time order."""
        other_trace = "0af7651916cd43dd8448eb211c80319c"
        first = record(1, at=T0)
        second = record(2, at=T0 + timedelta(hours=1), subjects=(BOB,))
        third = record(3, at=T0 + timedelta(days=1), trace_id=other_trace)
        fourth = record(4, at=T0 + timedelta(days=2), processing_activity="referral-intake")
        with open_store(store_url) as store:
            store.add([fourth, third, second, first])
            assert store.search() == [first, second, third, fourth]
            assert store.search(trace_id=other_trace) == [third]
            assert store.search(processing_activity="referral-intake") == [fourth]
            assert store.search(pseudonyms=(BOB,)) == [second]
            assert store.search(pseudonyms=(ALICE, BOB)) == [first, second, third, fourth]
            window = store.search(since=T0 + timedelta(hours=1), until=T0 + timedelta(days=2))
            assert window == [second, third]  # since inclusive, until exclusive
            assert store.search(
                pseudonyms=(ALICE,), processing_activity="care-delivery-and-outcomes"
            ) == [first, third]
            assert store.search(trace_id="f" * 32) == []

    def test_a_purge_deletes_a_chains_beginning_and_leaves_a_signed_record(
        self, store_url: str
    ) -> None:
        """Records before the cut-off go (lifting the triggers for that one transaction only)."""
        signer = Signer.from_setting("k1", DEMO_SIGNING_KEY)
        chained, prev = [], None
        for n in range(1, 5):
            linked = record(n, at=T0 + timedelta(days=n)).model_copy(
                update={"chain": "t.inbound.gp:0", "seq": n, "prev_hash": prev}
            )
            prev = record_hash(linked.model_dump(mode="json"))
            chained.append(linked)
        with open_store(store_url) as store:
            store.add(chained)
            [purge] = store.purge(
                T0 + timedelta(days=3), signer, operator="po-anna", at=T0 + timedelta(days=900)
            )
            assert (purge.chain, purge.through_seq, purge.count) == ("t.inbound.gp:0", 2, 2)
            assert [r.seq for r in store.search()] == [3, 4]
            assert store.purges() == [purge]
            assert store.concerning(ALICE) == chained[2:]
        with pytest.raises(self.database_error, match="append-only"):
            self.execute(store_url, "DELETE FROM disclosures")
