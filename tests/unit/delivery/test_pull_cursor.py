"""The pull cursor: offsets (and anchors) per partition, opaque, read back exactly, garbage refused."""

from __future__ import annotations

import base64
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.delivery.pull import (
    CURSOR_MAX_CHARS,
    Anchor,
    Cursor,
    CursorInvalid,
    anchor_of,
    decode_cursor,
    encode_cursor,
)

POSITIONS = st.dictionaries(
    st.integers(min_value=0, max_value=99_999),
    st.integers(min_value=0, max_value=2**63 - 1),
    max_size=64,
)


def _wrap(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_a_cursor_is_base64url_of_versioned_offsets_and_their_check() -> None:
    """{0: 12, 3: 4} is the base64url (no padding) of "3.0:12,3:4.<crc32 of 0:12,3:4>"."""
    cursor = encode_cursor({3: 4, 0: 12})
    assert cursor == _wrap(f"3.0:12,3:4.{zlib.crc32(b'0:12,3:4'):08x}")
    assert decode_cursor(cursor) == Cursor({0: 12, 3: 4})


def test_an_anchor_follows_its_partitions_offset() -> None:
    """Partition 0 next at 12, its last delivery at 10 tagged 0a1b2c3d: "0:12:2:0a1b2c3d" (2 back)."""
    anchors = {0: Anchor(10, "0a1b2c3d")}
    cursor = encode_cursor({3: 4, 0: 12}, anchors)
    body = "0:12:2:0a1b2c3d,3:4"
    assert cursor == _wrap(f"3.{body}.{zlib.crc32(body.encode()):08x}")
    assert decode_cursor(cursor) == Cursor({0: 12, 3: 4}, anchors)


def test_an_unanchored_cursor_is_version_2_as_gateways_before_read_it() -> None:
    """For a rolling upgrade (pull_anchored_cursors false): "2.0:12,3:4.<check>", anchors left out."""
    cursor = encode_cursor({3: 4, 0: 12}, {0: Anchor(10, "0a1b2c3d")}, anchored=False)
    assert cursor == _wrap(f"2.0:12,3:4.{zlib.crc32(b'0:12,3:4'):08x}")


def test_a_cursor_of_128_partitions_with_the_longest_offsets_is_read() -> None:
    """Every partition anchored, every offset 19 digits: still within CURSOR_MAX_CHARS."""
    top = 2**63 - 1
    positions = dict.fromkeys(range(128), top)
    anchors = dict.fromkeys(range(128), Anchor(top - 99, "ffffffff"))
    cursor = encode_cursor(positions, anchors)
    assert len(cursor) <= CURSOR_MAX_CHARS
    assert decode_cursor(cursor) == Cursor(positions, anchors)


def test_cursors_given_out_before_are_still_read() -> None:
    """Version 2 (checked, no anchors) and version 1 (no check) links partners hold keep working."""
    body = "0:12,3:4"
    assert decode_cursor(_wrap(f"2.{body}.{zlib.crc32(body.encode()):08x}")) == Cursor(
        {0: 12, 3: 4}
    )
    assert decode_cursor(_wrap("1.0:12,3:4")) == Cursor({0: 12, 3: 4})


def test_an_anchor_at_or_past_its_offset_or_in_an_old_version_is_refused() -> None:
    """An anchor is a delivery before the next offset, and only version 3 has anchors."""
    for version, body in [
        ("3", "0:12:0:0a1b2c3d"),  # 0 back: the next offset itself
        ("3", "0:12:13:0a1b2c3d"),  # before offset 0
        ("2", "0:12:2:0a1b2c3d"),
    ]:
        with pytest.raises(CursorInvalid):
            decode_cursor(_wrap(f"{version}.{body}.{zlib.crc32(body.encode()):08x}"))


@given(POSITIONS.filter(bool), st.data())
def test_a_cut_off_or_edited_cursor_is_refused(
    positions: dict[int, int], data: st.DataObject
) -> None:
    """Any shorter prefix, or one character changed, is not a cursor the hub wrote."""
    cursor = encode_cursor(positions)
    cut = data.draw(st.integers(min_value=1, max_value=len(cursor) - 1))
    with pytest.raises(CursorInvalid):
        decode_cursor(cursor[:cut])
    at = data.draw(st.integers(min_value=0, max_value=len(cursor) - 1))
    other = data.draw(st.sampled_from([c for c in "AQgw_-09az" if c != cursor[at]]))
    edited = cursor[:at] + other + cursor[at + 1 :]
    try:
        decode_cursor(edited)
    except CursorInvalid:
        return
    raise AssertionError("an edited cursor was read")


@given(POSITIONS)
def test_every_cursor_reads_back_as_its_offsets(positions: dict[int, int]) -> None:
    """decode(encode(p)) == p, and the cursor is URL-safe as it is."""
    cursor = encode_cursor(positions)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    if positions:
        assert decode_cursor(cursor) == Cursor(positions)


@pytest.mark.parametrize(
    "cursor",
    [
        "",  # nothing
        "not a cursor",  # outside base64url
        "MS4wOjEy=",  # padded
        "MS4wOjEy\n",
        "%2F",
        "A",  # not base64 of anything
        "_-_-",  # base64 of bytes that are not ASCII
        _wrap("4.0:12"),  # another version
        _wrap("3.0:12"),  # no check
        _wrap("2.0:12"),  # no check
        _wrap("2.0:12.00000000"),  # a wrong check
        _wrap("1."),  # no offsets
        _wrap("1.0:12,"),
        _wrap("1.0=12"),
        _wrap("1.0:-1"),
        _wrap("1.0:12,0:13"),  # a partition twice
        _wrap("1.3:4,0:12"),  # not sorted: not as the hub writes it
        _wrap("1.0:012"),  # leading zero
        _wrap("1.0:9223372036854775808"),  # past a Kafka offset
        _wrap("1.123456:1"),  # partition too long
        _wrap("1.0:12 "),
        _wrap("1.٣:4"),  # a digit, but not an ASCII one
        "A" * (CURSOR_MAX_CHARS + 1),
    ],
)
def test_anything_but_a_cursor_the_hub_wrote_is_refused(cursor: str) -> None:
    """Garbage, truncated, edited or oversized cursors raise CursorInvalid, never another error."""
    with pytest.raises(CursorInvalid):
        decode_cursor(cursor)


@given(st.text(max_size=200))
def test_arbitrary_text_is_a_cursor_or_refused(text: str) -> None:
    """No input makes decoding fail otherwise than with CursorInvalid."""
    try:
        cursor = decode_cursor(text)
    except CursorInvalid:
        return
    assert encode_cursor(cursor.positions, cursor.anchors) == text


def test_an_anchor_tag_is_of_the_delivery_id_never_of_the_value() -> None:
    """A record without ce_id (not the router's) is tagged by its timestamp: a tag of its value would confirm guesses."""
    from aiokafka.structs import ConsumerRecord

    def record(headers: list[tuple[str, bytes]], value: bytes) -> ConsumerRecord[bytes, bytes]:
        return ConsumerRecord("t", 0, 7, 1_700_000_000_000, 0, b"k", value, None, 0, 0, headers)

    with_id = anchor_of(record([("ce_id", b"d-1")], b'{"bsn":"999900018"}'))
    assert with_id == Anchor(7, f"{zlib.crc32(b'd-1'):08x}")
    without = anchor_of(record([], b"999900018"))
    assert without.tag != f"{zlib.crc32(b'999900018'):08x}"
    assert without == anchor_of(record([], b"another value"))  # the value plays no part
