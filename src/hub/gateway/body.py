"""The request body's media type (one event or a batch) and its strict JSON."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Final

from hub.errors import ErrorCode
from hub.gateway.problems import Problem, ProblemError

__all__ = ["BATCH_MEDIA_TYPE", "STRUCTURED_MEDIA_TYPES", "Mode", "decode_json", "mode_of"]

STRUCTURED_MEDIA_TYPES: Final = ("application/cloudevents+json", "application/json")
BATCH_MEDIA_TYPE: Final = "application/cloudevents-batch+json"


class Mode(Enum):
    """How the body holds events (CloudEvents HTTP binding)."""

    STRUCTURED = "structured"  # one event, a JSON object
    BATCH = "batch"  # a JSON array of events


def _unsupported() -> ProblemError:
    return ProblemError(Problem(415, ErrorCode.CONTENT_TYPE_UNSUPPORTED.value))


def mode_of(content_type: str | None) -> Mode:
    """The mode a Content-Type announces; raises ProblemError(415) for anything else.

    A ``charset`` parameter is allowed only as UTF-8 (JSON's encoding, RFC 8259).
    """
    if not content_type:
        raise _unsupported()
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            raise _unsupported()
    media_type = media_type.lower()
    if media_type in STRUCTURED_MEDIA_TYPES:
        return Mode.STRUCTURED
    if media_type == BATCH_MEDIA_TYPE:
        return Mode.BATCH
    raise _unsupported()


def _reject_constant(_: str) -> Any:
    raise ValueError("not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")  # which value counts would be a guess
    return result


def decode_json(body: bytes) -> Any:
    """Strict JSON as hub.envelope reads it: UTF-8, no NaN/Infinity, no duplicate keys.

    Raises ProblemError(400, MALFORMED_JSON) for anything else, including nesting too deep
    for the parser and integers too long to convert.
    """
    try:
        # Decoded here: json.loads would also guess UTF-16 and UTF-32 from bytes.
        text = body.decode("utf-8")
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProblemError(Problem(400, ErrorCode.MALFORMED_JSON.value)) from None
