"""Structured logging with a redaction processor that keeps personal data out of every line.

Two layers, because either alone can fail:

1. Keys are allow-listed. A value logged under a key not in ``SAFE_KEYS`` is replaced
   by ``"[redacted]"``: a developer who logs ``client=...`` by mistake leaks nothing.
2. Values under safe keys must look like what those keys hold: single tokens (ids,
   codes, paths, topic names), no spaces, at most 200 ASCII characters. Free text, names
   with spaces and addresses are redacted whole. Within a token, shapes of personal data
   (a 9-digit number, a date, an e-mail address, a phone number, a postcode) are masked:
   an event id chosen by a partner could hold a BSN.

What this cannot catch: a single word without digits that is a name, initials or a
partial address, logged as the value of a safe key (``partner="Jansen"``). The safe keys are bound by hub code from hub-controlled
values; the one partner-chosen value among them is the CloudEvent ``id``.

Exceptions are rendered as type and frames only. Foreign exception messages are dropped
because they can quote input (pydantic, json, KeyError all do); the hub's own errors are
built never to carry payload values, so their sentence is kept.
"""

from __future__ import annotations

import logging
import re
import sys
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
        "disclosure_id", "trace_id", "instance", "group", "transactional_id",
        # Kafka coordinates
        "topic", "topics", "partition", "offset", "bootstrap_servers",
        # outcomes and counts
        "outcome", "code", "codes", "path", "paths", "status", "attempt", "count", "records",
        "deliveries", "disclosures", "state_changes", "dead_lettered", "duplicates",
        "duration_ms", "delay_seconds", "lag", "url_host", "port", "version", "command",
        "redacted_keys", "route", "method",
    }
)  # fmt: skip

_NUMERIC_KEYS = frozenset(
    {"partition", "offset", "attempt", "count", "records", "deliveries", "disclosures",
     "state_changes", "dead_lettered", "duplicates", "duration_ms", "delay_seconds", "lag",
     "port", "status", "redacted_keys"}
)  # fmt: skip
_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
_TOKEN = re.compile(r"^[A-Za-z0-9._:/@+\-\[\]*#=]{0,200}$")
_PERSONAL_SHAPES = re.compile(
    r"\b\d{8,9}\b"  # BSN (or a mistyped one) or other 8-9 digit number
    r"|\d{4}-\d{2}-\d{2}"  # a date (birth date)
    r"|[^\s@]+@[^\s@]+"  # e-mail address (or something close to one)
    r"|\+?\d[\d ()\-]{8,}\d"  # phone number
    r"|\b[1-9]\d{3}\s?[A-Za-z]{2}\b"  # postcode
)


def _mask(value: Any, key: str) -> Any:
    if isinstance(value, str):
        if not _TOKEN.match(value):
            return REDACTED
        return _PERSONAL_SHAPES.sub(REDACTED, value)
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
        event_dict["detail"] = _PERSONAL_SHAPES.sub(REDACTED, str(event_dict.get("event")))[:500]
        event_dict["event"] = "library_log"
        event_dict["logger"] = record.name
    return event_dict


def configure_logging(*, format: str = "json", level: str = "INFO") -> None:
    """Set up structlog once for the process: JSON (production) or console (development).

    Standard-library logging (aiokafka, uvicorn) is routed through the same redaction and
    renderer, at WARNING and above, so every line on stderr has one format.
    """
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr)
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
