"""The CloudEvent envelope (CloudEvents 1.0, NL GOV profile) and its Kafka binary-mode codec.

Partners send structured mode over HTTP: one JSON object holding the attributes and
``data``. The hub writes binary mode to Kafka: ``ce_*`` headers, the JSON of ``data`` as
the value and ``subject`` as the key. ``from_kafka`` turns binary mode back into the
structured dict, so one validation (``hub.schemas.validate_event``) serves both.

No personal data may ride in attributes or headers (NL GOV profile): the only extensions
accepted are ``traceparent``, ``tracestate`` and ``partitionkey``; an ``id`` or ``subject``
of which a part is a BSN is refused, the subject both when reading an event and when
writing one to Kafka. ``tracestate`` (vendor data the hub cannot vet) and ``partitionkey``
(equal to the subject) are checked on the way in and then dropped: the hub's own events
never carry them. An event is at most ``MAX_EVENT_BYTES`` (``event_size``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo

from pydantic_core import PydanticSerializationError, from_json, to_json

from hub.errors import ErrorCode, ErrorDetail, InvalidEvent

AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")
"""Dutch time: an event's date (for date rules and retention) is its time's date here."""

__all__ = [
    "ATTRIBUTES",
    "CONTENT_TYPE",
    "EXTENSIONS",
    "MAX_EVENT_BYTES",
    "SPECVERSION",
    "CloudEvent",
    "EnvelopeAttributes",
    "compact_size_bound",
    "event_size",
    "event_too_large",
    "from_kafka",
    "has_bsn_part",
    "is_bsn",
    "is_event_id",
    "is_json_media_type",
    "parse_structured",
    "parse_time",
    "passes_eleven_proof",
    "path_key",
    "read_attributes",
    "strict_loads",
    "to_kafka",
]

SPECVERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"
EXTENSIONS: Final = frozenset({"traceparent", "tracestate", "partitionkey"})
MAX_EVENT_BYTES: Final = 256 * 1024
"""The largest event, its compact JSON in structured mode (messages.md, Envelope: 256 KiB)."""
ATTRIBUTES: Final = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema"}
    | EXTENSIONS
    | {"data"}
)

_ID_MAX_LENGTH: Final = 128
_STRING_ATTRIBUTES: Final = (
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "datacontenttype",
    "dataschema",
    "traceparent",
    "tracestate",
    "partitionkey",
)
_REQUIRED: Final = frozenset({"specversion", "id", "source", "type", "time", "subject"})
_HEADER_PREFIX: Final = "ce_"
_CONTENT_TYPE_HEADER: Final = "content-type"
# Attributes in the order they are written as Kafka headers (data travels as the value).
# tracestate and partitionkey are written only from a dict, as a partner's tool sends them;
# the hub's own events (CloudEvent) never have them.
_HEADER_ATTRIBUTES: Final = (
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "dataschema",
    "traceparent",
    "tracestate",
    "partitionkey",
)
# The headers as written in lower case (the hub, the SDKs), each looked up at once; any
# other spelling takes from_kafka's general rule, which gives the same attribute.
_ATTRIBUTE_OF_HEADER: Final = {
    **{_HEADER_PREFIX + name: name for name in _HEADER_ATTRIBUTES},
    _CONTENT_TYPE_HEADER: "datacontenttype",
}
_EXTENSIONS_SENTENCE: Final = (
    "Only the traceparent, tracestate and partitionkey extensions are accepted."
)

_NINE_DIGITS = re.compile(r"[0-9]{9}")
_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]+")
# The contract's separators are ". _ : -"; every other character that is not an ASCII
# letter or digit separates too: an id cannot hold one, but a subject that is free text
# can (a budget's team, "Wijkteam 999900018" or "Wijkteam/999900018"), and carries no BSN.
_SEPARATORS = re.compile(r"[^0-9A-Za-z]")
# Every field and attribute name of the contract is lower-case ASCII letters and "_" (and
# CloudEvents attribute names have no "-" and no digit): a key with a "-" or a digit is
# more often a name, a date or a number ("esther-van-dalfsen-1986-02-11",
# "dalfsen_1986_02_11") than a typo, so it is not repeated. (Header names, "ce_" and an
# attribute, follow the same rule.)
_SAFE_KEY = re.compile(r"[a-z_]{1,64}")
# The one CloudEvents attribute with a digit in its name, shown as it is.
_DIGIT_NAMES: Final = frozenset({"data_base64"})
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    # RFC 3339's time-numoffset: hours 00-23, minutes 00-59 (fromisoformat takes +01:60).
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_JSON_MEDIA_TYPE = re.compile(r"application/json(?:\s*;\s*charset=\"?utf-8\"?)?", re.IGNORECASE)
# RFC 3986's URI (section 3, the ABNF of appendix A), written out: no dependency checks it
# strictly (httpx and pydantic parse leniently, percent-encoding what they should refuse).
# Plain ECMA-262 syntax, as the exported JSON Schema states it too; a pchar is never a "/",
# so matching stays linear in the length.
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB_DELIMS = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED_SUB_DELIMS}:@]|{_PCT})"
_AUTHORITY = (
    rf"(?:(?:[{_UNRESERVED_SUB_DELIMS}:]|{_PCT})*@)?"  # userinfo
    rf"(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[{_UNRESERVED_SUB_DELIMS}:]+)\]"  # IP-literal
    rf"|(?:[{_UNRESERVED_SUB_DELIMS}]|{_PCT})*)"  # IPv4address or reg-name
    r"(?::[0-9]*)?"  # port
)
_SEGMENTS = rf"(?:/{_PCHAR}*)*"
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:"
    rf"(?://{_AUTHORITY}{_SEGMENTS}|/(?:{_PCHAR}+{_SEGMENTS})?|{_PCHAR}+{_SEGMENTS})?"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"
    rf"(?:#(?:{_PCHAR}|[/?])*)?"
)
_TRACE_FIELDS = r"-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
# W3C trace context: version 00 is exactly its four fields; a later version (not ff) is read
# by its first four, and what follows a further "-" is that version's, ignored here.
_TRACEPARENT = re.compile(
    rf"00{_TRACE_FIELDS}|(?!00|ff)[0-9a-f]{{2}}{_TRACE_FIELDS}(?:-[\x20-\x7e]*)?"
)
_TRACEPARENT_V00_LENGTH: Final = 55
_TRACESTATE_MEMBER = re.compile(
    r"(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})"
    r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)
# W3C caps the members, not the length (512 characters is what a vendor should at least
# propagate): a longer well-formed tracestate is valid, and the hub drops it anyway.
_TRACESTATE_MAX_MEMBERS: Final = 32


def is_bsn(value: str) -> bool:
    """Tell whether a string is a BSN: 9 digits passing the contract's 11-proof.

    The 11-proof weighs the digits 9, 8, ..., 2, -1 and needs a weighted sum divisible by
    11 and not 0. It is written out rather than delegated to python-stdnum because it runs
    for every BSN of every event (stdnum costs ~10x more); a test proves both agree.
    """
    if len(value) != 9 or _NINE_DIGITS.fullmatch(value) is None:
        return False
    return passes_eleven_proof(value)


def has_bsn_part(value: str) -> bool:
    """Tell whether any part of ``value`` between the separators ``. _ : -`` is a BSN.

    The contract's test for ids, subjects and identifier fields: ``REF-999900018`` has one,
    a UUID never does (its parts are 8, 4 and 12 hex digits). Any other character that is
    not an ASCII letter or digit separates as well (a space, "/"), for free-text subjects.
    """
    if _NINE_DIGITS.search(value) is None:  # the common case: no nine digits in a row at all
        return False
    return any(is_bsn(part) for part in _SEPARATORS.split(value))


def is_event_id(value: object) -> bool:
    """Tell whether ``value`` is an ``id`` the contract allows, and so one the hub may repeat.

    1-128 characters from ``A-Z a-z 0-9 . _ : -`` with no part a BSN. An invalid event's
    id is reported (status record, dead letter, logs) only when this holds: an id such as
    ``Esther van Dalfsen 1986-02-11`` must not travel further than the partner sent it.
    """
    return (
        isinstance(value, str)
        and 0 < len(value) <= _ID_MAX_LENGTH
        and _EVENT_ID.fullmatch(value) is not None
        and not has_bsn_part(value)
    )


def event_size(event: Mapping[str, Any]) -> int:
    """The size in bytes of a structured-mode event: its compact JSON in UTF-8.

    Compact (no insignificant whitespace, non-ASCII unescaped) so that the same event has
    the same size whether it came pretty-printed over HTTP or in binary mode over Kafka.
    """
    try:
        # pydantic_core's encoder writes the same compact UTF-8 as the stdlib below, about
        # four times faster; this runs for every event on every channel.
        return len(to_json(event))
    except PydanticSerializationError:
        # A lone surrogate ("\ud800") is counted, not raised: field validation rejects it
        # with a path and a code. default=str: a tool's dict may hold other objects.
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
        return len(text.encode("utf-8", errors="surrogatepass"))


def compact_size_bound(record_bytes: int) -> int:
    """The most bytes ``event_size`` can give for an event decoded from a Kafka record of this size.

    ``record_bytes`` counts the key, the value and every header's name and value. Re-encoded
    compactly, the value's JSON never grows except in its numbers: whitespace goes, a
    string's escapes stay as short or get shorter (``\\u00e9`` becomes two bytes, ``\\/``
    one), literals stay; a number can grow 4.5 times (``1e15`` is written
    ``1000000000000000.0``). An attribute read from a header is a JSON string: its escapes
    can grow a byte six times (``\\u0001``), and its name and quotes add at most six bytes
    to a header name of at least three (``ce_``). So six times the record, plus the braces
    and ``"data":``, bounds the event's compact JSON. A structured-mode value is the event
    itself, its JSON bounded the same way (``hub.inbound.kafka``).
    """
    return 6 * record_bytes + 16


def event_too_large() -> ErrorDetail:
    """The EVENT_TOO_LARGE error of an event over ``MAX_EVENT_BYTES``."""
    return _error(
        "",
        ErrorCode.EVENT_TOO_LARGE,
        "The event is over 256 KiB (its compact JSON); split it over several events.",
    )


def passes_eleven_proof(digits: str) -> bool:
    """Tell whether a string already known to be 9 ASCII digits passes the 11-proof."""
    d = digits.encode("ascii")
    # ASCII digit c has code 48 + c; the weights 9..2, -1 sum to 43, hence 48 * 43.
    weighted = (
        (9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7])
        - d[8]
        - 48 * 43
    )
    return weighted != 0 and weighted % 11 == 0


def path_key(name: object) -> str:
    """Render an input key for an error path: the key when it looks like a field name, else ``*``.

    Keys come from the sender and could carry personal data. A key shaped like every field
    and attribute name of the contract (lower-case ASCII letters or ``_``, at most 64) is
    shown, so a typo or a field the contract lacks is easy to find; anything else, such
    as a hyphenated name, a date or a number, is replaced. Log lines go further
    (``hub.schemas.errors.loggable_path``): there only the contract's own names show.
    """
    if isinstance(name, str) and (name in _DIGIT_NAMES or _SAFE_KEY.fullmatch(name) is not None):
        return name
    return "*"


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """One CloudEvent as the hub writes it: attributes plus ``data``.

    ``specversion`` is always "1.0". ``data`` is a JSON object with ``datacontenttype``
    ``application/json``, or text in a partner format a connector rendered it in (an
    iWmo document, ``application/xml``): binary mode writes the text's UTF-8 bytes as the
    record's value, structured mode a JSON string, as the CloudEvents JSON format says
    for data that is not JSON. It has no ``tracestate`` and no ``partitionkey``: the hub
    never stores or forwards them.
    """

    id: str
    source: str
    type: str
    time: str
    """RFC 3339, as the event's sender wrote it: a recipient gets the same ``time``."""
    subject: str
    data: Mapping[str, Any] | str
    dataschema: str | None = None
    traceparent: str | None = None
    datacontenttype: str = CONTENT_TYPE

    def attributes(self) -> dict[str, str]:
        """The context attributes as strings (``time`` in RFC 3339), absent ones left out."""
        attributes = {
            "specversion": SPECVERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "subject": self.subject,
            "datacontenttype": self.datacontenttype,
        }
        for name in ("dataschema", "traceparent"):
            value = getattr(self, name)
            if value is not None:
                attributes[name] = value
        return attributes

    def to_structured(self) -> dict[str, Any]:
        """The structured-mode dict (attributes and ``data``), ready for ``json.dumps``."""
        data = self.data if isinstance(self.data, str) else dict(self.data)
        return {**self.attributes(), "data": data}


class EnvelopeAttributes(NamedTuple):
    """The attributes read from an event; a field is None when absent or invalid.

    ``tracestate`` and ``partitionkey`` are checked but not kept (messages.md, Envelope).
    """

    id: str | None
    source: str | None
    type: str | None
    time: datetime | None
    time_text: str | None
    """``time`` as the sender wrote it (when valid): what recipients get, unchanged."""
    subject: str | None
    dataschema: str | None
    traceparent: str | None
    data: Mapping[str, Any] | None


def _error(path: str, code: ErrorCode, message: str) -> ErrorDetail:
    return ErrorDetail(path=path, code=code, message=message)


def _subject_is_bsn() -> ErrorDetail:
    return _error(
        "subject", ErrorCode.SUBJECT_IS_BSN, "No part of the subject between . _ : - may be a BSN."
    )


def _string(raw: Mapping[str, Any], name: str, errors: list[ErrorDetail], required: bool) -> None:
    """Append why attribute ``name`` is not a non-empty string (the caller saw it is not)."""
    if name not in raw:
        if required:
            errors.append(_error(name, ErrorCode.FIELD_REQUIRED, "This attribute is required."))
        return
    value = raw[name]
    if value is None:
        errors.append(
            _error(name, ErrorCode.FIELD_NULL, "null is not allowed; omit an optional attribute.")
        )
    elif not isinstance(value, str):
        errors.append(_error(name, ErrorCode.TYPE_MISMATCH, "Must be a JSON string."))
    else:
        errors.append(_error(name, ErrorCode.TOO_SHORT, "Must not be empty."))


def _is_tracestate(value: str) -> bool:
    members = [member.strip(" \t") for member in value.split(",")]
    members = [member for member in members if member]
    if not members or len(members) > _TRACESTATE_MAX_MEMBERS:
        return False
    return all(_TRACESTATE_MEMBER.fullmatch(member) is not None for member in members)


def read_attributes(raw: Mapping[str, Any]) -> tuple[EnvelopeAttributes, list[ErrorDetail]]:
    """Check the envelope of a structured-mode event; return what is valid and every problem.

    Checks everything the envelope alone decides: specversion; id present, 1-128
    characters of ``A-Z a-z 0-9 . _ : -`` and no part a BSN; source and type present; time
    in RFC 3339 with an offset; subject present with no part a BSN; datacontenttype JSON;
    dataschema an absolute URI (RFC 3986); trace context well formed; partitionkey equal to the
    subject; no other extension; data an object. Whether the type is known and the subject
    matches ``data`` is the schemas' part; the size is ``validate_event``'s.
    """
    errors: list[ErrorDetail] = []
    # Every attribute is read as "a non-empty str, else None"; _string explains a None.
    strings: dict[str, str | None] = {}
    for name in _STRING_ATTRIBUTES:
        value = raw.get(name)
        if type(value) is str and value:
            strings[name] = value
        else:
            strings[name] = None
            if value is not None or name in raw or name in _REQUIRED:
                _string(raw, name, errors, name in _REQUIRED)

    specversion = strings["specversion"]
    if specversion is not None and specversion != SPECVERSION:
        errors.append(
            _error(
                "specversion",
                ErrorCode.SPECVERSION_UNSUPPORTED,
                'Only CloudEvents specversion "1.0" is accepted.',
            )
        )

    event_id = strings["id"]
    if event_id is not None:
        if has_bsn_part(event_id):  # first: also in an id that breaks the format too
            errors.append(
                _error(
                    "id",
                    ErrorCode.BSN_IN_IDENTIFIER,
                    "No part of the id between . _ : - may be a BSN; use a UUID.",
                )
            )
            event_id = None
        elif len(event_id) > _ID_MAX_LENGTH:
            errors.append(_error("id", ErrorCode.TOO_LONG, "Must have at most 128 characters."))
            event_id = None
        elif _EVENT_ID.fullmatch(event_id) is None:
            errors.append(
                _error(
                    "id",
                    ErrorCode.FORMAT_INVALID,
                    "An id is 1 to 128 characters from A-Z a-z 0-9 . _ : - (a UUID is best).",
                )
            )
            event_id = None

    time: datetime | None = None
    time_text = strings["time"]
    if time_text is not None:
        time = parse_time(time_text)
        if time is None:
            errors.append(
                _error(
                    "time",
                    ErrorCode.DATETIME_INVALID,
                    "Must be an RFC 3339 date-time with an offset, e.g. 2025-03-03T09:15:00+01:00.",
                )
            )
        elif not _convertible(time):
            time = None
            errors.append(
                _error(
                    "time",
                    ErrorCode.DATETIME_INVALID,
                    "Must lie between the years 1 and 9999 in UTC and in Dutch time.",
                )
            )

    subject = strings["subject"]
    if subject is not None and has_bsn_part(subject):
        errors.append(_subject_is_bsn())
        subject = None

    partitionkey = strings["partitionkey"]
    if partitionkey is not None and subject is not None and partitionkey != subject:
        errors.append(
            _error(
                "partitionkey",
                ErrorCode.SUBJECT_MISMATCH,
                "The partitionkey extension, when sent, must equal the subject.",
            )
        )

    content_type = strings["datacontenttype"]
    if (
        content_type is not None
        and content_type != CONTENT_TYPE
        and _JSON_MEDIA_TYPE.fullmatch(content_type) is None
    ):
        errors.append(
            _error(
                "datacontenttype",
                ErrorCode.CONTENT_TYPE_UNSUPPORTED,
                "Only application/json is accepted.",
            )
        )

    dataschema = strings["dataschema"]
    if dataschema is not None and _URI.fullmatch(dataschema) is None:
        errors.append(_error("dataschema", ErrorCode.FORMAT_INVALID, "Must be an absolute URI."))
        dataschema = None

    traceparent = strings["traceparent"]
    if traceparent is not None and _TRACEPARENT.fullmatch(traceparent) is None:
        errors.append(
            _error(
                "traceparent",
                ErrorCode.FORMAT_INVALID,
                "Must be a W3C traceparent: version-traceid-parentid-flags in lower-case hex.",
            )
        )
        traceparent = None
    elif traceparent is not None and not traceparent.startswith("00"):
        # Kept as the version-00 reader the hub is (W3C: a vendor writes the version it
        # knows): the four fields it understands, so a later version's own fields are
        # never stored or forwarded.
        traceparent = "00" + traceparent[2:_TRACEPARENT_V00_LENGTH]

    # Checked so a malformed one is rejected, then dropped: never stored, logged or forwarded.
    tracestate = strings["tracestate"]
    if tracestate is not None and not _is_tracestate(tracestate):
        errors.append(
            _error(
                "tracestate",
                ErrorCode.FORMAT_INVALID,
                "Must be a W3C tracestate: at most 32 comma-separated key=value members.",
            )
        )

    data = raw.get("data")
    if not isinstance(data, Mapping):
        if "data" not in raw:
            if "data_base64" not in raw:  # reported below, once
                errors.append(
                    _error("data", ErrorCode.FIELD_REQUIRED, "This attribute is required.")
                )
        elif data is None:
            errors.append(_error("data", ErrorCode.FIELD_NULL, "null is not allowed."))
        else:
            errors.append(_error("data", ErrorCode.TYPE_MISMATCH, "Must be a JSON object."))
        data = None

    if len(raw) > len(ATTRIBUTES) or not ATTRIBUTES.issuperset(raw):
        for name in raw:
            if name in ATTRIBUTES:
                continue
            if name == "data_base64":
                errors.append(
                    _error(
                        "data_base64",
                        ErrorCode.CONTENT_TYPE_UNSUPPORTED,
                        "Binary data is not accepted; send data as a JSON object.",
                    )
                )
            else:
                errors.append(
                    _error(
                        path_key(name),
                        ErrorCode.EXTENSION_NOT_ALLOWED,
                        _EXTENSIONS_SENTENCE,
                    )
                )

    attributes = EnvelopeAttributes(
        id=event_id,
        source=strings["source"],
        type=strings["type"],
        time=time,
        time_text=time_text if time is not None else None,
        subject=subject,
        dataschema=dataschema,
        traceparent=traceparent,
        data=data,
    )
    return attributes, errors


def is_json_media_type(content_type: str) -> bool:
    """Tell whether a ``datacontenttype`` is JSON (``application/json``, UTF-8 at most)."""
    return content_type == CONTENT_TYPE or _JSON_MEDIA_TYPE.fullmatch(content_type) is not None


def _convertible(time: datetime) -> bool:
    """True when the time has a UTC and a Dutch equivalent (0001-01-01T00:00:00+01:00 has none).

    The hub dates an event in Dutch time and stores times in UTC; at the edges of the
    calendar the conversion overflows, which must be the sender's error, not the hub's.
    """
    try:
        time.astimezone(UTC)
        time.astimezone(AMSTERDAM)
    except OverflowError:
        return False
    return True


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 date-time with an offset (``T``/``Z`` in either case); None if it is not one."""
    if _RFC3339.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def strict_loads(body: bytes | str) -> Any:
    """Parse strict JSON: no NaN or Infinity, no duplicate keys; raise ValueError or RecursionError.

    Bytes are read as ``json.loads`` reads them (UTF-8, a byte order mark allowed, or
    UTF-16/32 guessed): the hub's readers decode UTF-8 strictly first and pass text.
    """
    value = _fast_loads(body)
    if value is _UNPROVEN:
        value = json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    return value


_UNPROVEN: Final = object()


def _fast_loads(body: bytes | str) -> Any:
    """The body parsed by pydantic-core's parser when that is provably the stdlib's result, else ``_UNPROVEN``.

    The Rust parser is three times as fast as the stdlib's with the duplicate-key hook, but
    keeps the last of repeated keys, so the absence of repeats is proven from the colons:
    every key is followed by one colon and the rest are inside strings. When no colon is
    written as an escape (``\\u003a``), the body's colons are its keys plus the colons of
    its strings, and the compact JSON of the result has its own keys plus the colons of
    the strings it kept (a repeated key drops one key and its value). Equal counts
    therefore mean nothing was dropped. Anything else (an escaped colon, repeated keys,
    text the Rust parser refuses: a BOM, lone surrogates, deep nesting, NaN) takes the
    stdlib's path, which decides as it always has. Tests compare both on a corpus.
    """
    if isinstance(body, bytes):
        escaped = b"\\" in body and b"\\u003" in body
        colons = body.count(b":")
    else:
        escaped = "\\" in body and "\\u003" in body
        colons = body.count(":")
    if escaped:
        return _UNPROVEN
    try:
        # No string cache: a partner's text (even a key) must not outlive the event in one.
        value = from_json(body, allow_inf_nan=False, cache_strings=False)
        if to_json(value).count(b":") != colons:
            return _UNPROVEN
    except ValueError:
        return _UNPROVEN
    return value


def parse_structured(body: bytes | str) -> dict[str, Any]:
    """Parse a structured-mode event (JSON text) into a dict; raise InvalidEvent when unusable.

    Rejects text that is not strict JSON (MALFORMED_JSON: also NaN, Infinity and duplicate
    keys) and JSON that is not an object (ENVELOPE_INVALID). Nothing else is checked here.
    """
    try:
        value = strict_loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (ValueError, RecursionError):
        raise InvalidEvent(
            [_error("", ErrorCode.MALFORMED_JSON, "The body is not valid UTF-8 JSON.")]
        ) from None
    if not isinstance(value, dict):
        raise InvalidEvent(
            [_error("", ErrorCode.ENVELOPE_INVALID, "A CloudEvent must be a JSON object.")]
        )
    return value


def _attributes_of(event: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """The attributes to write as headers and the data, from a structured-mode dict."""
    attributes = {name: value for name, value in event.items() if name != "data"}
    for name in attributes:
        if name not in ATTRIBUTES:
            raise InvalidEvent(
                [
                    _error(
                        path_key(name),
                        ErrorCode.EXTENSION_NOT_ALLOWED,
                        _EXTENSIONS_SENTENCE,
                    )
                ]
            )
    return attributes, event.get("data")


def _header_value(value: Any) -> bytes:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("utf-8")


def to_kafka(event: CloudEvent | Mapping[str, Any]) -> tuple[bytes, list[tuple[str, bytes]], bytes]:
    """Encode an event in Kafka binary mode: (key = subject, ``ce_*`` headers, JSON of data).

    Takes a CloudEvent (the hub's own) or a structured-mode dict; a dict is encoded as
    it is, valid or not, so tools can send what a partner would. Raises InvalidEvent rather
    than put a BSN subject or an extension attribute into the key and headers.
    """
    if isinstance(event, CloudEvent):
        return _own_to_kafka(event)
    attributes, data = _attributes_of(event)
    subject = attributes.get("subject")
    if isinstance(subject, str) and has_bsn_part(subject):
        raise InvalidEvent(
            [_error("subject", ErrorCode.SUBJECT_IS_BSN, "No part of the subject may be a BSN.")]
        )
    headers = [
        (_HEADER_PREFIX + name, _header_value(attributes[name]))
        for name in _HEADER_ATTRIBUTES
        if attributes.get(name) is not None
    ]
    content_type = attributes.get("datacontenttype", CONTENT_TYPE)
    if content_type is not None:
        headers.append((_CONTENT_TYPE_HEADER, _header_value(content_type)))
    key = subject.encode("utf-8") if isinstance(subject, str) else b""
    value = json.dumps(
        dict(data) if isinstance(data, Mapping) else data,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return key, headers, value.encode("utf-8")


def _own_to_kafka(event: CloudEvent) -> tuple[bytes, list[tuple[str, bytes]], bytes]:
    # The general path above for the hub's own event, written out: one per delivery. Same
    # headers in the same order (its attributes are str, None is left out), same checks.
    subject = event.subject
    if has_bsn_part(subject):
        raise InvalidEvent(
            [_error("subject", ErrorCode.SUBJECT_IS_BSN, "No part of the subject may be a BSN.")]
        )
    headers = [
        ("ce_specversion", _SPECVERSION_BYTES),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.encode()),
        ("ce_subject", subject.encode()),
    ]
    if event.dataschema is not None:
        headers.append(("ce_dataschema", event.dataschema.encode()))
    if event.traceparent is not None:
        headers.append(("ce_traceparent", event.traceparent.encode()))
    if isinstance(event.data, str):
        # A rendered partner format: the text itself is the value (binary mode).
        headers.append((_CONTENT_TYPE_HEADER, event.datacontenttype.encode()))
        return subject.encode(), headers, event.data.encode("utf-8")
    headers.append((_CONTENT_TYPE_HEADER, _CONTENT_TYPE_BYTES))
    # Its data is JSON the hub built, written by the one encoder the hub writes everything
    # with (pydantic_core: the same compact UTF-8 as the stdlib, faster).
    return subject.encode(), headers, to_json(event.data)


_SPECVERSION_BYTES: Final = SPECVERSION.encode()
_CONTENT_TYPE_BYTES: Final = CONTENT_TYPE.encode()


def from_kafka(
    key: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    value: bytes | None,
    *,
    text_data: bool = False,
) -> dict[str, Any]:
    """Decode a Kafka binary-mode record into the structured-mode dict ``validate_event`` takes.

    Every ``ce_*`` header becomes an attribute (so an unknown one is rejected later as an
    extension), ``content-type`` becomes ``datacontenttype``, other headers are transport
    metadata and ignored. Raises InvalidEvent when a header is repeated or not UTF-8, a
    ``ce_data`` header is sent, the value is not a JSON object, or the key differs from the
    subject (a key equal to ``ce_partitionkey`` is left to validation, which compares that
    with the subject).

    ``text_data`` (the hub's own deliveries): a value whose ``content-type`` is not JSON is
    a document a connector rendered, kept as UTF-8 text (a JSON string in structured mode).
    Partners' records are always read as JSON.
    """
    try:
        return _from_kafka(key, headers, value, text_data=text_data)
    except InvalidEvent as exc:
        # A BSN in the subject is named whatever else stopped the reading: a dead letter
        # that says only MALFORMED_JSON would be replayable, and its replay would write
        # that key and ce_subject again (docs/privacy.md, invariant 5).
        subject = _subject_header(headers)
        if (
            subject is not None
            and has_bsn_part(subject)
            and all(e.code is not ErrorCode.SUBJECT_IS_BSN for e in exc.errors)
        ):
            raise InvalidEvent([_subject_is_bsn(), *exc.errors]) from None
        raise


def _subject_header(headers: Sequence[tuple[str, bytes]]) -> str | None:
    """The first ``ce_subject`` header's text (any case), if any and UTF-8."""
    for name, raw_value in headers:
        if name.lower() == _HEADER_PREFIX + "subject":
            try:
                return raw_value.decode("utf-8")
            except (UnicodeDecodeError, AttributeError):
                return None
    return None


def _from_kafka(
    key: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    value: bytes | None,
    *,
    text_data: bool,
) -> dict[str, Any]:
    structured: dict[str, Any] = {}
    for name, raw_value in headers:
        attribute = _ATTRIBUTE_OF_HEADER.get(name)
        if attribute is None:
            lowered = name.lower()
            if lowered.startswith(_HEADER_PREFIX):
                attribute = lowered[len(_HEADER_PREFIX) :]
                if attribute == "datacontenttype":
                    # The Kafka binding carries it in content-type; HTTP binary mode
                    # refuses ce-datacontenttype the same way.
                    raise InvalidEvent(
                        [
                            _error(
                                "datacontenttype",
                                ErrorCode.ENVELOPE_INVALID,
                                "In binary mode the content-type header carries it.",
                            )
                        ]
                    )
            elif lowered == _CONTENT_TYPE_HEADER:
                attribute = "datacontenttype"
            else:
                continue
        if attribute in structured:
            raise InvalidEvent(
                [
                    _error(
                        path_key(attribute),
                        ErrorCode.ENVELOPE_INVALID,
                        "This header appears more than once.",
                    )
                ]
            )
        try:
            structured[attribute] = raw_value.decode("utf-8")
        except (UnicodeDecodeError, AttributeError):
            raise InvalidEvent(
                [
                    _error(
                        path_key(attribute),
                        ErrorCode.ENVELOPE_INVALID,
                        "Header values must be UTF-8 text.",
                    )
                ]
            ) from None
    if "data" in structured:
        # The value is the data; a ce_data header would be overwritten unseen (HTTP binary
        # mode refuses ce-data the same way).
        raise InvalidEvent(
            [
                _error(
                    "data",
                    ErrorCode.ENVELOPE_INVALID,
                    "In binary mode data is the record's value, not a header.",
                )
            ]
        )
    if value is None:
        raise InvalidEvent([_error("data", ErrorCode.FIELD_REQUIRED, "The record has no value.")])
    content_type = structured.get("datacontenttype")
    try:
        if text_data and isinstance(content_type, str) and not is_json_media_type(content_type):
            structured["data"] = value.decode("utf-8")
        else:
            # Decoded first: json.loads would guess UTF-16 or UTF-32 from bytes and take a
            # byte order mark; HTTP reads UTF-8 only (RFC 8259 8.1), and so does Kafka. The
            # hub's own deliveries (``text_data``) may hold a JSON document a connector
            # rendered with a byte order mark, which is read past as before.
            text = value.decode("utf-8-sig" if text_data else "utf-8")
            structured["data"] = strict_loads(text)
    except (ValueError, RecursionError):
        raise InvalidEvent(
            [_error("data", ErrorCode.MALFORMED_JSON, "The record value is not valid UTF-8 JSON.")]
        ) from None
    if key is not None:
        subject = structured.get("subject")
        try:
            key_text: str | None = key.decode("utf-8")
        except UnicodeDecodeError:
            key_text = None
        # An SDK keys the record by partitionkey: when that is the key, validation
        # reports a wrong partitionkey at its own path, as it does over HTTP.
        if (
            isinstance(subject, str)
            and key_text != subject
            and (key_text is None or key_text != structured.get("partitionkey"))
        ):
            mismatch = [
                _error(
                    "subject", ErrorCode.SUBJECT_MISMATCH, "The Kafka key must equal the subject."
                )
            ]
            if has_bsn_part(subject):  # never hidden behind the mismatch
                mismatch.insert(0, _subject_is_bsn())
            raise InvalidEvent(mismatch)
    return structured
