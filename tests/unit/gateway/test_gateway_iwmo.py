"""POST /iwmo/v1/messages in memory: a fake transactional store and a book fed by hand."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.connectors.registry import PartnerRegistry
from hub.envelope import from_kafka
from hub.families.state import assignment_key, care_starts
from hub.gateway import GatewaySettings, KafkaRecord, StatusBook, create_app, status_key
from hub.gateway.endpoints import MountedEndpoint
from hub.gateway.intake import default_validator
from hub.gateway.limits import PartnerLanes
from hub.gateway.testing import RecordingSink
from hub.iwmo import IwmoCode, IwmoSettings, identificatie_301
from hub.iwmo import Problem as IwmoLevel1
from hub.iwmo.book import IwmoBook, used_key
from hub.kafka import KafkaError, TopicPartition
from hub.records import StatusRecord
from hub.roles.provider import IWMO_ENDPOINT
from hub.roles.provider import iwmo as iwmo_module
from hub.roles.provider.iwmo import (
    IwmoEndpoint,
    IwmoOverdueCheck,
    IwmoProblem,
    IwmoTail,
    KafkaIwmoWriter,
)
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

from ..readers import RecordingReader
from .gatewaytest import KEYS

DATA = Path(__file__).parents[1]
PROVIDER = "provider-thuiszorg-zwolle"
PROVIDER_AGB = "73730001"
AUTH = {"Authorization": f"Bearer {KEYS[PROVIDER][0]}", "Content-Type": "application/xml"}
NOW = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
BACKOFFICE_SOURCE = "urn:nld:oin:00000001234567890000:systeem:backoffice"
ISSUED_ID = "0d7814df-d0ae-55de-9639-fccb9c3e3be5"
LAYOUT = TopicLayout("test")


def pseudonymise(bsn: str) -> str:
    return hashlib.sha256(f"test|{bsn}".encode()).hexdigest()


def started_305() -> bytes:
    return (DATA / "cli" / "data" / "wmo305-started.xml").read_bytes()


def assignment() -> bytes:
    return json.dumps(
        {
            "provider_agb": PROVIDER_AGB,
            "status": "new",
            "law": "wmo",
            "product": {"category": "03", "code": "03B12"},
            "period": {"start": "2026-09-01", "end": "2027-08-31"},
            "result_areas": [],
            "decision_id": "BES-1",
            "subjects": [pseudonymise("999900031")],
            "care": {},
            "plan_version": 0,
        }
    ).encode()


class FakeStore:
    """An IwmoStore that keeps each transaction's records, or fails while ``failing``."""

    def __init__(self) -> None:
        self.transactions: list[list[KafkaRecord]] = []
        self.failing = False
        self.connected = True

    async def write(self, records: Sequence[KafkaRecord]) -> bool:
        if self.failing:
            return False
        self.transactions.append(list(records))
        return True


class NoSync:
    """The book is current already (fed by the test)."""

    async def sync(self, timeout_seconds: float) -> None:
        return None


@pytest.fixture
def iwmo_registry(registry: PartnerRegistry) -> PartnerRegistry:
    """The test registry with iwmo: true for the home-care provider only."""
    partners = [p.model_copy(update={"iwmo": p.id == PROVIDER}) for p in registry]
    return PartnerRegistry(partners)


@pytest.fixture
def kept() -> IwmoBook:
    state = IwmoBook(assignment_key=assignment_key, care_starts=care_starts, clock=lambda: NOW)
    state.apply_state(assignment_key("26000311"), assignment(), 0)
    return state


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
async def iwmo_client(
    iwmo_registry: PartnerRegistry,
    kept: IwmoBook,
    store: FakeStore,
    book: StatusBook,
    settings: GatewaySettings,
) -> AsyncIterator[httpx.AsyncClient]:
    endpoint = IwmoEndpoint(
        settings=IwmoSettings(max_bytes=4096),
        layout=LAYOUT,
        book=kept,
        tail=NoSync(),
        store=store,
        validator=default_validator(),
        status=book,
        pseudonymise=pseudonymise,
        timeout_seconds=5,
        retry_after_seconds=5,
        clock=lambda: NOW,
        lanes=PartnerLanes(),
    )
    app = create_app(
        settings=settings,
        registry=iwmo_registry,
        layout=LAYOUT,
        sink=RecordingSink(),
        book=book,
        endpoints=[MountedEndpoint(IWMO_ENDPOINT, "provider", endpoint)],
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=10
        ) as http,
    ):
        yield http


async def test_an_approved_305_is_answered_with_a_header_only_306_and_one_transaction(
    iwmo_client: httpx.AsyncClient, store: FakeStore
) -> None:
    """Approval: 200 with the 306, the care.started in binary mode and the records in one transaction."""
    response = await iwmo_client.post("/iwmo/v1/messages", content=started_305(), headers=AUTH)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    assert b"<BerichtCode>419</BerichtCode>" in response.content
    assert b"RetourCode" not in response.content
    [transaction] = store.transactions
    assert [r.topic for r in transaction] == [
        "test.inbound.provider-thuiszorg-zwolle",
        "test.iwmo",
        "test.iwmo",
        "test.iwmo-receipts",
    ]
    event = from_kafka(transaction[0].key, list(transaction[0].headers), transaction[0].value)
    assert event["type"] == "nl.sociaaldomein.care.started.v1"
    assert event["source"] == "urn:nld:agb:73730001"
    assert event["data"]["started_on"] == "2026-10-01"
    assert [r.key for r in transaction[1:]] == [
        b"iwmo-care:26000311",
        used_key("73730001", 418, "TZ-305-0016").encode(),
        used_key("73730001", 418, "TZ-305-0016").encode(),
    ]
    status = await iwmo_client.get(f"/events/{event['id']}", headers=AUTH)
    assert status.json()["status"] == "accepted"


async def test_the_same_bytes_again_get_the_stored_retour_and_publish_nothing(
    iwmo_client: httpx.AsyncClient, store: FakeStore
) -> None:
    """A replay answers the first retour and writes nothing."""
    first = await iwmo_client.post("/iwmo/v1/messages", content=started_305(), headers=AUTH)
    again = await iwmo_client.post("/iwmo/v1/messages", content=started_305(), headers=AUTH)

    assert again.status_code == 200
    assert again.content == first.content
    assert len(store.transactions) == 1


async def test_other_bytes_under_a_used_identificatie_get_9056(
    iwmo_client: httpx.AsyncClient, store: FakeStore
) -> None:
    """Other bytes under the same Identificatie: 9056 in the Header; nothing published."""
    await iwmo_client.post("/iwmo/v1/messages", content=started_305(), headers=AUTH)
    other = started_305().replace(b"<Geslacht>2</Geslacht>", b"<Geslacht>1</Geslacht>")

    response = await iwmo_client.post("/iwmo/v1/messages", content=other, headers=AUTH)

    assert response.status_code == 200
    assert b"<RetourCode>9056</RetourCode>" in response.content
    assert store.transactions[1:] == [[]]


async def test_a_failed_transaction_answers_503_and_stores_nothing(
    iwmo_client: httpx.AsyncClient, store: FakeStore
) -> None:
    """503 when the transaction fails; the resend is then answered afresh, not as a replay."""
    store.failing = True
    failed = await iwmo_client.post("/iwmo/v1/messages", content=started_305(), headers=AUTH)
    store.failing = False
    resent = await iwmo_client.post("/iwmo/v1/messages", content=started_305(), headers=AUTH)

    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "5"
    assert resent.status_code == 200
    assert len(store.transactions) == 1
    assert store.transactions[0][0].topic == "test.inbound.provider-thuiszorg-zwolle"


async def test_a_307_for_an_unknown_assignment_gets_9019_and_publishes_nothing(
    iwmo_client: httpx.AsyncClient, store: FakeStore
) -> None:
    """The StopProduct of an assignment never issued gets 9019; only the receipt is stored."""
    body = (DATA / "iwmo" / "data" / "wmo307.xml").read_bytes().replace(b"26000311", b"26009999")

    response = await iwmo_client.post("/iwmo/v1/messages", content=body, headers=AUTH)

    assert response.status_code == 200
    assert b"<RetourCode>9019</RetourCode>" in response.content
    [transaction] = store.transactions
    assert [r.topic for r in transaction] == ["test.iwmo", "test.iwmo-receipts"]


@pytest.mark.parametrize(
    ("body", "status", "code", "path"),
    [
        (b"<Bericht", 400, "XML_MALFORMED", "/"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><Bericht/>', 400, "XML_FORBIDDEN", "/"),
        (b"<Bericht/>", 422, "MESSAGE_UNSUPPORTED", "/Bericht"),
        (b"x" * 5000, 413, "XML_TOO_LARGE", "/"),
    ],
)
async def test_level_1_is_answered_with_code_and_path_only(
    iwmo_client: httpx.AsyncClient, store: FakeStore, body: bytes, status: int, code: str, path: str
) -> None:
    """Level 1: problem+json with the code and the element's path; nothing stored."""
    response = await iwmo_client.post("/iwmo/v1/messages", content=body, headers=AUTH)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["path"]) == (code, path)
    assert store.transactions == []
    if status == 413:  # the rest of the body was never read
        assert response.headers["connection"] == "close"


async def test_another_providers_afzender_is_agb_not_sender(
    iwmo_client: httpx.AsyncClient,
) -> None:
    """A 305 whose Afzender is not the sender's AGB: 403 AGB_NOT_SENDER at the Afzender."""
    body = started_305().replace(b"<Afzender>73730001", b"<Afzender>73730002")

    response = await iwmo_client.post("/iwmo/v1/messages", content=body, headers=AUTH)

    assert response.status_code == 403
    assert response.json()["path"] == "/Bericht/Header/Afzender"


async def test_a_provider_without_iwmo_gets_403(iwmo_client: httpx.AsyncClient) -> None:
    """Without iwmo: true the endpoint is forbidden: 403 TYPE_NOT_ALLOWED."""
    headers = {**AUTH, "Authorization": f"Bearer {KEYS['provider-jeugdhulp-ijssel'][0]}"}

    response = await iwmo_client.post("/iwmo/v1/messages", content=started_305(), headers=headers)

    assert response.status_code == 403
    assert response.json()["code"] == "TYPE_NOT_ALLOWED"


async def test_another_content_type_gets_415(iwmo_client: httpx.AsyncClient) -> None:
    """Only application/xml is read."""
    headers = {**AUTH, "Content-Type": "text/plain"}

    response = await iwmo_client.post("/iwmo/v1/messages", content=started_305(), headers=headers)

    assert response.status_code == 415


async def test_two_content_types_or_a_content_coding_get_415(
    iwmo_client: httpx.AsyncClient,
) -> None:
    """Two Content-Type headers (either order) are 415; a gzip body is 415 CONTENT_ENCODING_UNSUPPORTED."""
    auth = [(name, value) for name, value in AUTH.items() if name != "Content-Type"]
    for types in (("text/plain", "application/xml"), ("application/xml", "text/plain")):
        response = await iwmo_client.post(
            "/iwmo/v1/messages",
            content=started_305(),
            headers=[*auth, *(("Content-Type", kind) for kind in types)],
        )
        assert response.status_code == 415
        assert response.json()["code"] == "CONTENT_TYPE_UNSUPPORTED"
    response = await iwmo_client.post(
        "/iwmo/v1/messages",
        content=started_305(),
        headers={**AUTH, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 415
    assert response.json()["code"] == "CONTENT_ENCODING_UNSUPPORTED"


def wmo302(identificatie: str, *, rejected: bool = False) -> bytes:
    name = "wmo302-rejected.xml" if rejected else "wmo302-approved.xml"
    body = (DATA / "iwmo" / "data" / name).read_bytes()
    for example in (b">5f1e2d3c4b5a<", b">a0b1c2d3e4f5<"):
        body = body.replace(example, f">{identificatie}<".encode())
    return body


async def test_a_302_without_its_301_is_unmatched(
    iwmo_client: httpx.AsyncClient, store: FakeStore
) -> None:
    """A 302 naming no 301 sent to the sender: 422 RETOUR_UNMATCHED at the Identificatie."""
    response = await iwmo_client.post(
        "/iwmo/v1/messages", content=wmo302("aaaaaaaaaaaa"), headers=AUTH
    )

    assert response.status_code == 422
    assert response.json()["code"] == "RETOUR_UNMATCHED"
    assert response.json()["path"] == "/Bericht/Header/BerichtIdentificatie/Identificatie"
    assert store.transactions == []


async def test_a_matched_302_is_stored_and_shown_on_the_assignments_status(
    iwmo_client: httpx.AsyncClient, store: FakeStore, kept: IwmoBook, book: StatusBook
) -> None:
    """204; the outcome is on GET /events/{id} of the assignments.issued event, for its sender."""
    identificatie = identificatie_301(BACKOFFICE_SOURCE, ISSUED_ID)
    kept.apply_state(f"iwmo-301:{PROVIDER_AGB}:{identificatie}", b"{}", 0)
    book.apply(
        status_key(BACKOFFICE_SOURCE, ISSUED_ID),
        StatusRecord(
            event_id=ISSUED_ID,
            source=BACKOFFICE_SOURCE,
            partner="backoffice-zwolle",
            type="nl.sociaaldomein.assignments.issued.v1",
            status="delivered",
            codes=(),
            recipients=(PROVIDER,),
            withheld=(),
            at="2026-11-27T10:00:00+00:00",
        ).to_json(),
    )
    backoffice = {"Authorization": f"Bearer {KEYS['backoffice-zwolle'][0]}"}
    before = await iwmo_client.get(f"/events/{ISSUED_ID}", headers=backoffice)

    response = await iwmo_client.post(
        "/iwmo/v1/messages", content=wmo302(identificatie, rejected=True), headers=AUTH
    )
    after = await iwmo_client.get(f"/events/{ISSUED_ID}", headers=backoffice)

    assert response.status_code == 204
    assert [[r.key for r in t] for t in store.transactions] == [
        [f"iwmo-302:{PROVIDER_AGB}:{identificatie}".encode()]
    ]
    assert before.json()["iwmo"][0]["retour"] == "awaiting"
    [retour] = after.json()["iwmo"]
    assert retour["retour"] == "rejected"
    assert retour["provider_agb"] == PROVIDER_AGB
    assert retour["rejected"]


def test_the_overdue_check_names_each_late_301_once(
    kept: IwmoBook, iwmo_registry: PartnerRegistry
) -> None:
    """Three working days after the 301 without a 302: named once, with the provider's id."""
    sent = NOW - timedelta(days=7)
    kept.apply_state(f"iwmo-301:{PROVIDER_AGB}:bbbbbbbbbbbb", b"{}", int(sent.timestamp() * 1000))
    check = IwmoOverdueCheck(
        kept, iwmo_registry, IwmoSettings(), current=lambda: True, clock=lambda: NOW
    )

    assert check.check() == 1
    assert check.check() == 0


def test_a_level_1_problem_names_no_value() -> None:
    """The problem body holds the code, the path and the code's sentence only."""
    body = IwmoProblem(IwmoLevel1(IwmoCode.XSD_INVALID, "/Bericht/Client/Bsn")).body()

    assert body["code"] == "XSD_INVALID"
    assert body["path"] == "/Bericht/Client/Bsn"
    assert body["errors"] == [
        {"path": "/Bericht/Client/Bsn", "code": "XSD_INVALID", "message": body["detail"]}
    ]


class FakeProducer:
    """A transactional producer whose sends succeed, fail, or never answer."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.committed: list[list[str]] = []
        self.stopped = False

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        pending: list[str] = []
        self._pending = pending
        yield
        self.committed.append(pending)

    async def send(self, topic: str, **_: Any) -> asyncio.Future[None]:
        if self.behaviour == "hang":
            await asyncio.sleep(3600)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.behaviour == "fail":
            future.set_exception(KafkaError("refused"))
        else:
            self._pending.append(topic)
            future.set_result(None)
        return future

    async def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize(("behaviour", "written"), [("ok", True), ("fail", False), ("hang", False)])
async def test_the_writer_answers_within_its_timeout_and_retires_a_failed_producer(
    behaviour: str, written: bool
) -> None:
    """One transaction per write; a failure or a hang answers False and retires the producer."""
    writer = KafkaIwmoWriter(
        KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        transactional_id="t",
        transaction_timeout_ms=1000,
        timeout_seconds=0.2,
    )
    fake = FakeProducer(behaviour)
    writer._producer._current = fake
    record = KafkaRecord("test.iwmo", b"k", (), b"{}")
    try:
        answer = await writer.write([record, record])
        assert answer is written
        assert writer.connected is written
        assert fake.committed == ([["test.iwmo", "test.iwmo"]] if written else [])
    finally:
        await writer.stop()
    assert fake.stopped


def test_the_iwmo_topics_are_created_with_their_retention(iwmo_registry: PartnerRegistry) -> None:
    """<prefix>.iwmo is compacted and expires; the receipts expire with personal data."""
    kafka = KafkaSettings(personal_retention_ms=1234, iwmo_retention_ms=5678)

    specs = {spec.name: spec.config for spec in LAYOUT.all_topics(iwmo_registry, kafka)}

    assert specs["test.iwmo"] == {"cleanup.policy": "compact,delete", "retention.ms": "5678"}
    assert specs["test.iwmo-receipts"] == {
        "cleanup.policy": "compact,delete",
        "retention.ms": "1234",
    }


@dataclass
class FakeRecord:
    """The fields of a consumer record the tail reads."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    partition: int = 0
    offset: int = 0


def test_the_tail_applies_each_topic_to_its_part_of_the_book() -> None:
    """State changelog, <prefix>.iwmo and receipts each feed the book; an unreadable record is skipped."""
    state = IwmoBook(assignment_key=assignment_key, care_starts=care_starts, clock=lambda: NOW)
    tail = IwmoTail(KafkaSettings(), LAYOUT, state)
    used = used_key("73730001", 418, "X").encode()
    records = [
        FakeRecord("test.state", b"assignment:26000311", assignment()),
        FakeRecord("test.state", b"iwmo-301:73730001:abc", b"{}", timestamp=1000),
        FakeRecord("test.state", b"iwmo-assignment:26000311", b"{not json"),
        FakeRecord("test.iwmo", used, b'{"digest": "d", "accepted": true, "at": "x"}'),
        FakeRecord(
            "test.iwmo-receipts", used, b'{"retour": "<r/>", "at": "2026-11-27T10:00:00+00:00"}'
        ),
    ]

    for record in records:
        tail._apply(TopicPartition(record.topic, 0), [record])  # type: ignore[list-item]

    assert state.assignment(26000311) is not None
    assert state.sent_301("73730001", "abc")
    used_before = state.used_identificatie("73730001", 418, "X")
    assert used_before is not None
    assert used_before.retour == b"<r/>"


async def test_sync_reads_up_to_now_and_fails_while_reconnecting() -> None:
    """sync() catches the reader up; without a reader (reconnecting) it raises for a 503."""

    class Reader:
        calls = 0

        async def catch_up(self, limit_seconds: float, max_records: int | None = None) -> int:
            assert max_records == 500
            Reader.calls += 1
            return 0

    tail = IwmoTail(
        KafkaSettings(), LAYOUT, IwmoBook(assignment_key=assignment_key, care_starts=care_starts)
    )
    tail.caught_up.set()
    with pytest.raises(KafkaError):
        await tail.sync(1.0)
    tail._reader = Reader()  # type: ignore[assignment]
    await tail.sync(1.0)
    assert Reader.calls == 1
    tail.caught_up.clear()
    with pytest.raises(TimeoutError):
        await tail.sync(0.05)


async def test_the_tail_takes_at_most_500_records_a_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading and following go in rounds of at most 500 records, so the gateway's loop runs between them."""
    reader = RecordingReader.fresh()

    monkeypatch.setattr(iwmo_module, "CompactedReader", reader)
    tail = IwmoTail(
        KafkaSettings(), LAYOUT, IwmoBook(assignment_key=assignment_key, care_starts=care_starts)
    )
    await tail.start()
    async with asyncio.timeout(5):
        await reader.followed.wait()
    await tail.stop()
    assert reader.rounds[:2] == [("catch_up", 500), ("follow", 500)]
    assert {limit for _, limit in reader.rounds} == {500}


async def test_no_overdue_check_runs_while_the_book_is_being_read(
    kept: IwmoBook, iwmo_registry: PartnerRegistry
) -> None:
    """Halfway through a (re-)read a 301 may be known before its 302: nothing is named then."""
    sent = NOW - timedelta(days=7)
    kept.apply_state(f"iwmo-301:{PROVIDER_AGB}:cccccccccccc", b"{}", int(sent.timestamp() * 1000))
    check = IwmoOverdueCheck(
        kept, iwmo_registry, IwmoSettings(), current=lambda: False, clock=lambda: NOW
    )
    await check.start()
    await asyncio.sleep(0.05)
    await check.stop()

    assert check.check() == 1  # still to be named: the service never looked


def test_a_reset_book_forgets_its_records_but_not_what_it_named_overdue(kept: IwmoBook) -> None:
    """Before a re-read the book is emptied; an overdue 301 named before is not named again."""
    sent = int((NOW - timedelta(days=7)).timestamp() * 1000)
    kept.apply_state(f"iwmo-301:{PROVIDER_AGB}:dddddddddddd", b"{}", sent)
    assert len(kept.overdue(NOW, 3)) == 1

    kept.reset()
    assert kept.assignment(26000311) is None
    kept.apply_state(f"iwmo-301:{PROVIDER_AGB}:dddddddddddd", b"{}", sent)
    assert kept.overdue(NOW, 3) == []


CANARY = b"ZQk7x2p9"


@st.composite
def mangled_305(draw: st.DrawFn) -> bytes:
    """The example 305 with a stretch cut out and something planted in its place."""
    body = started_305()
    start = draw(st.integers(0, len(body)))
    end = draw(st.integers(start, min(len(body), start + 60)))
    planted = draw(
        st.sampled_from(
            [b"", CANARY, b"<" + CANARY + b">", b"999990019", b"&x;", b"<!DOCTYPE a>", b"\xff"]
        )
    )
    return body[:start] + planted + body[end:]


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=mangled_305())
async def test_mangled_documents_get_documented_answers_that_quote_nothing(
    iwmo_client: httpx.AsyncClient, body: bytes
) -> None:
    """Any mangled 305 gets 200 or a level-1 problem; a problem never holds what was planted."""
    response = await iwmo_client.post("/iwmo/v1/messages", content=body, headers=AUTH)

    assert response.status_code in {200, 400, 403, 413, 422}, response.text
    if response.status_code >= 400:
        assert CANARY not in response.content
        assert b"999990019" not in response.content
        assert set(response.json()) >= {"code", "path"}
