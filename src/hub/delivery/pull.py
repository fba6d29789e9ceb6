"""Pull delivery: a partner reads its own deliveries over HTTPS, a page at a time.

``GET /deliveries?after=<cursor>&limit=N`` on the gateway (docs/deliveries.md)
answers with the next deliveries of the calling partner's stream (its deliveries
topic, committed records only) as a CloudEvents batch, and the cursor to ask with next.
A partner registered with ``delivery: {kind: pull}`` takes its deliveries only this way;
every other partner may pull its own stream too, e.g. to catch up after its webhook
endpoint was down (it gets the same ids and sequences as by webhook, and dedupes by id).

The cursor is opaque to partners: base64url (no padding) of
``2.<partition>:<offset>,....<CRC-32 of the offsets>`` (``1.`` without the check before),
the offset after the last delivery returned, per partition. It holds offsets only, no
ids and nothing about a resident, so it may be logged and kept by anyone. It is checked
against the calling partner's own stream only, so another partner's cursor reads
nothing of that partner.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    "CursorExpired",
    "CursorInvalid",
    "PullDeliveries",
    "PulledPage",
    "Stream",
    "decode_cursor",
    "encode_cursor",
    "pull_group",
]

CURSOR_MAX_CHARS: Final = 2048
"""Longest cursor read; ~100 partitions' offsets fit in a fifth of it."""

_VERSION: Final = "2"
"""``2.<body>.<crc32 of body, 8 hex>``: the check makes a cut-off or edited cursor one the hub
did not write (a prefix of a version 1 cursor could be a cursor of fewer partitions)."""
_UNCHECKED_VERSION: Final = "1"  # ``1.<body>``, as given out before; still read
_CHECK: Final = re.compile(r"[0-9a-f]{8}")
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
_BODY: Final = re.compile(r"[0-9]{1,5}:[0-9]{1,19}(?:,[0-9]{1,5}:[0-9]{1,19})*")
_MAX_OFFSET: Final = 2**63 - 1


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


def encode_cursor(positions: Mapping[int, int]) -> str:
    """The opaque cursor for these next offsets per partition."""
    return _encode(_VERSION, positions)


def _encode(version: str, positions: Mapping[int, int]) -> str:
    body = ",".join(f"{partition}:{offset}" for partition, offset in sorted(positions.items()))
    text = f"{version}.{body}" + (f".{_check(body)}" if version == _VERSION else "")
    return base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode("ascii")


def _check(body: str) -> str:
    return f"{zlib.crc32(body.encode('ascii')):08x}"


def decode_cursor(cursor: str) -> dict[int, int]:
    """The next offsets per partition of a cursor from ``encode_cursor``; CursorInvalid for anything else."""
    if not 0 < len(cursor) <= CURSOR_MAX_CHARS or _BASE64URL.fullmatch(cursor) is None:
        raise CursorInvalid
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise CursorInvalid from None
    version, _, body = text.partition(".")
    if version == _VERSION:
        body, _, check = body.rpartition(".")
        if _CHECK.fullmatch(check) is None or check != _check(body):
            raise CursorInvalid
    elif version != _UNCHECKED_VERSION:
        raise CursorInvalid
    if _BODY.fullmatch(body) is None:
        raise CursorInvalid
    positions: dict[int, int] = {}
    for pair in body.split(","):
        partition, offset = (int(part) for part in pair.split(":"))
        if partition in positions or offset > _MAX_OFFSET:
            raise CursorInvalid
        positions[partition] = offset
    if _encode(version, positions) != cursor:  # one spelling per cursor: no leading zeros, sorted
        raise CursorInvalid
    return positions


class Stream(Protocol):
    """Where pages of a topic come from: ``hub.kafka.StreamReader``, or a test's stand-in."""

    async def read(
        self,
        topic: str,
        after: Mapping[int, int] | None,
        *,
        max_records: int,
        wait_seconds: float,
    ) -> StreamPage:
        """Committed records from ``after`` (see ``StreamReader.read``)."""
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
    ) -> None:
        self._stream = stream
        self._layout = layout
        self._wait_seconds = wait_seconds
        self._taken = taken

    async def page(self, partner: Partner, cursor: str | None, limit: int) -> PulledPage:
        """Up to ``limit`` deliveries of ``partner`` after ``cursor`` (None: the oldest retained).

        Raises CursorInvalid for a cursor the hub did not write, CursorExpired for one
        past the stream's retention, and Kafka's errors when the broker cannot serve.
        An empty page means nothing newer was there within the wait.
        """
        after = None if cursor is None else decode_cursor(cursor)
        try:
            page = await self._stream.read(
                self._layout.deliveries(partner),
                after,
                max_records=limit,
                wait_seconds=self._wait_seconds,
            )
        except OffsetsOutOfRange as exc:
            raise CursorExpired(partner.id, [*exc.expired, *exc.unknown]) from None
        # Decoding and encoding up to a page's bytes of JSON is CPU work: off the event loop,
        # so that other requests are served meanwhile.
        body, count = await asyncio.to_thread(_batch, page.records, partner)
        if (
            after is not None
            and self._taken is not None
            and isinstance(partner.delivery, PullDelivery)
        ):
            self._taken(partner, self._layout.deliveries(partner), after)
        return PulledPage(body, count, encode_cursor(page.positions))


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
