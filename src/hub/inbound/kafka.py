"""The Kafka adapters: binary mode (``ce_*`` headers, data as the value) and structured mode.

The record's ``content-type`` header chooses, as the CloudEvents Kafka binding says: a
value starting with ``application/cloudevents`` is structured mode (the whole event in
the value), anything else binary mode, except that a record without any ``ce_*`` header
is structured mode too (see ``KafkaStructured``). The key, when there is one, must equal
the subject in both. In structured mode the value holds every attribute, and a ``ce_*``
header beside it is rejected (EXTENSION_NOT_ALLOWED at ``headers.<name>``): the binding
and the CNCF SDKs ignore one, but the contract accepts no attribute outside its list and
no personal data in Kafka headers.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Sequence
from typing import Any, Final

from hub.envelope import ATTRIBUTES, from_kafka, is_event_id, path_key
from hub.errors import ErrorCode, ErrorDetail, InvalidEvent
from hub.inbound._text import NOT_JSON, media_type, strict_json
from hub.inbound.reading import KafkaAdapter, KafkaMessage, Reading

__all__ = [
    "KAFKA_ADAPTERS",
    "STRUCTURED_CONTENT_TYPE",
    "UNREAD_BYTES",
    "KafkaBinary",
    "KafkaStructured",
    "choose_kafka",
]

STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json"
UNREAD_BYTES: Final = 1024 * 1024
"""A record larger than this is refused unread (EVENT_TOO_LARGE), its event never parsed.

Kafka's default ``message.max.bytes`` (1 MiB): the broker's own record limit, so only a
topic configured beyond the default brings one. Below it the record is read and the
event measured as the gateway measures it (its compact JSON, messages.md "Size"), since
a value written with ``\\uXXXX`` escapes (as the CNCF SDK writes non-ASCII) can be three
times its event's size.
"""
_ID_SCAN_BYTES: Final = 16 * 1024
"""How much of a structured value refused unread is scanned for the event's ``id``."""

_CONTENT_TYPE: Final = "content-type"
_CE_PREFIX: Final = "ce_"
_CLOUDEVENTS_PREFIX: Final = b"application/cloudevents"
# Attributes that never leave the record they came in: vendor trace data the hub cannot
# vet, and the partition key that only repeats the subject (messages.md, "Envelope").
_NEVER_STORED_ATTRIBUTES: Final = ("tracestate", "partitionkey")
# What a dead letter's copy keeps of a binary record's headers: those the hub reads, the
# attributes it accepts and the content-type. Any other header (a client library's plain
# tracestate, a partner's own x-client-bsn, a ce_data or an unknown ce_ header) is not the
# hub's to keep: no personal data in Kafka headers (privacy.md).
_STRUCTURED_HEADERS: Final = frozenset({_CONTENT_TYPE})
_STORED_BINARY_HEADERS: Final = frozenset(
    {_CONTENT_TYPE}
    | {_CE_PREFIX + name for name in ATTRIBUTES - {"data", *_NEVER_STORED_ATTRIBUTES}}
)


def choose_kafka(
    adapters: Sequence[KafkaAdapter], headers: Sequence[tuple[str, bytes]]
) -> KafkaAdapter | None:
    """The first adapter that reads a record with these headers, None when none does."""
    return next((adapter for adapter in adapters if adapter.accepts(headers)), None)


def _ce_id(record: KafkaMessage) -> str | None:
    """The record's single ``ce_id`` header where it is an id the hub may repeat."""
    values = [value for name, value in record.headers if name.lower() == "ce_id"]
    if len(values) != 1 or not isinstance(values[0], bytes):
        return None
    try:
        event_id = values[0].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return event_id if is_event_id(event_id) else None


def _only(record: KafkaMessage, names: frozenset[str]) -> tuple[tuple[str, bytes], ...]:
    """The record's headers (in order, repeats kept) whose lower-case name is one of ``names``."""
    return tuple((name, value) for name, value in record.headers if name.lower() in names)


class KafkaBinary:
    """Binary mode: attributes in ``ce_*`` headers, ``content-type`` as datacontenttype, data as the value.

    Reads every record whatever its content type (the binding's default mode), so it
    goes last among the adapters; an unsupported ``content-type`` is then the contract's
    CONTENT_TYPE_UNSUPPORTED at ``datacontenttype``. The codec is ``hub.envelope.from_kafka``.
    """

    def accepts(self, headers: Sequence[tuple[str, bytes]]) -> bool:
        """Every record: binary mode is what a record is unless it says otherwise."""
        return True

    def read(self, record: KafkaMessage) -> Reading:
        """The record's attributes and data as a structured-mode dict, or why they cannot be read."""
        try:
            return Reading(event=from_kafka(record.key, record.headers, record.value))
        except InvalidEvent as exc:
            return Reading.unreadable(exc.errors, self.identify(record))
        except ValueError:
            return Reading.unreadable(
                [
                    ErrorDetail(
                        "data",
                        ErrorCode.MALFORMED_JSON,
                        "The record is not a binary-mode CloudEvent with a JSON object value.",
                    )
                ],
                self.identify(record),
            )

    def identify(self, record: KafkaMessage) -> str | None:
        """The ``ce_id`` header, when it is one and a reportable id."""
        return _ce_id(record)

    def stored_headers(self, record: KafkaMessage) -> tuple[tuple[str, bytes], ...] | None:
        """The ``ce_*`` headers of the attributes the hub keeps, and ``content-type``; no other."""
        return _only(record, _STORED_BINARY_HEADERS)


class KafkaStructured:
    """Structured mode: the whole event, attributes and ``data``, as JSON in the value.

    Read for a ``content-type`` starting with ``application/cloudevents``, which must then
    be ``application/cloudevents+json`` (other event formats and batches are
    CONTENT_TYPE_UNSUPPORTED). Also read for a record without any ``ce_*`` header, as the
    CNCF SDKs' ``from_kafka`` does: such a record cannot be binary mode, and the SDK's
    older API writes structured mode so, its ``content-type`` being the event's
    ``datacontenttype``. The key, when there is one, must equal the subject, and no
    ``ce_*`` header may come with the value (EXTENSION_NOT_ALLOWED at ``headers.<name>``,
    the name shown only where it looks like a field name).
    """

    def accepts(self, headers: Sequence[tuple[str, bytes]]) -> bool:
        """A ``content-type`` starting with ``application/cloudevents``, or no ``ce_*`` header."""
        binary = False
        for name, value in headers:
            if len(name) == len(_CONTENT_TYPE) and name.lower() == _CONTENT_TYPE:
                if _is_cloudevents(value):
                    return True
            elif not binary and name[:3].lower() == _CE_PREFIX:
                binary = True
        return not binary

    def read(self, record: KafkaMessage) -> Reading:
        """The value as a structured-mode dict, or why it cannot be read (with its id where readable)."""
        value = record.value
        if value is None:
            return Reading.unreadable(
                [_error(ErrorCode.FIELD_REQUIRED, "The record has no value; it holds the event.")]
            )
        parsed = strict_json(value)
        event = parsed if isinstance(parsed, dict) else None
        event_id = _reportable_id(event)
        beside = [
            ErrorDetail(
                f"headers.{path_key(name)}",
                ErrorCode.EXTENSION_NOT_ALLOWED,
                "A structured-mode record holds every attribute in its value; "
                "no ce_ header may accompany it.",
            )
            for name, _ in record.headers
            if name[:3].lower() == _CE_PREFIX
        ]
        if beside:
            return Reading.unreadable(beside, event_id)
        content_types = [v for name, v in record.headers if name.lower() == _CONTENT_TYPE]
        if len(content_types) > 1:
            return Reading.unreadable(
                [
                    ErrorDetail(
                        "datacontenttype",
                        ErrorCode.ENVELOPE_INVALID,
                        "This header appears more than once.",
                    )
                ],
                event_id,
            )
        content_type = content_types[0] if content_types else None
        format_type = _is_cloudevents(content_type)
        if content_type is not None and format_type and not _is_structured_json(content_type):
            return Reading.unreadable(
                [
                    _error(
                        ErrorCode.CONTENT_TYPE_UNSUPPORTED,
                        "A structured-mode record is application/cloudevents+json in UTF-8, "
                        "one event per record.",
                    )
                ],
                event_id,
            )
        if parsed is NOT_JSON:
            return Reading.unreadable(
                [_error(ErrorCode.MALFORMED_JSON, "The record value is not valid UTF-8 JSON.")]
            )
        if event is None:
            return Reading.unreadable(
                [_error(ErrorCode.ENVELOPE_INVALID, "A CloudEvent must be a JSON object.")]
            )
        if content_type is not None and not format_type:
            # No ce_* header: the content-type is the event's datacontenttype (SDK 1.x).
            try:
                declared = content_type.decode("utf-8")
            except UnicodeDecodeError:
                return Reading.unreadable(
                    [
                        ErrorDetail(
                            "datacontenttype",
                            ErrorCode.ENVELOPE_INVALID,
                            "Header values must be UTF-8 text.",
                        )
                    ],
                    event_id,
                )
            if event.setdefault("datacontenttype", declared) != declared:
                return Reading.unreadable(
                    [
                        ErrorDetail(
                            "datacontenttype",
                            ErrorCode.ENVELOPE_INVALID,
                            "The content-type header and datacontenttype differ.",
                        )
                    ],
                    event_id,
                )
        subject = event.get("subject")
        if record.key is not None and isinstance(subject, str):
            try:
                key: str | None = record.key.decode("utf-8")
            except UnicodeDecodeError:
                key = None
            # A key equal to partitionkey: validation compares that with the subject.
            if key != subject and (key is None or key != event.get("partitionkey")):
                return Reading.unreadable(
                    [
                        ErrorDetail(
                            "subject",
                            ErrorCode.SUBJECT_MISMATCH,
                            "The Kafka key must equal the subject.",
                        )
                    ],
                    event_id,
                )
        return Reading(event=event)

    def identify(self, record: KafkaMessage) -> str | None:
        """The value's ``id``; never a header's.

        A value over ``UNREAD_BYTES`` is not parsed: its ``id`` is taken only from the
        attributes before ``data`` in its first ``_ID_SCAN_BYTES`` (where the CNCF SDKs
        write them), and only when it appears once there.
        """
        value = record.value
        if value is None:
            return None
        if len(value) > UNREAD_BYTES:
            return _leading_id(value[:_ID_SCAN_BYTES])
        parsed = strict_json(value)
        return _reportable_id(parsed if isinstance(parsed, dict) else None)

    def stored_headers(self, record: KafkaMessage) -> tuple[tuple[str, bytes], ...] | None:
        """Only ``content-type`` (the value holds the rest); None when the value may hold never-stored attributes."""
        value = record.value
        if value is not None:
            parsed = strict_json(value)
            # Only an object read in full is known to hold neither: an unreadable value
            # could, and the hub cannot cut them out of it.
            if not isinstance(parsed, dict) or any(
                name in parsed for name in _NEVER_STORED_ATTRIBUTES
            ):
                return None
        return _only(record, _STRUCTURED_HEADERS)


KAFKA_ADAPTERS: Final[tuple[KafkaAdapter, ...]] = (KafkaStructured(), KafkaBinary())
"""The adapters the router uses by default, in the order they are asked."""


def _error(code: ErrorCode, message: str) -> ErrorDetail:
    return ErrorDetail("", code, message)


def _reportable_id(event: dict[str, Any] | None) -> str | None:
    event_id = None if event is None else event.get("id")
    return event_id if is_event_id(event_id) else None


_WHITESPACE: Final = " \t\n\r"
_DATA_MEMBERS: Final = frozenset({"data", "data_base64"})


def _leading_id(prefix: bytes) -> str | None:
    """The reportable ``id`` among a JSON object's members before ``data``, read from a prefix of it.

    The stdlib's scanner reads one member at a time, so the (large) data is never
    parsed; no parser in the dependencies reads a cut-off document member by member.
    None when the prefix ends first, is not such an object, or names ``id`` twice.
    """
    try:
        # Incremental: a character cut at the prefix's end is left out, any other invalid
        # UTF-8 raises (an id must not be pieced together around bad bytes).
        text = codecs.getincrementaldecoder("utf-8")().decode(prefix, final=False)
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    found: Any = None
    try:
        pos = _skip(text, 0)
        if text[pos] != "{":
            return None
        pos += 1
        while True:
            name, pos = decoder.raw_decode(text, _skip(text, pos))
            pos = _skip(text, pos)
            if not isinstance(name, str) or text[pos] != ":":
                return None
            if name in _DATA_MEMBERS:
                break
            member, pos = decoder.raw_decode(text, _skip(text, pos + 1))
            if name == "id":
                if found is not None:
                    return None
                found = member
            pos = _skip(text, pos)
            if text[pos] == "}":
                break
            if text[pos] != ",":
                return None
            pos += 1
    except (ValueError, IndexError, RecursionError):
        return None
    return found if is_event_id(found) else None


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _is_cloudevents(content_type: bytes | None) -> bool:
    """Whether a content-type names a CloudEvents event format (structured mode)."""
    # A Kafka header's value may be null.
    return (
        isinstance(content_type, bytes)
        and content_type[: len(_CLOUDEVENTS_PREFIX)].lower() == _CLOUDEVENTS_PREFIX
    )


def _is_structured_json(content_type: bytes) -> bool:
    """``application/cloudevents+json``, with a UTF-8 charset if any."""
    if not content_type.isascii():
        return False
    return media_type(content_type.decode("ascii")) == STRUCTURED_CONTENT_TYPE
