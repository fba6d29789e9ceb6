"""POST /processing-activities: the Logboek read extension, for privacy officers only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import structlog

from hub.audit import open_store
from hub.audit.api import create_audit_app
from hub.envelope import is_bsn
from hub.privacy import Pseudonymiser
from hub.settings import AuditSettings, OfficerCredential
from tests.unit.audit.store_cases import BOB, T0, record

BSN = "999900018"
OFFICER_KEY = "key-privacy-officer-anna"
BASE = "https://register.zwolle.example/verwerkingsactiviteiten/"
PSEUDONYMISE = Pseudonymiser(b"test-secret-of-the-audit-api")
ALICE = PSEUDONYMISE(BSN)
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def _auth(key: str = OFFICER_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    with open_store(url) as store:
        store.add(
            [
                record(1, subjects=(ALICE, BOB), at=T0),
                record(2, subjects=(BOB,), trace_id=OTHER_TRACE),
                record(3, subjects=(ALICE,), processing_activity="referral-intake"),
            ]
        )
    settings = AuditSettings(
        store_url=url,
        register_base_uri=BASE,
        officers=(
            OfficerCredential(
                id="po-anna", api_key_sha256=hashlib.sha256(OFFICER_KEY.encode()).hexdigest()
            ),
        ),
    )
    app = create_audit_app(
        settings,
        open_store=lambda: open_store(url, read_only=True),
        pseudonyms_of=lambda bsn: (PSEUDONYMISE(bsn),),
        is_bsn=is_bsn,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://audit.test"
    ) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [{}, _auth("key-gp-de-linde"), {"X-API-Key": "wrong"}, {"Authorization": "Basic eA=="}],
)
async def test_only_a_privacy_officer_may_query(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await api.post(
        "/processing-activities", json={"trace_id": OTHER_TRACE}, headers=headers
    )

    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


async def test_a_query_without_trace_activity_or_subject_is_a_400(api: httpx.AsyncClient) -> None:
    """A time window alone is not a query: the read extension needs one of the three."""
    response = await api.post(
        "/processing-activities", json={"start_time": "2026-01-01T00:00:00Z"}, headers=_auth()
    )

    assert response.status_code == 400
    assert response.json()["code"] == "QUERY_UNBOUNDED"


async def test_by_trace_id(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/processing-activities", json={"trace_id": OTHER_TRACE}, headers=_auth()
    )

    assert response.status_code == 200
    [only] = response.json()["records"]
    assert only["trace_id"] == OTHER_TRACE
    assert only["attributes"]["dpl.core.data_subject_id"] == BOB
    assert response.headers["cache-control"] == "no-store"


async def test_by_processing_activity_uri(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/processing-activities",
        json={"processing_activity_id": BASE + "referral-intake"},
        headers=_auth(),
    )

    [only] = response.json()["records"]
    assert only["attributes"]["dpl.core.processing_activity_id"] == BASE + "referral-intake"
    assert only["attributes"]["hub.disclosure_id"] == record(3).disclosure_id


async def test_by_bsn_answers_that_residents_records_only_and_logs_no_value(
    api: httpx.AsyncClient,
) -> None:
    """The BSN is pseudonymised; a co-subject's record of the same disclosure is not returned."""
    with structlog.testing.capture_logs() as logs:
        response = await api.post("/processing-activities", json={"bsn": BSN}, headers=_auth())

    records = response.json()["records"]
    assert [r["attributes"]["hub.disclosure_id"] for r in records] == [
        record(1).disclosure_id,
        record(3).disclosure_id,
    ]
    assert {r["attributes"]["dpl.core.data_subject_id"] for r in records} == {ALICE}
    assert BSN not in response.text
    [line] = [entry for entry in logs if entry["event"] == "audit_query"]
    assert line["officer"] == "po-anna"
    assert line["filters"] == ["bsn"]
    assert line["count"] == 2
    assert BSN not in json.dumps(logs, default=str)
    assert ALICE not in json.dumps(logs, default=str)


async def test_by_data_subject_id_within_a_window(api: httpx.AsyncClient) -> None:
    """start_time inclusive, end_time exclusive."""
    inside = await api.post(
        "/processing-activities",
        json={
            "data_subject_id": BOB,
            "start_time": T0.isoformat(),
            "end_time": "2026-01-06T00:00:00Z",
        },
        headers=_auth(),
    )
    after = await api.post(
        "/processing-activities",
        json={"data_subject_id": BOB, "start_time": "2026-01-05T09:30:00.000001Z"},
        headers=_auth(),
    )

    assert len(inside.json()["records"]) == 2
    assert after.json()["records"] == []


async def test_a_bsn_and_a_data_subject_id_together_are_refused(api: httpx.AsyncClient) -> None:
    """Every other pair of filters narrows; these two would answer two people's records at once."""
    response = await api.post(
        "/processing-activities",
        json={"bsn": "999900018", "data_subject_id": BOB},
        headers=_auth(),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "QUERY_INVALID"
    assert response.json()["errors"][0]["path"] == "data_subject_id"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"bsn": "123456789"}, "bsn"),  # fails the 11-proof
        ({"trace_id": "not-hex"}, "trace_id"),
        ({"trace_id": OTHER_TRACE, "start_time": "2026-01-05T09:30:00"}, "start_time"),  # no offset
        ({"trace_id": OTHER_TRACE, "who": "me"}, "who"),  # closed
        ({"trace_id": OTHER_TRACE, "999900018": "yes"}, "*"),  # a key is input too
        ({"trace_id": OTHER_TRACE, "Esther van Dalfsen": "yes"}, "*"),
    ],
)
async def test_a_malformed_query_names_the_path_and_never_echoes_it(
    api: httpx.AsyncClient, body: dict[str, str], path: str
) -> None:
    response = await api.post("/processing-activities", json=body, headers=_auth())

    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == path
    for key, value in body.items():
        assert value not in response.text
        if path == "*":
            assert key not in response.text


async def test_who_is_no_officer_learns_nothing_of_the_query_and_big_bodies_are_refused(
    api: httpx.AsyncClient,
) -> None:
    """Authentication comes before the body is read: no 422 paths for strangers."""
    stranger = await api.post("/processing-activities", json={"bsn": 5})
    too_big = await api.post(
        "/processing-activities", json={"trace_id": "a" * 20_000}, headers=_auth()
    )

    assert stranger.status_code == 401
    assert "errors" not in stranger.json()
    assert too_big.status_code == 413


async def test_limit_bounds_the_answer(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/processing-activities", json={"data_subject_id": BOB, "limit": 1}, headers=_auth()
    )

    assert len(response.json()["records"]) == 1
    assert response.json()["truncated"] is True
