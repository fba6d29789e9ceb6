"""A partner's record the Kafka client cannot unpack is dead-lettered by its place; nothing stops.

A header name that is not UTF-8 (the protocol allows any bytes) raised out of the
client's fetch on every attempt: `hub run` exited, and died again at every start, with
every partner's messages behind it. Written here with the client's own pure-Python batch
builder, which writes a header name's bytes as it is given them.
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.producer import message_accumulator
from aiokafka.producer import producer as producer_module
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from hub.dev.partner_io import binary_mode
from hub.errors import ErrorCode
from hub.kafka.clients import client_options
from hub.records import DeadLetter, StatusRecord
from hub.testing import make_event

from .hubtest import hub_cli, isolated_settings, running_hub


class _BadName(str):
    """A header name whose bytes are not UTF-8."""

    __slots__ = ()

    def encode(self, *_: object, **__: object) -> bytes:  # type: ignore[override]
        return b"x-\xff\xfe-name"


def _referral(ref: str, source: str = "urn:nld:agb:01234567") -> dict[str, object]:
    event = make_event("referrals.submitted", envelope={"subject": ref}, referral_id=ref)
    assert event["source"] == source
    return event


async def test_an_unreadable_record_is_dead_lettered_and_the_others_go_on(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    for module in (message_accumulator, producer_module):
        monkeypatch.setattr(module, "DefaultRecordBatchBuilder", _DefaultRecordBatchBuilderPy)
    before, after = _referral("REF-before"), _referral("REF-after")
    async with running_hub(settings) as hub:
        topic = hub.layout.inbound("gp-de-linde")
        # In one batch (sent without waiting, then flushed): the records beside the bad one
        # are read alone and routed.
        writer = AIOKafkaProducer(**client_options(settings.kafka), linger_ms=200)
        await writer.start()
        try:
            sending = []
            for event, extra in (
                (before, []),
                (_referral("REF-unreadable"), [(_BadName("x"), b"1")]),
                (after, []),
            ):
                key, headers, value = binary_mode(event)
                sending.append(
                    await writer.send(topic, value=value, key=key, headers=[*headers, *extra])
                )
            first, bad, last = [await sent for sent in sending]
        finally:
            await writer.stop()
        assert (bad.offset, last.offset) == (first.offset + 1, first.offset + 2)
        await hub.wait_for_status([before, after])
        statuses = await hub.settle([hub.layout.status], idle_seconds=1)
        letters = await hub.settle([hub.layout.deadletter], idle_seconds=1)
        ident = f"dl-{letters[0].partition}-{letters[0].offset}"
        code, _, err = await hub_cli(
            settings, "dlq", "show", ident, "--with-personal-data", "--operator", "ops-anna"
        )
    assert code == 1  # nothing to show, and no traceback
    assert "RECORD_UNREADABLE" in err
    assert "Traceback" not in err
    assert [StatusRecord.from_json(r.value or b"").status for r in statuses] == ["delivered"] * 2
    [letter] = [DeadLetter.from_json(r.value or b"") for r in letters]
    assert letter is not None
    assert [e.code for e in letter.errors] == [ErrorCode.RECORD_UNREADABLE]
    assert (letter.topic, letter.partition, letter.offset) == (topic, bad.partition, bad.offset)
    assert letter.record is None  # by its place: there are no bytes the hub could read
