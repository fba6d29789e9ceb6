"""A parked delivery holds back its own subject only: equal ids of other kinds are other subjects."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from aiokafka.structs import ConsumerRecord

from hub.connectors.registry import WebhookDelivery
from hub.delivery.breaker import CircuitBreaker
from hub.delivery.channel import Channel, WebhookTarget, parking_key
from hub.settings import WebhookSettings
from hub.testing import InMemoryPipeline, load_example, make_event

NOW = datetime(2025, 3, 22, 9, 30, tzinfo=UTC)


class _Producer:
    """Takes what the channel parks."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None]] = []

    async def send_and_wait(
        self,
        topic: str,
        key: bytes | None = None,
        value: bytes | None = None,
        headers: object = None,
    ) -> object:
        self.sent.append((topic, key))
        offset = len(self.sent)

        class _Metadata:
            partition = 0

        _Metadata.offset = offset  # type: ignore[attr-defined]
        return _Metadata


async def test_a_gps_refused_referral_does_not_hold_back_the_back_offices_decision() -> None:
    """A referral id equal to the wijkteam's request id: the referral parked, the decision still sent."""
    hub = InMemoryPipeline(clock=lambda: NOW)
    swt = hub.registry.only("swt")
    topic = hub.layout.deliveries(swt)
    requested = load_example("provisions.requested/valid/huishouden-taakgericht.json")
    same_id = requested["data"]["request_id"]
    referral = make_event(
        "nl.sociaaldomein.referrals.submitted.v1",
        referral_id=same_id,
        envelope={"subject": same_id},
    )
    decided = load_example("provisions.decided/valid/huishouden-granted.json")
    deliveries = [
        record
        for event in (requested, referral, decided)
        for record in hub.feed(event)
        if record.topic == topic
    ]
    assert len(deliveries) == 2
    assert len({record.key for record in deliveries}) == 1  # one Kafka key for both
    posted: list[str] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        kind = json.loads(request.read())["type"]
        posted.append(kind)
        # The wijkteam's system refuses the referral for a reason of its own.
        return httpx.Response(422 if kind.endswith("referrals.submitted.v1") else 204)

    parked: set[bytes] = set()
    target = WebhookTarget(
        swt.model_copy(
            update={"delivery": WebhookDelivery(url="https://swt.example/h", secret_env="S")}
        ),
        "https://swt.example/h",
        (b"k" * 32,),
    )

    async def is_parked(subject: bytes) -> bool:
        return subject in parked

    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        channel = Channel(
            target,
            layout=hub.layout,
            settings=WebhookSettings(),
            client=client,
            breaker=CircuitBreaker(failure_threshold=5, cooldown_seconds=1),
            producer=_Producer(),  # type: ignore[arg-type]
            on_parked=lambda subject, _partition, _offset: parked.add(subject),
        )
        reasons = []
        for offset, out in enumerate(deliveries):
            record = ConsumerRecord(
                topic, 0, offset, 0, 0, out.key, out.value, None, 0, 0, list(out.headers)
            )
            reasons.append(await channel.handle(record, is_parked))

    assert reasons == ["HTTP_422", None]
    assert posted == [
        "nl.sociaaldomein.referrals.submitted.v1",
        "nl.sociaaldomein.provisions.decided.v1",
    ]
    assert parked == {b"referrals.referral_id\x1f" + same_id.encode()}


def test_a_delivery_without_a_kind_is_parked_by_its_key_as_before() -> None:
    """Deliveries written before the kind header keep their bare key as subject."""
    record = ConsumerRecord("t", 0, 0, 0, 0, b"R-1", b"{}", None, 0, 0, [])
    assert parking_key(record) == b"R-1"
