"""The pipeline's output, byte for byte, on a corpus: every example, the scenario, variants.

``golden/pipeline_outputs.json`` holds what the pipeline wrote for the corpus (topics,
keys, values, headers of every record) when it was recorded; a change on the hot path
that alters one byte of a delivery, a header, a disclosure, state or status record, a
dead letter, an error code or a field path fails here. Recorded with
``python tests/unit/test_pipeline_golden.py`` (only when the output is meant to change).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden" / "pipeline_outputs.json"
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _pipeline() -> Any:
    """The demo hub's in-memory pipeline with a fixed clock and numbered trace ids."""
    from hub.testing import InMemoryPipeline

    hub = InMemoryPipeline(clock=lambda: NOW)
    numbers = itertools.count(1)
    ctx = dataclasses.replace(hub.pipeline._ctx, new_trace_id=lambda: f"{next(numbers):032x}")
    hub.pipeline._ctx = ctx
    return hub


def _fresh(hub: Any) -> Any:
    """The same pipeline with empty state: nothing known, nothing deduplicated."""
    from hub.state import StateStore

    hub.state, hub.held = StateStore(), StateStore()
    return hub


def _structured(hub: Any, event: dict[str, Any]) -> Any:
    """The event as a structured-mode record on its sender's inbound topic (no key)."""
    from hub.pipeline import InboundRecord
    from hub.testing import sender_of

    try:
        topic = hub.layout.inbound(sender_of(event, hub.registry).id)
    except LookupError:
        topic = hub.layout.inbound("gp-de-linde")
    value = json.dumps(event).encode()
    headers = (("content-type", b"application/cloudevents+json"),)
    return InboundRecord(topic, 0, 0, None, value, headers)


def _show(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "backslashreplace")


def _records(out: list[Any]) -> list[list[Any]]:
    # Values by their digest: the file stays small, and one changed byte still shows.
    return [
        [
            r.topic,
            _show(r.key),
            None if r.value is None else hashlib.sha256(r.value).hexdigest(),
            [[n, _show(v)] for n, v in r.headers],
        ]
        for r in out
    ]


def _variants(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Invalid and odd variants of a valid event: each top-level data field absent, null, wrong."""
    for name in event["data"]:
        for label, change in (("absent", None), ("null", "null"), ("number", 7), ("text", "x")):
            variant = json.loads(json.dumps(event))
            if change is None:
                del variant["data"][name]
            else:
                variant["data"][name] = None if change == "null" else change
            yield f"{name}:{label}", variant


def outputs() -> dict[str, list[list[Any]]]:
    """What the pipeline writes for every item of the corpus, by the item's name."""
    from hub.testing import EXAMPLES_DIR, invalid_examples, load_example, scenario

    result: dict[str, list[list[Any]]] = {}
    hub = _pipeline()
    for n, event in enumerate(scenario() * 2):  # the chain in order, then all again: duplicates
        result[f"scenario/{n}"] = _records(hub.feed(event))
    fresh = _pipeline()
    for path in sorted(EXAMPLES_DIR.glob("*/valid/*.json")):
        name = str(path.relative_to(EXAMPLES_DIR))
        event = load_example(path)
        result[name] = _records(_fresh(fresh).feed(event))
        for label, variant in _variants(event):
            result[f"{name}/{label}"] = _records(_fresh(fresh).feed(variant))
        # The value as partners write it: indented, escaped, with a key repeated.
        record = fresh.record(event)
        data = json.loads(record.value or b"null")
        for label, value in (
            ("indented", json.dumps(data, indent=2).encode()),
            ("ascii", json.dumps(data).encode()),
            ("repeated", (record.value or b"")[:-1] + b',"' + next(iter(data)).encode() + b'":1}'),
        ):
            changed = dataclasses.replace(record, value=value)
            result[f"{name}/{label}"] = _records(_fresh(fresh).feed(changed))
        extension = dataclasses.replace(record, headers=(*record.headers, ("ce_extra", b"x")))
        result[f"{name}/extension"] = _records(_fresh(fresh).feed(extension))
        result[f"{name}/structured"] = _records(_fresh(fresh).feed(_structured(fresh, event)))
    for example in invalid_examples():
        event = load_example(example.file)
        name = str(example.file.relative_to(EXAMPLES_DIR))
        result[name] = _records(_fresh(fresh).feed(_structured(fresh, event)))
    return result


def test_the_pipeline_writes_the_recorded_bytes() -> None:
    """Every record the pipeline writes for the corpus is byte for byte the recorded one."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = outputs()
    assert now.keys() == golden.keys()
    for name, records in now.items():
        assert records == golden[name], name


if __name__ == "__main__":
    from hub.observability.logging import configure_logging

    configure_logging(format="json", level="WARNING")
    GOLDEN.parent.mkdir(exist_ok=True)
    text = json.dumps(outputs(), indent=0, ensure_ascii=False, sort_keys=True)
    GOLDEN.write_text(text + "\n", encoding="utf-8")
    print(f"{GOLDEN}: {len(text):,} characters", file=sys.stderr)
