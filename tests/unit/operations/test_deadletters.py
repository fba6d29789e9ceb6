"""Dead letters as operators see them: ids, listings of today's and older values, replay plans, the log."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.errors import ErrorCode, ErrorDetail
from hub.operations import (
    Action,
    ListedDeadLetter,
    OperationRecord,
    deadletter_id,
    parse_deadletter_id,
    plan_replays,
    select,
)
from hub.operations.deadletters import written_order
from hub.operations.log import operator_name
from hub.records import DeadLetter, RecordCopy

AT = 1767605400000  # 2026-01-05T09:30:00Z
INBOUND = "hub.inbound.gp-de-linde"


class _Record:
    """A record of the dead-letter topic as a consumer returns it."""

    def __init__(
        self, value: bytes, *, key: bytes, headers: list[tuple[str, bytes]], offset: int = 4
    ) -> None:
        self.topic, self.partition, self.offset = "hub.deadletter", 2, offset
        self.key, self.value, self.headers = key, value, headers
        self.timestamp = AT


def letter(
    code: ErrorCode = ErrorCode.FIELD_UNKNOWN, replays: int = 0, copy: bool = True
) -> DeadLetter:
    return DeadLetter(
        errors=(ErrorDetail("data.client.nickname", code, "Unknown field."),),
        unroutable=False,
        partner="gp-de-linde",
        event_id="ev-1",
        topic=INBOUND,
        partition=0,
        offset=7,
        sha256="ab" * 32,
        size=100,
        record=RecordCopy(b"k", (("ce_id", b"ev-1"),), b"{}") if copy else None,
        replays=replays,
    )


def listed(dead: DeadLetter, offset: int = 4) -> ListedDeadLetter:
    return ListedDeadLetter.of(
        _Record(dead.to_json(), key=dead.key, headers=list(dead.headers), offset=offset)  # type: ignore[arg-type]
    )


def test_a_dead_letter_id_is_its_place_on_the_topic() -> None:
    """``dl-<partition>-<offset>`` formats and parses back; anything else is no id."""
    assert deadletter_id(2, 4) == "dl-2-4"
    assert parse_deadletter_id("dl-2-4") == (2, 4)
    for text in ("", "dl-2", "2-4", "dl-a-4", "dl--1-4", "DL-999900018"):
        assert parse_deadletter_id(text) is None


def test_todays_dead_letter_is_listed_with_codes_origin_and_no_data() -> None:
    """The listing holds id, time, partner, codes, paths, event id, origin and replays; no copy."""
    summary = listed(letter()).summary()
    assert summary == {
        "id": "dl-2-4",
        "written_at": "2026-01-05T09:30:00+00:00",
        "partner": "gp-de-linde",
        "code": "FIELD_UNKNOWN",
        "codes": ["FIELD_UNKNOWN"],
        "paths": ["data.client.nickname"],
        "event_id": "ev-1",
        "unroutable": False,
        "origin": {"topic": INBOUND, "partition": 0, "offset": 7},
        "replays": 0,
        "replay_of": None,
        "copy": True,
        "readable": True,
    }


def test_a_value_this_version_cannot_read_is_listed_from_its_key_and_headers() -> None:
    """An older or damaged value: code and partner from the headers, topic and partition from the key."""
    old: dict[str, Any] = json.loads(letter().to_json())
    del old["origin"]
    record = _Record(
        json.dumps(old).encode(),
        key=f"{INBOUND}:1".encode(),
        headers=[("hub-reason-code", b"BSN_INVALID"), ("hub-partner", b"gp-de-linde")],
    )
    found = ListedDeadLetter.of(record)  # type: ignore[arg-type]
    assert (found.letter, found.code, found.partner) == (None, "BSN_INVALID", "gp-de-linde")
    assert found.origin == (INBOUND, 1, None)
    assert found.summary()["readable"] is False


def test_select_filters_by_partner_code_and_time() -> None:
    """A code matches any of a dead letter's codes; since compares the time it was written."""
    rows = [listed(letter(), 1), listed(letter(ErrorCode.UNKNOWN_REFERENCE), 2)]
    assert [d.id for d in select(rows, code="UNKNOWN_REFERENCE")] == ["dl-2-2"]
    assert [d.id for d in select(rows, partner="swt-zwolle")] == []
    assert len(select(rows, since=datetime(2026, 1, 5, 9, 30, tzinfo=UTC))) == 2
    assert select(rows, since=datetime(2026, 1, 5, 9, 31, tzinfo=UTC)) == []


def _replayed_by(ident: str) -> OperationRecord:
    return OperationRecord(
        action=Action.REPLAYED,
        operator="ops-anna",
        at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        deadletter_id=ident,
        partner="gp-de-linde",
        code="FIELD_UNKNOWN",
        replay_count=1,
    )


def test_a_record_the_client_could_not_unpack_is_never_replayed() -> None:
    """Its origin would be unreadable again: the partner must send it again."""
    [item] = plan_replays(
        [listed(letter(ErrorCode.RECORD_UNREADABLE, copy=False), 7)],
        max_replays=3,
        replayed={},
        skip_replayed=False,
    )
    assert "send it again" in (item.refused or "")


def test_a_replay_plan_refuses_the_limit_the_too_large_and_by_filter_the_replayed() -> None:
    """Refused with a sentence: at max replays, over the size limit, unreadable, replayed already (filter only)."""
    fresh, at_limit = listed(letter(), 1), listed(letter(replays=3), 2)
    large = listed(letter(ErrorCode.EVENT_TOO_LARGE, copy=False), 3)
    taken = listed(letter(), 5)
    log = {taken.id: _replayed_by(taken.id)}
    by_filter = plan_replays(
        [fresh, at_limit, large, taken], max_replays=3, replayed=log, skip_replayed=True
    )
    assert [(i.letter.id, i.refused is None) for i in by_filter] == [
        ("dl-2-1", True),
        ("dl-2-2", False),
        ("dl-2-3", False),
        ("dl-2-5", False),
    ]
    assert "already results from 3 replays" in (by_filter[1].refused or "")
    assert "split" in (by_filter[2].refused or "")
    assert "ops-anna" in (by_filter[3].refused or "")
    [by_id] = plan_replays([taken], max_replays=3, replayed=log, skip_replayed=False)
    assert by_id.refused is None
    assert by_id.summary()["replayed_before"] == {
        "by": "ops-anna",
        "at": "2026-01-05T10:00:00+00:00",
    }
    assert by_id.count == 1


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("subject", ErrorCode.SUBJECT_IS_BSN),
        ("id", ErrorCode.BSN_IN_IDENTIFIER),
        ("data.referral_id", ErrorCode.BSN_IN_IDENTIFIER),
        ("subject", ErrorCode.SUBJECT_MISMATCH),
        ("clientname", ErrorCode.EXTENSION_NOT_ALLOWED),
        ("id", ErrorCode.ENVELOPE_INVALID),
        ("partitionkey", ErrorCode.SUBJECT_MISMATCH),
    ],
)
def test_a_replay_plan_refuses_what_would_write_a_refused_envelope_again(
    path: str, code: ErrorCode
) -> None:
    """A BSN in the id or subject, a key not the subject, an extension: the key and headers are not written again."""
    dead = replace(letter(), errors=(ErrorDetail(path, code, "x"), *letter().errors))
    [item] = plan_replays([listed(dead)], max_replays=3, replayed={}, skip_replayed=False)
    assert item.refused == (
        "its id, subject, key or extensions broke the contract: the partner must send it "
        "again with a new envelope"
    )


@pytest.mark.parametrize(
    "copy",
    [
        RecordCopy(key=b"REF-999900018", headers=(), value=b"{}"),
        RecordCopy(key=None, headers=(("ce_subject", b"REF-999900018"),), value=b"{}"),
    ],
)
def test_a_copy_with_a_bsn_in_its_key_or_subject_is_never_replayed_whatever_its_errors(
    copy: RecordCopy,
) -> None:
    """A dead letter that names only MALFORMED_JSON (an earlier version's) still does not write a BSN key again."""
    dead = replace(
        letter(), errors=(ErrorDetail("data", ErrorCode.MALFORMED_JSON, "x"),), record=copy
    )
    [item] = plan_replays([listed(dead)], max_replays=3, replayed={}, skip_replayed=False)
    assert item.refused is not None


def test_an_operation_record_round_trips() -> None:
    """The operators' log value reads back into the same record."""
    record = _replayed_by("dl-0-1")
    value = record.to_json()
    read = OperationRecord.from_json(value)
    assert read is not None
    assert read.operation_id == json.loads(value)["operation_id"]
    assert (read.action, read.operator, read.deadletter_id, read.replay_count) == (
        Action.REPLAYED,
        "ops-anna",
        "dl-0-1",
        1,
    )
    assert OperationRecord.from_json(b"{}") is None
    assert OperationRecord.from_json(b"\xff") is None


def test_the_operator_is_a_token_from_the_option_the_environment_or_the_login(
    monkeypatch: Any,
) -> None:
    """``--operator`` wins over ``HUB_OPERATOR``; a name that is not a short token is refused (None)."""
    monkeypatch.setenv("HUB_OPERATOR", "ops-env")
    assert operator_name("ops-anna") == "ops-anna"
    assert operator_name(None) == "ops-env"
    assert operator_name("Anna de Vries") is None
    assert operator_name("x" * 65) is None


def test_a_copy_is_base64_in_the_value_and_none_when_not_kept() -> None:
    """The listing says whether a copy was kept (replay then needs no origin)."""
    assert listed(letter(copy=False)).summary()["copy"] is False
    value = json.loads(letter().to_json())
    assert base64.b64decode(value["record"]["key"]) == b"k"


def test_dead_letters_of_one_millisecond_sort_by_their_place_not_their_id_text() -> None:
    """dl-3-9 comes before dl-3-42 when both were written in the same millisecond."""
    at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    ids = ["dl-3-42", "dl-3-9", "dl-2-100", "dl-3-10"]
    assert sorted(ids, key=lambda i: written_order(at, i)) == [
        "dl-2-100",
        "dl-3-9",
        "dl-3-10",
        "dl-3-42",
    ]
