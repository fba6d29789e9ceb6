"""Replay sends each subject's parked records in their order, also when one was parked again after later ones."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from hub.delivery.channel import REPLAY_PARKED_HEADER
from hub.delivery.parking import _replay_partition
from hub.delivery.sequence import SEQUENCE_HEADER, sequence

TP = TopicPartition("t.parked.p", 0)


def parked(offset: int, subject: bytes, seq: int, *, by_replay: bool = False) -> Any:
    """A parked copy: its subject, its original's sequence, and whether replay parked it again."""
    headers = [(SEQUENCE_HEADER, sequence(0, seq).encode())]
    if by_replay:
        headers.append((REPLAY_PARKED_HEADER, b"1"))
    return SimpleNamespace(
        topic=TP.topic, partition=0, offset=offset, key=subject, value=b"{}", headers=headers
    )


class FakeReader:
    """A consumer of one partition: records at increasing offsets (gaps are markers)."""

    def __init__(self, records: list[Any], committed: int, end: int) -> None:
        self.records, self.position_, self.end = records, committed, end
        self.commits: list[int] = []

    async def position(self, _tp: TopicPartition) -> int:
        return self.position_

    async def getmany(self, tp: TopicPartition, timeout_ms: int = 0) -> dict[Any, list[Any]]:
        batch = [r for r in self.records if r.offset >= self.position_][:2]
        self.position_ = batch[-1].offset + 1 if batch else self.end
        return {tp: batch}

    def seek(self, _tp: TopicPartition, offset: int) -> None:
        self.position_ = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets[TP])


async def replayed(records: list[Any], committed: int, end: int) -> tuple[list[int], list[int]]:
    """The offsets sent, in order, and the offsets committed."""
    reader = FakeReader(records, committed, end)
    sent: list[int] = []

    async def send(record: Any) -> None:
        sent.append(record.offset)

    await _replay_partition(reader, TP, end, send)  # type: ignore[arg-type]
    return sent, reader.commits


async def test_a_copy_replay_parked_again_is_sent_before_the_later_record_parked_meanwhile() -> (
    None
):
    """[A @0 (taken), B @1, A again @2]: A then B, and the commit reaches the range's end."""
    records = [parked(0, b"S", 0), parked(1, b"S", 1), parked(2, b"S", 0, by_replay=True)]
    sent, commits = await replayed(records, committed=1, end=3)
    assert sent == [2, 1]
    assert commits[-1] == 3
    assert all(c <= 1 for c in commits[:-1])  # never past B while it was held back


async def test_other_subjects_go_on_and_the_commit_waits_for_the_held_record() -> None:
    records = [parked(10, b"K", 5), parked(11, b"L", 7), parked(12, b"K", 4, by_replay=True)]
    sent, commits = await replayed(records, committed=10, end=13)
    assert sent == [11, 12, 10]
    assert commits == [10, 10, 13]


async def test_a_sequence_twice_in_the_range_is_sent_twice_in_order() -> None:
    """The old copy not yet committed and the new one: both, then the later record."""
    records = [
        parked(0, b"K", 0),
        parked(1, b"K", 1),
        parked(3, b"L", 9),
        parked(5, b"K", 0, by_replay=True),
    ]
    sent, commits = await replayed(records, committed=0, end=6)
    assert sent == [0, 3, 5, 1]
    assert commits[-1] == 6


async def test_without_a_copy_replay_parked_again_offset_order_is_kept() -> None:
    """Sequences are no release order across a reset stream: the deliverer's copies stay in offset order."""
    records = [parked(0, b"S", 1000), parked(1, b"S", 5)]
    sent, commits = await replayed(records, committed=0, end=2)
    assert sent == [0, 1]
    assert commits == [1, 2]
