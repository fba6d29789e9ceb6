"""Pull delivery: a partner reads its own deliveries over HTTPS, a page at a time.

``GET /deliveries?after=<cursor>&limit=N`` on the gateway (docs/deliveries.md)
answers with the next deliveries of the calling partner's stream (its deliveries
topic, committed records only) as a CloudEvents batch, and the cursor to ask with next.
A partner registered with ``delivery: {kind: pull}`` takes its deliveries only this way;
every other partner may pull its own stream too, e.g. to catch up after its webhook
endpoint was down (it gets the same ids and sequences as by webhook, and dedupes by id).

The cursor is opaque to partners: base64url (no padding) of
``3.<partition>:<offset>[:<back>:<tag>],....<CRC-32 of the rest>``: per partition the
offset after the last delivery returned and, once one was, how far before it that
delivery lies (the anchor) with a CRC-32 of its id (the tag). The next pull reads the
anchored records first, in a fetch of their own, and checks that each is still the one
the cursor was given after: a stream an operator deleted and recreated, refilled past the
old offset, holds other deliveries there, and the cursor is 410 instead of reading on
from the middle.
(``2.`` cursors, without anchors, and ``1.``, without the check, are still read.) It
holds offsets and 32-bit tags only, nothing about a resident, so it may be logged and
kept by anyone. It is checked against the calling partner's own stream only, so another
partner's cursor reads nothing of that partner.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from hub.connectors.registry import Partner, PullDelivery
from hub.delivery.sequence import sequence
from hub.envelope import from_kafka
from hub.errors import HubError, InvalidEvent
from hub.kafka import OffsetsOutOfRange, Record, StreamPage, hub_group
from hub.observability.logging import get_logger
from hub.settings import KafkaSettings
from hub.topics import TopicLayout

__all__ = [
    "CURSOR_MAX_CHARS",
    "Anchor",
    "Cursor",
    "CursorExpired",
    "CursorInvalid",
    "PullDeliveries",
    "PulledPage",
    "Stream",
    "anchor_of",
    "decode_cursor",
    "encode_cursor",
    "pull_group",
]

CURSOR_MAX_CHARS: Final = 8192
"""Longest cursor read: 128 partitions with 19-digit offsets and their anchors fit (a
request line of about 8 KiB, within what HTTP servers and proxies take by default)."""

_VERSION: Final = "3"
"""``3.<body>.<crc32 of body, 8 hex>``; an entry of the body is ``<partition>:<offset>`` or
``<partition>:<offset>:<back>:<tag>``, the anchor ``back`` offsets before ``offset`` (1 or
2 digits, mostly). The check makes a cut-off or edited cursor one the hub did not write (a
prefix of a cursor could be a cursor of fewer partitions)."""
_UNANCHORED_VERSION: Final = "2"  # ``2.<body>.<check>`` with plain entries, as given out before
_UNCHECKED_VERSION: Final = "1"  # ``1.<body>``, as given out before that; still read
_CHECK: Final = re.compile(r"[0-9a-f]{8}")
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
_BODY: Final = re.compile(r"[0-9]{1,5}:[0-9]{1,19}(?:,[0-9]{1,5}:[0-9]{1,19})*")
_ANCHORED_BODY: Final = re.compile(
    r"[0-9]{1,5}:[0-9]{1,19}(?::[0-9]{1,19}:[0-9a-f]{8})?"
    r"(?:,[0-9]{1,5}:[0-9]{1,19}(?::[0-9]{1,19}:[0-9a-f]{8})?)*"
)
_MAX_OFFSET: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Anchor:
    """The last delivery a cursor was given in a partition: its offset and a tag of its id."""

    offset: int
    tag: str


@dataclass(frozen=True, slots=True)
class Cursor:
    """What a cursor holds: per partition the next offset, and the anchor below it if any."""

    positions: dict[int, int]
    anchors: dict[int, Anchor] = field(default_factory=dict)


class CursorInvalid(HubError):
    """The cursor is not one the hub wrote (garbage, truncated, edited)."""

    code = "CURSOR_INVALID"

    def __init__(self) -> None:
        super().__init__("the cursor is not one the hub wrote")


class CursorExpired(HubError):
    """The cursor points to deliveries the stream no longer holds (retention, or a reset stream).

    ``partitions`` are the partitions at fault, nothing else: no offsets, no ids.
    """

    code = "CURSOR_EXPIRED"

    def __init__(self, partner_id: str, partitions: list[int]) -> None:
        self.partner_id = partner_id
        self.partitions = partitions
        super().__init__(f"cursor of {partner_id} is out of its stream on partitions {partitions}")


def encode_cursor(
    positions: Mapping[int, int],
    anchors: Mapping[int, Anchor] | None = None,
    *,
    anchored: bool = True,
) -> str:
    """The opaque cursor for these next offsets per partition, with the anchors below them.

    ``anchored=False``: a version 2 cursor, without anchors, as gateways before version 3
    read them (``pull_anchored_cursors``, for a rolling upgrade).
    """
    if not anchored:
        return _encode(_UNANCHORED_VERSION, positions, {})
    return _encode(_VERSION, positions, anchors or {})


def _encode(version: str, positions: Mapping[int, int], anchors: Mapping[int, Anchor]) -> str:
    body = ",".join(
        f"{partition}:{offset}"
        + (
            f":{offset - anchor.offset}:{anchor.tag}"
            if (anchor := anchors.get(partition)) is not None
            else ""
        )
        for partition, offset in sorted(positions.items())
    )
    text = f"{version}.{body}" + (f".{_check(body)}" if version != _UNCHECKED_VERSION else "")
    return base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode("ascii")


def _check(body: str) -> str:
    return f"{zlib.crc32(body.encode('ascii')):08x}"


def anchor_of(record: Record) -> Anchor:
    """The anchor a page leaves at this record: its offset, a CRC-32 of its delivery id.

    The id is the ``ce_id`` header (the hub's id of that delivery, nothing of a resident);
    a record without one (not the router's) is tagged by its timestamp, never by its value,
    which may hold personal data a checksum would let anyone confirm.
    """
    ident = next((value for name, value in record.headers if name == "ce_id"), None)
    marked = ident if ident is not None else str(record.timestamp).encode()
    return Anchor(record.offset, f"{zlib.crc32(marked):08x}")


def decode_cursor(cursor: str) -> Cursor:
    """What a cursor from ``encode_cursor`` holds; CursorInvalid for anything else."""
    if not 0 < len(cursor) <= CURSOR_MAX_CHARS or _BASE64URL.fullmatch(cursor) is None:
        raise CursorInvalid
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise CursorInvalid from None
    version, _, body = text.partition(".")
    if version in (_VERSION, _UNANCHORED_VERSION):
        body, _, check = body.rpartition(".")
        if _CHECK.fullmatch(check) is None or check != _check(body):
            raise CursorInvalid
    elif version != _UNCHECKED_VERSION:
        raise CursorInvalid
    if (_ANCHORED_BODY if version == _VERSION else _BODY).fullmatch(body) is None:
        raise CursorInvalid
    positions: dict[int, int] = {}
    anchors: dict[int, Anchor] = {}
    for entry in body.split(","):
        partition_text, offset_text, *anchor_parts = entry.split(":")
        partition, offset = int(partition_text), int(offset_text)
        if partition in positions or offset > _MAX_OFFSET:
            raise CursorInvalid
        positions[partition] = offset
        if anchor_parts:
            back = int(anchor_parts[0])
            if not 0 < back <= offset:  # an anchor is a delivery before the next offset
                raise CursorInvalid
            anchors[partition] = Anchor(offset - back, anchor_parts[1])
    if _encode(version, positions, anchors) != cursor:  # one spelling: no leading zeros, sorted
        raise CursorInvalid
    return Cursor(positions, anchors)


class Stream(Protocol):
    """Where pages of a topic come from: ``hub.kafka.StreamReader``, or a test's stand-in."""

    async def read(
        self,
        topic: str,
        after: Mapping[int, int] | None,
        *,
        max_records: int,
        wait_seconds: float,
        anchors: Mapping[int, int] | None = None,
    ) -> StreamPage:
        """Committed records from ``after``, anchors handed back (see ``StreamReader.read``)."""
        ...


@dataclass(frozen=True, slots=True)
class PulledPage:
    """One answer to a pull: the deliveries as a CloudEvents batch (JSON), and the next cursor."""

    body: bytes
    count: int
    cursor: str


def pull_group(kafka: KafkaSettings, partner_id: str) -> str:
    """The group whose offsets record how far a pull partner has read: ``<prefix>.<group id>.pull.<partner>``."""
    return hub_group(kafka, "pull", partner_id)


Taken = Callable[[Partner, str, Mapping[int, int]], None]
"""Told, for a partner, its deliveries topic and the positions before which it has taken everything."""


class PullDeliveries:
    """Pages of a partner's own deliveries, each with its ``sequence``, from a cursor.

    ``taken`` is told each cursor a ``delivery: pull`` partner comes back with: it has
    taken everything before it (the gateway commits that as the partner's group's offsets,
    for the backlog metrics; docs/operations.md).
    """

    def __init__(
        self,
        stream: Stream,
        layout: TopicLayout,
        *,
        wait_seconds: float,
        taken: Taken | None = None,
        anchored: bool = True,
    ) -> None:
        self._stream = stream
        self._layout = layout
        self._wait_seconds = wait_seconds
        self._taken = taken
        self._anchored = anchored

    async def page(self, partner: Partner, cursor: str | None, limit: int) -> PulledPage:
        """Up to ``limit`` deliveries of ``partner`` after ``cursor`` (None: the oldest retained).

        Raises CursorInvalid for a cursor the hub did not write, CursorExpired for one
        past the stream's retention or whose anchored deliveries the stream no longer
        holds where they were (a reset stream), and Kafka's errors when the broker
        cannot serve. An empty page means nothing newer was there within the wait.
        """
        given = None if cursor is None else decode_cursor(cursor)
        after = None if given is None else given.positions
        anchors = {} if given is None else given.anchors
        topic = self._layout.deliveries(partner)
        try:
            page = await self._stream.read(
                topic,
                after,
                max_records=limit,
                wait_seconds=self._wait_seconds,
                anchors={partition: anchor.offset for partition, anchor in anchors.items()},
            )
        except OffsetsOutOfRange as exc:
            raise CursorExpired(partner.id, [*exc.expired, *exc.unknown]) from None
        moved = _moved(page, anchors)
        if moved:
            raise CursorExpired(partner.id, moved)
        # Decoding and encoding up to a page's bytes of JSON is CPU work: off the event loop,
        # so that other requests are served meanwhile.
        body, count = await asyncio.to_thread(_batch, page.records, partner)
        if (
            after is not None
            and self._taken is not None
            and isinstance(partner.delivery, PullDelivery)
        ):
            self._taken(partner, topic, after)
        following = encode_cursor(
            page.positions, _next_anchors(page, anchors), anchored=self._anchored
        )
        return PulledPage(body, count, following)


def _moved(page: StreamPage, anchors: Mapping[int, Anchor]) -> list[int]:
    """The partitions whose anchored delivery is not where the cursor had it.

    A partition read from its anchor shows the record there, which must be the anchored
    one (same offset, same tag); a different record, or none before the cursor's offset,
    means the stream is not the one the cursor was given from. A partition with nothing
    fetched this time, or whose anchor retention took (read unchecked), is not judged.
    """
    moved = []
    for partition, anchor in anchors.items():
        if partition not in page.anchors:
            continue
        found = page.anchors[partition]
        if found is None or anchor_of(found) != anchor:
            moved.append(partition)
    return sorted(moved)


def _next_anchors(page: StreamPage, anchors: Mapping[int, Anchor]) -> dict[int, Anchor]:
    """Per partition the last delivery of this page, else the anchor the cursor had."""
    following = dict(anchors)
    for record in page.records:  # in offset order per partition: the last one stays
        following[record.partition] = anchor_of(record)
    return {p: a for p, a in following.items() if a.offset < page.positions.get(p, 0)}


def _batch(records: list[Record], partner: Partner) -> tuple[bytes, int]:
    """The records as a structured-mode batch (JSON array), and how many it holds."""
    events = [event for record in records if (event := _event(record, partner))]
    try:
        return _json(events), len(events)
    except UnicodeEncodeError:
        # A lone surrogate (JSON "\ud800") decodes but has no UTF-8: a record the router
        # never writes (it refuses such data). Skipped as an unreadable one is, else every
        # pull from this cursor would fail and the partner could never get past it.
        kept = [event for event in events if _encodes(event)]
        get_logger().warning(
            "pull_record_skipped", partner=partner.id, count=len(events) - len(kept)
        )
        return _json(kept), len(kept)


def _json(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode()


def _encodes(event: dict[str, Any]) -> bool:
    try:
        _json([event])
    except UnicodeEncodeError:
        return False
    return True


def _event(record: Record, partner: Partner) -> dict[str, Any] | None:
    """A delivery record as a structured-mode CloudEvent with its sequence; None if unreadable."""
    try:
        event = from_kafka(record.key, record.headers, record.value, text_data=True)
    except (InvalidEvent, ValueError):
        event = {}
    if not isinstance(event.get("id"), str):
        # Not written by the hub's router; a webhook partner's deliverer would park it.
        # Skipped, so that it does not stop the stream; the cursor moves past it.
        get_logger().warning(
            "pull_record_skipped",
            partner=partner.id,
            partition=record.partition,
            offset=record.offset,
        )
        return None
    event["sequence"] = sequence(record.partition, record.offset)
    return event
