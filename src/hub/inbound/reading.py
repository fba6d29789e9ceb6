"""What an inbound adapter gives back, and the two kinds of adapter: one per wire format.

An adapter reads one message as it arrived (an HTTP request's headers and body, or a
Kafka record's key, headers and value) and gives the structured-mode dict that
``hub.schemas.validate_event`` checks, one ``Reading`` per event. It checks only what
the wire format decides (is the body JSON, are the headers UTF-8, is the key the
subject); the contract itself is the schemas' part, the same for every format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hub.errors import ErrorDetail

__all__ = ["HttpAdapter", "HttpMessage", "KafkaAdapter", "KafkaMessage", "Reading"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One event as an adapter read it: the structured-mode dict, or why it could not be read.

    Exactly one of ``event`` and ``errors`` is set. ``event_id`` is set only on an
    unreadable event whose id could still be read and is one the hub may repeat
    (``hub.envelope.is_event_id``), so that its sender can look up why it was refused.
    The source is never taken from an unreadable message: the hub reports the sender's
    registered source (the authenticated partner, or the owner of the inbound topic).
    """

    event: dict[str, Any] | None = None
    errors: tuple[ErrorDetail, ...] = ()
    event_id: str | None = None

    @classmethod
    def unreadable(cls, errors: Sequence[ErrorDetail], event_id: str | None = None) -> Reading:
        """An event that could not be read; ``event_id`` must already be a reportable id."""
        return cls(errors=tuple(errors), event_id=event_id)


@dataclass(frozen=True, slots=True)
class HttpMessage:
    """An HTTP request as an adapter sees it: its headers (names lower-case, repeats kept) and body.

    ``accepts`` sees it before the body is read (``body`` is then empty), so that an
    unsupported media type is refused without reading anything.
    """

    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header (``name`` in lower case), None when absent."""
        return next((value for key, value in self.headers if key == name), None)


class HttpAdapter(Protocol):
    """Reads the requests of one HTTP content mode (or one partner format) into events."""

    @property
    def many(self) -> bool:
        """True when a request holds several events and is answered per event (207)."""
        ...

    def accepts(self, message: HttpMessage) -> bool:
        """Whether this adapter reads this request, from its headers alone."""
        ...

    def read(self, message: HttpMessage) -> list[Reading]:
        """The events of the request, in order; raises InvalidEvent when the body as a whole is unusable.

        A body that is not the format at all (not JSON) raises with MALFORMED_JSON, answered
        400; any other whole-body error (a batch that is not an array) is answered 422.
        """
        ...


class KafkaMessage(Protocol):
    """A Kafka record as an adapter sees it (``hub.pipeline.InboundRecord`` is one)."""

    @property
    def key(self) -> bytes | None:
        """The record's key."""
        ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]:
        """The record's headers, in order."""
        ...

    @property
    def value(self) -> bytes | None:
        """The record's value."""
        ...


class KafkaAdapter(Protocol):
    """Reads the records of one Kafka content mode (or one partner format) into an event each."""

    def accepts(self, headers: Sequence[tuple[str, bytes]]) -> bool:
        """Whether this adapter reads a record with these headers (its ``content-type``, mostly)."""
        ...

    def read(self, record: KafkaMessage) -> Reading:
        """The record's event, or why it cannot be read; never raises for any input."""
        ...

    def identify(self, record: KafkaMessage) -> str | None:
        """The id the record names where the hub may report it, read without its value.

        For records refused unread (too large) or whose output Kafka refused.
        """
        ...

    def stored_headers(self, record: KafkaMessage) -> tuple[tuple[str, bytes], ...] | None:
        """The headers a dead letter keeps with its copy of the record; None: keep no copy.

        Only the headers the adapter reads (a replay reads the copy the same way); any
        other header is not the hub's to keep. None when the record holds what the hub never stores (``tracestate``,
        ``partitionkey``) where it cannot be left out; the dead letter then refers to the
        record on its inbound topic, which has the same retention.
        """
        ...
