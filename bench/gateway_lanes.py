"""How long one partner waits at the gateway while others post large bodies, with and without lanes.

Run: .venv/bin/python bench/gateway_lanes.py [--kind check|parse] [--senders N] [--bodies N]
     [--rounds R]
     .venv/bin/python bench/gateway_lanes.py --shapes

The gateway app in memory (``create_app`` over a recording sink, no Kafka): ``--senders``
GPs each post ``--bodies`` batches of about 1 MiB: with ``--kind check`` 100 referrals of
10 KiB, each with an unknown field (every event read and checked, answered 207); with
``--kind parse`` 62,000 small JSON objects (only parsed: answered 413 BATCH_TOO_LARGE once
read); docs/http-api.md, "Large bodies off the loop"), while the wijkteam posts one small valid event 20 ms after each answer and notes
how long after it was due the answer came (a held loop delays the wake-up too). Once with the large bodies in ``PartnerLanes`` (the gateway as it runs), once
with all work on the event loop (``ON_LOOP_BYTES`` raised past the bodies: the gateway
before the lanes), in turn, ``--rounds`` times. Printed: the small requests' median and
worst latency in each setting, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in tests/
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from tests.unit.gateway.gatewaytest import BATCH, KEYS, SWT_SUBJECT, auth  # noqa: E402

import hub.gateway.limits as limits  # noqa: E402
from hub.connectors.registry import load_registry  # noqa: E402
from hub.gateway import GatewaySettings, StatusBook, create_app  # noqa: E402
from hub.gateway.testing import RecordingSink, with_credentials  # noqa: E402
from hub.testing import make_event  # noqa: E402
from hub.topics import TopicLayout  # noqa: E402

AGB = {"gp-de-linde": "01234567", "gp-het-anker": "01765432"}
SENDERS = tuple(AGB)


def parse_body() -> bytes:
    """62,000 small JSON objects in a batch: about 1 MiB the gateway parses, then refuses (413)."""
    return ("[" + ",".join(['{"a":1,"b":"x"}'] * 62_000) + "]").encode()


def large_body(partner: str) -> bytes:
    """A batch of 100 referrals of about 10 KiB each, each with an unknown field: about 1 MiB.

    Every event is read and checked against the contract (answered 207, each rejected):
    the work a partner's large batch costs the gateway.
    """
    events = []
    for _ in range(100):
        event = make_event("referrals.submitted")
        event["source"] = f"urn:nld:agb:{AGB[partner]}"
        event["data"]["referrer"]["agb"] = AGB[partner]
        event["data"]["notes_from_practice"] = "x" * 8_500  # FIELD_UNKNOWN
        events.append(event)
    return json.dumps(events).encode()


async def small_latencies(kind: str, senders: int, bodies: int) -> list[float]:
    """Seconds per small request of the wijkteam while ``senders`` partners post large bodies."""
    registry = with_credentials(
        load_registry(), api_keys=KEYS, mtls_subjects={"swt-zwolle": [SWT_SUBJECT]}
    )
    app = create_app(
        settings=GatewaySettings(rate_limit="100000/minute"),
        registry=registry,
        layout=TopicLayout("bench"),
        sink=RecordingSink(),
        book=StatusBook(max_records=1000, recent_ids=1000),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw", timeout=120
        ) as client,
    ):

        async def post_large(partner: str) -> None:
            body, expected = (large_body(partner), 207) if kind == "check" else (parse_body(), 413)
            for _ in range(bodies):
                answer = await client.post(
                    "/events", content=body, headers=auth(partner, content_type=BATCH)
                )
                if answer.status_code != expected:
                    raise SystemExit(f"a large batch was answered {answer.status_code}")

        large = [asyncio.create_task(post_large(p)) for p in SENDERS[:senders]]
        latencies = []
        while not latencies or not all(task.done() for task in large):
            # Counted from when the request was due, 20 ms after the last answer: a loop held
            # by other work delays the wake-up as much as the answer.
            due = time.perf_counter() + 0.02
            await asyncio.sleep(0.02)
            answer = await client.post(
                "/events", json=make_event("cases.opened"), headers=auth("swt-zwolle")
            )
            if answer.status_code != 202:
                raise SystemExit(f"the small request was answered {answer.status_code}")
            latencies.append(time.perf_counter() - due)
        await asyncio.gather(*large)
    return latencies


def shapes() -> None:
    """Milliseconds per MiB to read a batch body, by the shape of its JSON (fastest of five).

    What one large body costs the thread that reads it (``HttpBatch.read``: the strict
    parse, then one reading per element), and the JSON parser's own call within it.
    """
    from pydantic_core import from_json

    from hub.inbound import HttpBatch, HttpMessage

    bodies = {
        "referrals, 100 of 10 KiB": large_body("gp-de-linde"),
        'objects {"a":1,"b":"x"}': parse_body(),
        "empty objects {}": ("[" + ",".join(["{}"] * 340_000) + "]").encode(),
        "numbers 0": ("[" + ",".join(["0"] * 520_000) + "]").encode(),
    }
    headers = (("content-type", BATCH),)
    print(f"{'body':<26} | {'read, ms/MiB':>12} | {'of which from_json':>18}")
    for name, body in bodies.items():
        mib = len(body) / 2**20
        read = parse = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            HttpBatch().read(HttpMessage(headers, body))
            read = min(read, time.perf_counter() - started)
            started = time.perf_counter()
            from_json(body)
            parse = min(parse, time.perf_counter() - started)
        print(f"{name:<26} | {read * 1000 / mib:12.0f} | {parse * 1000 / mib:18.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=2, choices=range(1, len(SENDERS) + 1))
    parser.add_argument("--kind", choices=("check", "parse"), default="check")
    parser.add_argument("--shapes", action="store_true", help="time reading bodies by shape")
    parser.add_argument("--bodies", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.shapes:
        shapes()
        return
    on_loop = limits.ON_LOOP_BYTES
    rows = []
    for round_ in range(1, args.rounds + 1):
        for setting, threshold in (("lanes", on_loop), ("on the loop", 10**12)):
            limits.ON_LOOP_BYTES = threshold  # read at each call of PartnerLanes.run
            found = asyncio.run(small_latencies(args.kind, args.senders, args.bodies))
            rows.append((round_, setting, statistics.median(found), max(found), len(found)))
    limits.ON_LOOP_BYTES = on_loop
    print(f"{'round':>5} | {'setting':<11} | {'median':>9} | {'worst':>9} | small requests")
    for round_, setting, median, worst, count in rows:
        print(
            f"{round_:>5} | {setting:<11} | {median * 1000:7.0f} ms | {worst * 1000:7.0f} ms | {count}"
        )
    lanes = [r for r in rows if r[1] == "lanes"]
    loop = [r for r in rows if r[1] != "lanes"]
    ratio = statistics.median(r[2] for r in loop) / statistics.median(r[2] for r in lanes)
    print(f"median latency on the loop / with lanes: {ratio:.1f}x")


if __name__ == "__main__":
    main()
