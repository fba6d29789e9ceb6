"""What the webhook deliverer costs `hub run`'s event loop with many partners, and whether a broken one slows the rest.

Run: .venv/bin/python bench/webhook_stall.py [--partners N] [--broken none|refused|slow|hostile]
     [--seconds S] [--rate R] [--kafka HOST:PORT]

Registers ``--partners`` webhook partners, each with its deliveries topic (three partitions)
and parked topic, and runs a ``WebhookDeliverer`` as `hub run` does, with the default
timeouts, retries and breaker. Their endpoints are a real HTTP server (uvicorn and Starlette,
in a child process so its work is not on the measured loop) that notes how long each
delivery took from its release to its arrival. For ``--seconds`` a writer releases ``--rate``
deliveries a second to every partner, in transactions as the router does. With
``--broken``, the first partner's endpoint refuses connections (``refused``: nothing
listens on its port), accepts them and never answers (``slow``), or answers 503 with a
``Retry-After`` too long for a float (``hostile``). A probe beside the
deliverer on the same event loop (5 ms sleeps; how late it wakes is how long the router
would have waited) runs through the start and the load. Printed: the loop's longest
delays, and the healthy partners' delivery latency (release to arrival). The topics are
deleted afterwards. docs/benchmarks.md, "The lag monitor and the webhook deliverer".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the helpers live in bench/ and tests/
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from bench.core_bench import quiet_logging  # noqa: E402
from bench.harness import client_options, delete_topics_of, probed  # noqa: E402
from tests.integration.hubtest import isolated_settings  # noqa: E402

from hub.app import freeze_start_up  # noqa: E402
from hub.connectors.registry import Partner, WebhookDelivery  # noqa: E402
from hub.delivery.webhook import WebhookDeliverer  # noqa: E402
from hub.envelope import CloudEvent, to_kafka  # noqa: E402
from hub.settings import KafkaSettings, WebhookSettings  # noqa: E402
from hub.topics import DISCLOSURE_ID_HEADER, TopicLayout  # noqa: E402

SECRET_ENV = "HUB_BENCH_WEBHOOK_SECRET"
SECRET = "whsec_" + base64.b64encode(b"bench-webhook-secret-32-bytes!!!").decode()
EVENT_TYPE = "nl.sociaaldomein.referrals.status-changed.v1"


# -- the partners' endpoints, in a child process -------------------------------------------


def serve() -> None:
    """The child process: POST /ok/<partner> notes the delay, /slow/<partner> never answers."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    delays: dict[str, list[float]] = {}
    slow_requests = [0]

    async def ok(request: Request) -> Response:
        event = json.loads(await request.body())
        arrived = time.time()
        delays.setdefault(request.path_params["partner"], []).append(
            arrived - event["data"]["released"]
        )
        return Response(status_code=204)

    async def slow(request: Request) -> Response:
        slow_requests[0] += 1
        await asyncio.sleep(3600)  # well past the hub's timeouts: it gives up first
        return Response(status_code=204)

    async def hostile(request: Request) -> Response:
        # A Retry-After no float holds: the hub must take it as a long wait, not fail.
        return Response(status_code=503, headers={"retry-after": "9" * 400})

    async def stats(request: Request) -> Response:
        return JSONResponse({"delays": delays, "slow_requests": slow_requests[0]})

    app = Starlette(
        routes=[
            Route("/ok/{partner}", ok, methods=["POST"]),
            Route("/slow/{partner}", slow, methods=["POST"]),
            Route("/hostile/{partner}", hostile, methods=["POST"]),
            Route("/stats", stats),
        ]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1
    )
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.asynccontextmanager
async def endpoints() -> AsyncIterator[str]:
    """Start the endpoints' process; yield its base URL."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        port = int(await child.stdout.readline())
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    await client.get(f"http://127.0.0.1:{port}/stats")
                    break
                await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        try:
            await asyncio.wait_for(child.wait(), 10)
        except TimeoutError:
            child.kill()  # a request to the slow endpoint still open
            await child.wait()


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the bench ----------------------------------------------------------------------------


def partners(count: int, base: str, broken: str) -> list[Partner]:
    """``count`` webhook partners; the first one's endpoint broken as asked."""
    made = []
    for n in range(count):
        url = f"{base}/ok/wh-{n:04d}"
        if n == 0 and broken == "refused":
            url = f"http://127.0.0.1:{closed_port()}/hooks"
        elif n == 0 and broken in ("slow", "hostile"):
            url = f"{base}/{broken}/wh-{n:04d}"
        made.append(
            Partner(
                id=f"wh-{n:04d}",
                role="gp",
                source=f"urn:nld:agb:{20000000 + n}",
                agb=str(20000000 + n),
                delivery=WebhookDelivery(url=url, secret_env=SECRET_ENV),
            )
        )
    return made


async def create_topics(kafka: KafkaSettings, layout: TopicLayout, made: list[Partner]) -> None:
    """Each partner's deliveries and parked topics, and the disclosures topic."""
    topics = [NewTopic(layout.disclosures, 1, 1)]
    for partner in made:
        topics.append(NewTopic(layout.deliveries(partner), 3, 1))
        topics.append(NewTopic(layout.parked(partner.id), 3, 1))
    admin = AIOKafkaAdminClient(**client_options(kafka), request_timeout_ms=60_000)
    await admin.start()
    try:
        for start in range(0, len(topics), 100):
            await admin.create_topics(topics[start : start + 100])
    finally:
        await admin.close()
    await asyncio.sleep(2)  # leaders elected for every partition


async def release(
    kafka: KafkaSettings, layout: TopicLayout, made: list[Partner], rate: float, seconds: float
) -> int:
    """Release ``rate`` deliveries a second to every partner for ``seconds``, as the router does."""
    producer = AIOKafkaProducer(
        **client_options(kafka),
        transactional_id=f"bench-wh-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
    )
    await producer.start()
    sent = 0
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        tick = 0
        while loop.time() - started < seconds:
            async with producer.transaction():
                for partner in made:
                    subject = f"REF-{partner.id}-{tick:06d}"
                    event = CloudEvent(
                        id=str(uuid.uuid4()),
                        source="urn:nld:oin:00000001234567890000:systeem:hub",
                        type=EVENT_TYPE,
                        time=datetime.now(UTC).isoformat(),
                        subject=subject,
                        data={"referral_id": subject, "released": time.time()},
                    )
                    key, headers, value = to_kafka(event)
                    headers.append((DISCLOSURE_ID_HEADER, f"disc-{event.id}".encode()))
                    await producer.send(
                        layout.deliveries(partner), key=key, value=value, headers=headers
                    )
                    sent += 1
            tick += 1
            await asyncio.sleep(max(0.0, started + tick / rate - loop.time()))
    finally:
        await producer.stop()
    return sent


def quantiles(values: list[float]) -> str:
    ordered = sorted(values) or [0.0]

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    return f"p50 {at(0.5):.0f} ms, p99 {at(0.99):.0f} ms, max {ordered[-1] * 1000:.0f} ms"


def loop_figures(seen: Any) -> str:
    f = seen.figures()
    return (
        f"{f['seconds']:.1f} s, loop held up to {f['max_ms']:.0f} ms, p99 {f['p99_ms']:.0f} ms, "
        f"{f['over_50ms']:.0f} delays over 50 ms"
    )


async def main(bootstrap: str, count: int, broken: str, seconds: float, rate: float) -> None:
    settings = isolated_settings(bootstrap, partitions=3)
    kafka = settings.kafka
    layout = TopicLayout(kafka.topic_prefix)
    try:
        async with endpoints() as base:
            made = partners(count, base, broken)
            await create_topics(kafka, layout, made)
            deliverer = WebhookDeliverer(
                made,
                kafka=kafka,
                webhooks=WebhookSettings(),
                layout=layout,
                environ={SECRET_ENV: SECRET},
            )
            freeze_start_up()  # as `hub run` does once it is built
            stop = asyncio.Event()
            running = asyncio.create_task(deliverer.run(stop))
            try:
                started, _ = await probed(deliverer.ready.wait)
                print(f"{count} partners, broken: {broken}; start: {loop_figures(started)}")
                loaded, sent = await probed(lambda: release(kafka, layout, made, rate, seconds))
                healthy = made[1:] if broken != "none" else made
                expected = sent * len(healthy) // len(made)
                async with httpx.AsyncClient() as client:

                    async def arrived() -> dict[str, Any]:
                        answer = await client.get(f"{base}/stats")
                        return answer.json()  # type: ignore[no-any-return]

                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        got = await arrived()
                        done = sum(len(got["delays"].get(p.id, [])) for p in healthy)
                        if done >= expected:
                            break
                        await asyncio.sleep(0.5)
                print(f"under load ({rate:g}/s each): {loop_figures(loaded)}")
                if running.done() and running.exception() is not None:
                    error = running.exception()
                    inner = getattr(error, "exceptions", [error])  # a TaskGroup's group
                    ended = ", ".join(type(e).__name__ for e in inner)
                    print(f"the deliverer ended during the run ({ended}): every partner stopped")
                delays = [d for p in healthy for d in got["delays"].get(p.id, [])]
                print(
                    f"healthy partners: {len(delays)} of {expected} delivered; "
                    f"release to arrival {quantiles(delays)}"
                )
                if broken == "slow":
                    print(f"the slow endpoint was sent {got['slow_requests']} requests")
                if broken != "none":
                    breaker = deliverer.breaker(made[0].id)
                    print(f"the broken partner's breaker: {breaker.state.name}")
            finally:
                stop.set()
                with contextlib.suppress(Exception):  # reported above
                    await asyncio.wait_for(running, 30)
    finally:
        await delete_topics_of(kafka, kafka.topic_prefix + ".")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=50)
    parser.add_argument("--broken", choices=("none", "refused", "slow", "hostile"), default="none")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2.0, help="deliveries a second per partner")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--kafka", default=os.environ.get("HUB_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    arguments = parser.parse_args()
    if arguments.serve:
        serve()
        raise SystemExit(0)
    os.environ.setdefault("HUB_ENVIRONMENT", "development")
    quiet_logging()
    asyncio.run(
        main(
            arguments.kafka,
            arguments.partners,
            arguments.broken,
            arguments.seconds,
            arguments.rate,
        )
    )
