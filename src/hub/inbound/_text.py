"""What every adapter of a JSON format needs: the media type of a Content-Type, strict JSON."""

from __future__ import annotations

from typing import Any, Final

from hub.envelope import strict_loads

__all__ = ["NOT_JSON", "media_type", "strict_json"]

NOT_JSON: Final = object()
"""What ``strict_json`` gives for bytes that are not strict JSON."""


def media_type(content_type: str) -> str | None:
    """The lower-case media type of a Content-Type, None when it has a parameter other than a UTF-8 charset.

    UTF-8 is JSON's encoding (RFC 8259); any other parameter is one the hub cannot honour.
    An empty parameter (``application/json;``, or a trailing ``;``) is none: RFC 9110
    allows it.
    """
    media, *parameters = (part.strip() for part in content_type.split(";"))
    for parameter in parameters:
        if not parameter:
            continue
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            return None
    return media.lower()


def strict_json(body: bytes) -> Any:
    """Strict JSON as the hub reads it (UTF-8, no NaN/Infinity, no duplicate keys), else ``NOT_JSON``.

    Also ``NOT_JSON`` for nesting too deep for the parser and integers too long to convert.
    """
    try:
        # Decoded here: json.loads would also guess UTF-16 and UTF-32 from bytes.
        return strict_loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return NOT_JSON
