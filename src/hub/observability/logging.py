"""Structured logging with a redaction processor that keeps personal data out of every line.

Two layers, because either alone can fail:

1. Keys are allow-listed. A value logged under a key not in ``SAFE_KEYS`` is replaced
   by ``"[redacted]"``: a developer who logs ``client=...`` by mistake leaks nothing.
2. Values under safe keys must look like what those keys hold: single tokens (ids,
   codes, paths, topic names), no spaces, at most 200 ASCII characters. Free text, names
   with spaces and addresses are redacted whole. Within a token, shapes of personal data
   (a 9-digit number, a date, an e-mail address, a phone number, a postcode) are masked:
   an event id chosen by a partner could hold a BSN. What the hub itself generates is
   recognised first and kept whole, so an operator can search for it: UUIDs (delivery,
   disclosure and attempt ids; the contract recommends them as event ids too) and W3C
   trace and span ids. A UUID's groups are 8, 4, 4, 4 and 12 hex characters, so it can
   hold digit runs that look like a date or a phone number, but never a part of exactly
   nine digits between separators, which is how the contract defines a BSN in an id.
   ``exc_type`` holds an exception's class name and is kept when it is one (an
   identifier); anything else logged under it is redacted.

What this cannot catch: a single word without digits that is a name, initials or a
partial address, logged as the value of a safe key (``partner="Jansen"``). The safe keys are bound by hub code from hub-controlled
values; the one partner-chosen value among them is the CloudEvent ``id``.

Library records (aiokafka, uvicorn) that repeat, same logger, template and level, are
collapsed to one line per interval (``LoggingSettings.library_repeat_seconds``); the next
line after the interval carries ``suppressed``, the number of records left out. A broker
outage of 40 s otherwise writes tens of thousands of reconnect lines.

Exceptions are rendered as type and frames only. Foreign exception messages are dropped
because they can quote input (pydantic, json, KeyError all do); the hub's own errors are
built never to carry payload values, so their sentence is kept.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from hub.errors import HubError

__all__ = ["REDACTED", "SAFE_KEYS", "configure_logging", "get_logger", "redact"]

REDACTED = "[redacted]"

SAFE_KEYS: frozenset[str] = frozenset(
    {
        # structlog's own
        "event", "level", "timestamp", "logger",
        # identifiers of things, never of people
        "event_id", "event_type", "partner", "recipient", "source_partner", "delivery_id",
        "disclosure_id", "trace_id", "instance", "group", "transactional_id", "identificatie",
        # Kafka coordinates
        "topic", "topics", "partition", "offset", "bootstrap_servers",
        # outcomes and counts
        "outcome", "code", "codes", "path", "paths", "status", "attempt", "count", "records",
        "deliveries", "disclosures", "state_changes", "dead_lettered", "duplicates",
        "duration_ms", "delay_seconds", "lag", "url_host", "port", "version", "command",
        "redacted_keys", "route", "method", "suppressed", "sole", "windowed", "chains",
        # who acted: an operator's or privacy officer's configured id (staff, not residents);
        # which query filters were used (their names, never their values)
        "operator", "officer", "officers", "filters",
        # an exception's class name (e.g. router_retrying), checked to be an identifier
        "exc_type", "failure",
        # the hub's own processes, formats and reason codes, and its waits
        "child", "exit_code", "format", "reason", "retry_seconds", "after_seconds",
    }
)  # fmt: skip

_NUMERIC_KEYS = frozenset(
    {"partition", "offset", "attempt", "count", "records", "deliveries", "disclosures",
     "state_changes", "dead_lettered", "duplicates", "duration_ms", "delay_seconds", "lag",
     "port", "status", "redacted_keys", "suppressed", "chains", "officers", "exit_code",
     "retry_seconds", "after_seconds"}
)  # fmt: skip
_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
_TOKEN = re.compile(r"^[A-Za-z0-9._:/@+\-\[\]*#=]{0,200}$")
_PERSONAL_SHAPES = re.compile(
    # BSN (or a mistyped one) or other 8-9 digit number, also next to letters ("REF999900018")
    r"(?<!\d)\d{8,9}(?!\d)"
    r"|\d{4}-\d{2}-\d{2}"  # a date (birth date)
    r"|[^\s@]+@[^\s@]+"  # e-mail address (or something close to one)
    r"|\+?\d[\d ()\-]{8,}\d"  # phone number
    r"|\b[1-9]\d{3}\s?[A-Za-z]{2}\b"  # postcode
)
# What the hub generates, kept whole before the shape scan: a UUID (any version), or a
# W3C trace id (32 hex) or span id (16 hex) with at least one letter (an all-digit run is
# scanned like any number). Not next to a letter, digit or "@", nor after a digit and a
# separator, so a UUID cannot vouch for a longer run around it (a phone number written
# before it: "06-12345678-..."), nor for the local part of an e-mail address.
_GENERATED_ID = re.compile(
    r"(?<![0-9A-Za-z@])(?<![0-9][-.:_ ()])"
    # A real UUID (version 1-8, variant 10xx) with at least one hex letter: a string of
    # digits in UUID shape (a date, a phone number and a BSN in groups) is no UUID the hub
    # made, and a random one lacks letters with a chance of about one in a million.
    r"(?:(?=[0-9a-fA-F-]{0,35}[a-fA-F])"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|(?=[0-9a-f]{0,31}[a-f])[0-9a-f]{32}"
    r"|(?=[0-9a-f]{0,15}[a-f])[0-9a-f]{16})"
    r"(?![0-9A-Za-z@])"
)
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_HUB_IDENTIFICATIE = re.compile(r"[0-9a-f]{12}")
_LONG_DIGITS = re.compile(r"\d{8,}")


def _scrub(text: str) -> str:
    """Mask personal-data shapes in ``text``, leaving the hub's generated ids whole."""
    parts: list[str] = []
    start = 0
    for match in _GENERATED_ID.finditer(text):
        parts.append(_PERSONAL_SHAPES.sub(REDACTED, text[start : match.start()]))
        parts.append(match.group())
        start = match.end()
    parts.append(_PERSONAL_SHAPES.sub(REDACTED, text[start:]))
    return "".join(parts)


def _mask(value: Any, key: str) -> Any:
    if isinstance(value, str):
        if key == "exc_type":
            is_class_name = _CLASS_NAME.match(value) and not _LONG_DIGITS.search(value)
            return value if is_class_name else REDACTED
        if key == "identificatie" and _HUB_IDENTIFICATIE.fullmatch(value):
            # A 301's Identificatie the hub made (12 hex of a hash; a 302 is logged only
            # once matched to one): its digit runs are no one's number.
            return value
        if not _TOKEN.match(value):
            return REDACTED
        return _scrub(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        # Counters and Kafka offsets are numbers by nature; elsewhere a number could be a BSN.
        if key in _NUMERIC_KEYS or not _PERSONAL_SHAPES.search(str(value)):
            return value
        return REDACTED
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(item, key) for item in value]
    # Mappings and arbitrary objects could hold anything; their repr is not trusted.
    return REDACTED


# Written by the hub's own processors, never from input: exempt from the shape scan
# (an ISO timestamp would otherwise look like a phone number).
_GENERATED_KEYS = frozenset({"timestamp", "level", "logger", "detail"})


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: allow-listed keys only, and no personal shapes in their values."""
    for key in list(event_dict):
        if key in _GENERATED_KEYS or key == "exc_info":  # exc_info: rendered after this
            continue
        if key in SAFE_KEYS:
            event_dict[key] = _mask(event_dict[key], key)
        elif _KEY.match(key):
            event_dict[key] = REDACTED
        else:
            # A key that is not an identifier may itself be data (an unknown field's name).
            del event_dict[key]
            event_dict["redacted_keys"] = event_dict.get("redacted_keys", 0) + 1
    return event_dict


def _render_exception(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace exc_info by exc_type, frames and (for the hub's own errors) the sentence.

    Runs after ``redact``: what it writes is safe by construction (a type name, file
    names and line numbers, and HubError sentences, which never carry payload values), and
    no caller can pass a value under these keys, because ``redact`` already replaced them.
    """
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    exc_type, exc, tb = exc_info
    if exc_type is None:
        return event_dict
    event_dict["exc_type"] = exc_type.__name__
    if isinstance(exc, HubError):
        event_dict["error"] = str(exc)
    event_dict["frames"] = [
        f"{frame.filename}:{frame.lineno}:{frame.name}" for frame in traceback.extract_tb(tb)
    ]
    return event_dict


def _library_record(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Shape a library's (aiokafka, uvicorn) log record: its sentence, masked, as ``detail``.

    Runs before ``redact``, which would replace the sentence (it has spaces): libraries log
    broker errors, topic names and addresses there, which operators need, and never message
    payloads. The shape scan still masks anything that looks like personal data.
    """
    record = event_dict.pop("_record", None)
    event_dict.pop("_from_structlog", None)
    if isinstance(record, logging.LogRecord):
        event_dict["detail"] = _scrub(str(event_dict.get("event")))[:500]
        event_dict["event"] = "library_log"
        event_dict["logger"] = record.name
        suppressed = getattr(record, _SUPPRESSED_ATTR, 0)
        if suppressed:
            event_dict["suppressed"] = suppressed
    return event_dict


_SUPPRESSED_ATTR = "hub_suppressed"
_MAX_TRACKED = 1000


class _RepeatFilter(logging.Filter):
    """Let one record per (logger, template, level) through per interval; count the others.

    The count rides on the next record let through for that key, as ``suppressed``.
    Hand-written: the stdlib has no such filter, and the PyPI log rate-limiters are small
    single-purpose packages, not worth a dependency for what is here one dictionary and
    a clock, with the count put where the hub's redaction and renderer see it.
    """

    def __init__(self, interval_seconds: float) -> None:
        super().__init__()
        self._interval = interval_seconds
        self._lock = threading.Lock()  # libraries may log from threads
        # key -> (when the last line for it was written, records suppressed since)
        self._seen: dict[tuple[str, str, int], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self._interval <= 0:
            return True
        key = (record.name, str(record.msg), record.levelno)
        now = time.monotonic()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last[0] < self._interval:
                self._seen[key] = (last[0], last[1] + 1)
                return False
            if last is None and len(self._seen) >= _MAX_TRACKED:
                self._forget_expired(now)
            self._seen[key] = (now, 0)
        if last is not None and last[1]:
            setattr(record, _SUPPRESSED_ATTR, last[1])
        return True

    def _forget_expired(self, now: float) -> None:
        # Bounded memory: templates are few, but a library formatting its own messages
        # (instead of passing arguments) makes each one a new key.
        for key, (since, _) in list(self._seen.items()):
            if now - since >= self._interval:
                del self._seen[key]
        while len(self._seen) >= _MAX_TRACKED:
            del self._seen[next(iter(self._seen))]


def configure_logging(
    *, format: str = "json", level: str = "INFO", library_repeat_seconds: float = 10.0
) -> None:
    """Set up structlog once for the process: JSON (production) or console (development).

    Standard-library logging (aiokafka, uvicorn) is routed through the same redaction and
    renderer, at WARNING and above, so every line on stderr has one format; its repeated
    records are collapsed to one line per ``library_repeat_seconds`` (0: never).
    """
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if format == "json"
        # Plain tracebacks: the default (rich) one prints every frame's locals, and a
        # frame's locals hold the event being processed (personal data).
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RepeatFilter(library_repeat_seconds))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[_library_record, redact, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            _render_exception,  # after redact, so callers cannot smuggle values in its keys
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(**context: Mapping[str, Any] | str | int | None) -> Any:
    """A logger with context bound; use snake_case event names (docs/operations.md lists them).

    It is a lazy proxy: the processors (redaction included) are taken from the configuration
    at its first use, not now, so a module-level ``_log = get_logger()`` created before
    ``configure_logging`` still redacts.
    """
    return structlog.get_logger(**context)
