"""Helpers for testing the gateway: a recording sink, credentials, generated requests."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.connectors.registry import PartnerRegistry
from hub.gateway.auth import api_key_digest
from hub.gateway.sink import KafkaRecord

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["CANARY", "FuzzRequest", "RecordingSink", "fuzz_requests", "with_credentials"]


class RecordingSink:
    """An EventSink in memory: keeps what it is sent; can be told to fail or be disconnected."""

    def __init__(self) -> None:
        self.records: list[KafkaRecord] = []
        self.connected = True
        self.acknowledge = True
        self.reachable = True

    async def send(self, records: Sequence[KafkaRecord]) -> list[bool]:
        """Keep the records when acknowledging; otherwise keep nothing (Kafka did not take them)."""
        if not (self.connected and self.acknowledge):
            return [False] * len(records)
        self.records.extend(records)
        return [True] * len(records)

    async def probe(self) -> bool:
        """Whether the pretend cluster answers."""
        return self.connected and self.reachable


def with_credentials(
    registry: PartnerRegistry,
    *,
    api_keys: Mapping[str, Iterable[str]] | None = None,
    mtls_subjects: Mapping[str, Iterable[str]] | None = None,
) -> PartnerRegistry:
    """A copy of the registry with these API keys (in clear; stored hashed) and subjects per partner id."""
    api_keys = api_keys or {}
    mtls_subjects = mtls_subjects or {}
    partners = []
    for partner in registry:
        credentials = partner.credentials.model_copy(
            update={
                "api_key_sha256": tuple(
                    [
                        *partner.credentials.api_key_sha256,
                        *(api_key_digest(k) for k in api_keys.get(partner.id, ())),
                    ]
                ),
                "mtls_subjects": tuple(
                    [*partner.credentials.mtls_subjects, *mtls_subjects.get(partner.id, ())]
                ),
            }
        )
        partners.append(partner.model_copy(update={"credentials": credentials}))
    return PartnerRegistry(partners)


CANARY = re.compile(r"999[0-9]{6}|ZQ[A-Za-z0-9]{6}")
"""Values the fuzzer plants (BSN-shaped numbers, marker words) that no answer may repeat."""


@dataclass(frozen=True, slots=True)
class FuzzRequest:
    """One generated POST /events: who sends it (by source), its Content-Type and body."""

    source: str
    content_type: str
    body: bytes

    def canaries(self) -> set[str]:
        """The planted values in the body, which no problem body may contain."""
        return set(CANARY.findall(self.body.decode("utf-8", "replace")))


def fuzz_requests(examples: Sequence[Mapping[str, Any]]) -> SearchStrategy[FuzzRequest]:
    """A hypothesis strategy: valid examples mutated (fields replaced, removed, added), as one
    event, a batch or broken bytes, under right and wrong content types.

    Mutations plant canaries (CANARY) among the values, so a test can check that no answer
    quotes its input.
    """
    from hypothesis import strategies as st

    canaries = st.from_regex(r"\A(?:999[0-9]{6}|ZQ[A-Za-z0-9]{6})\Z")
    # Field names that look like identifiers are shown in error paths by design
    # (hub.envelope.path_key); a BSN-shaped one never is.
    bsn_keys = st.from_regex(r"\A999[0-9]{6}\Z")
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
        | canaries
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=6,
    )
    content_types = st.sampled_from(
        [
            "application/cloudevents+json",
            "application/json",
            "application/json; charset=utf-8",
            "application/cloudevents-batch+json",
            "text/plain",
            "application/cloudevents+json; charset=latin-1",
        ]
    )

    @st.composite
    def mutated(draw: st.DrawFn) -> dict[str, Any]:
        event: dict[str, Any] = copy.deepcopy(dict(draw(st.sampled_from(list(examples)))))
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            container, key = draw(st.sampled_from(_slots(event)))
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                container[key] = draw(values)
            elif action == "delete" and isinstance(container, dict):
                container.pop(key, None)
            elif isinstance(container, dict):
                container[draw(st.text(max_size=8) | bsn_keys)] = draw(values)
        return event

    @st.composite
    def requests(draw: st.DrawFn) -> FuzzRequest:
        content_type = draw(content_types)
        shape = draw(st.sampled_from(["one", "batch", "bytes"]))
        if shape == "batch":
            events = draw(st.lists(mutated(), min_size=1, max_size=4))
            source, payload = events[0].get("source"), json.dumps(events).encode()
        else:
            event = draw(mutated())
            source, payload = event.get("source"), json.dumps(event).encode()
            if shape == "bytes":
                cut = draw(st.integers(min_value=0, max_value=len(payload)))
                payload = payload[:cut] + draw(st.binary(max_size=8))
        return FuzzRequest(source if isinstance(source, str) else "", content_type, payload)

    return requests()


def _slots(event: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in the event, the root's attributes included."""
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                slots.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                slots.append((node, index))
                walk(node[index])

    walk(event)
    return slots
