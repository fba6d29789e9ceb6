"""Helpers for the gateway's unit tests: example events, partner keys, request headers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from hub.testing import load_example, make_event

REFERRAL = "nl.sociaaldomein.referrals.submitted.v1"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
# The test gateway's body limit: the smallest the settings allow, the contract's event limit.
LIMIT = 768 * 1024  # the smallest body limit the settings allow
SWT_SUBJECT = "CN=wijkteam.zwolle.example,O=Gemeente Zwolle,C=NL"

CODE_WORD = re.compile(r"[a-z][a-z-]*")
SENTENCE_EXAMPLES = ("2025-03-03T09:15:00+01:00",)  # in the contract's DATETIME_INVALID sentence

AppFactory = Callable[..., FastAPI]
"""make_app(**overrides): the gateway app over the test fixtures."""

# API keys in clear, per partner; the registry holds their SHA-256.
KEYS: dict[str, list[str]] = {
    partner: [f"key-{partner}"]
    for partner in (
        "swt-zwolle",
        "backoffice-zwolle",
        "veilig-thuis-ijsselland",
        "gp-het-anker",
        "provider-thuiszorg-zwolle",
        "provider-jeugdhulp-ijssel",
    )
} | {"gp-de-linde": ["key-gp-de-linde", "key-gp-de-linde-rotated"]}


def referral() -> dict[str, Any]:
    """GP de Linde's referral: the shared valid example with a fresh id."""
    return make_event(REFERRAL)


def poh_ggz_referral() -> dict[str, Any]:
    """The shared example referral from a POH-GGZ, as it is in examples/ (id included)."""
    return load_example("referrals.submitted/valid/poh-ggz-referral.json")


def auth(partner_id: str = "gp-de-linde", *, content_type: str = STRUCTURED) -> dict[str, str]:
    """Headers of a request by this partner with its first API key."""
    return {"Authorization": f"Bearer {KEYS[partner_id][0]}", "Content-Type": content_type}


def leaf_values(value: Any) -> set[str]:
    """Every string and number value in a JSON document, as text."""
    found: set[str] = set()
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int | float):
        found.add(json.dumps(value))
    elif isinstance(value, dict):
        for item in value.values():
            found |= leaf_values(item)
    elif isinstance(value, list):
        for item in value:
            found |= leaf_values(item)
    return found


def echoed_values(request: Any, problem: Any) -> set[str]:
    """The request's values found in a problem body's sentences or paths.

    Values of 4+ characters count, except lower-case code words (``huisarts``,
    ``sociaal-netwerk``): an error may list the contract's allowed codes. The sentences'
    own fixed examples are removed first.
    """
    texts = [problem.get("detail", "")]
    for error in problem.get("errors", []):
        texts += [error["message"], error["path"]]
    for fragment in SENTENCE_EXAMPLES:
        texts = [text.replace(fragment, "") for text in texts]
    return {
        value
        for value in leaf_values(request)
        if len(value) >= 4
        and CODE_WORD.fullmatch(value) is None
        and any(value in text for text in texts)
    }
