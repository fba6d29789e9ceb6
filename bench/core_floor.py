"""What any pipeline must spend per referral on library calls alone, against ``json.loads``.

Run: .venv/bin/python bench/core_floor.py [--events N] [--repeats R]

The in-memory target of the core (docs/benchmarks.md) is the pipeline at most 10x stdlib
``json.loads`` of the record value. This measures, in the same run and on the same
referrals, the calls that no implementation of the contract can leave out, each at its
fastest (Rust parser and encoder, the compiled pydantic-core validator, OpenSSL):

- parse the record value (``pydantic_core.from_json``, faster than ``json.loads``);
- validate the data against its contract model (the model's core validator);
- dump the validated data to JSON-ready values (``to_python(mode="json")``);
- encode every record the hub writes for it (delivery, disclosure record, status,
  state) from ready dicts (``pydantic_core.to_json``);
- one keyed pseudonym per BSN, two name-based UUIDs (delivery and disclosure ids).

The sum is a floor: it leaves out the envelope checks, the rules, routing, projection
and building the records. The pipeline's own share is the rest of its time.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.core_bench import (  # noqa: E402
    GP,
    Record,
    fastest_per_event_us,
    pipeline_runner,
    quiet_logging,
)
from bench.harness import Referrals  # noqa: E402
from pydantic_core import from_json, to_json  # noqa: E402

from hub.envelope import from_kafka  # noqa: E402
from hub.pipeline import InboundRecord  # noqa: E402
from hub.privacy.pseudonym import DEMO_PSEUDONYM_SECRET, Pseudonymiser  # noqa: E402
from hub.schemas import TYPES  # noqa: E402
from hub.schemas.common import DEFAULT_RESULT_AREAS, ValidationContext  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from hub.testing import InMemoryPipeline  # noqa: E402
from hub.topics import TopicLayout  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    quiet_logging()
    count = args.events

    topic = TopicLayout(HubSettings().kafka.topic_prefix).inbound(GP)
    records = [
        Record(topic, 0, offset, key, tuple(headers), value)
        for offset, (key, headers, value) in enumerate(Referrals().take(count))
    ]
    values = [r.value for r in records]
    events = [from_kafka(r.key, r.headers, r.value) for r in records]
    spec = TYPES[events[0]["type"]]
    validator, serializer = spec.model.__pydantic_validator__, spec.model.__pydantic_serializer__
    context = ValidationContext(event_date=date(2026, 1, 1), result_areas=DEFAULT_RESULT_AREAS)
    models = [validator.validate_python(e["data"], context=context) for e in events]

    # What the hub writes for each referral, as ready dicts (the encode floor).
    runner = InMemoryPipeline(HubSettings())
    written = runner.feed_records(
        InboundRecord(r.topic, r.partition, r.offset, r.key, r.value, r.headers) for r in records
    )
    outputs = [from_json(o.value) for o in written if o.value is not None]
    bsns = [
        person["bsn"]
        for e in events
        for person in [e["data"]["client"], *e["data"].get("household", [])]
        if "bsn" in person
    ]
    pseudonymise = Pseudonymiser(DEMO_PSEUDONYM_SECRET)
    namespace = uuid.uuid4()

    def loads() -> None:
        for value in values:
            json.loads(value)

    def parse() -> None:
        for value in values:
            from_json(value)

    def validate() -> None:
        for e in events:
            validator.validate_python(e["data"], context=context)

    def dump() -> None:
        for m in models:
            serializer.to_python(m, mode="json", exclude_unset=True)

    def encode() -> None:
        for o in outputs:
            to_json(o)

    def pseudonyms() -> None:
        for bsn in bsns:
            pseudonymise(bsn)

    def ids() -> None:
        for e in events:
            uuid.uuid5(namespace, e["id"] + "swt")
            uuid.uuid5(namespace, e["id"] + "disclosure")

    pipeline = pipeline_runner(records)
    pipeline()
    parts = {
        "json_loads": loads,
        "parse": parse,
        "validate": validate,
        "dump": dump,
        "encode_outputs": encode,
        "pseudonyms": pseudonyms,
        "ids": ids,
        "pipeline": pipeline,
    }
    # Interleaved, the fastest pass of each: the core benchmark's own method.
    us = fastest_per_event_us(parts, count, args.repeats)
    floor = sum(v for k, v in us.items() if k not in {"json_loads", "pipeline"})
    base = us["json_loads"]
    print(
        f"{count} referrals; {len(outputs) / count:.1f} records written and {len(bsns) / count:.1f} BSNs per referral"
    )
    print(f"{'part':24} {'us/event':>9} {'x json.loads':>13}")
    for name, value in us.items():
        print(f"{name:24} {value:9.2f} {value / base:13.2f}")
    print(f"{'library floor (sum)':24} {floor:9.2f} {floor / base:13.2f}")
    print(
        f"{'pipeline - floor':24} {us['pipeline'] - floor:9.2f} {(us['pipeline'] - floor) / base:13.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
