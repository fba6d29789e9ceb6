"""The provider connector's iWmo endpoint: POST /iwmo/v1/messages (docs/iwmo.md).

Declared by the provider connector (``hub.roles.provider``) as an ``HttpEndpoint`` and
bound by the gateway (``bind``) when some provider has ``iwmo: true``; the gateway has
already authenticated the provider, checked its format, the media type, the rate limit
and the size when ``IwmoEndpoint.answer`` is given the body.

A 305/307 is read (level 1: problem+json ``{code, path}``), checked against the hub's state
at receipt (levels 2-4) and answered 200 with its 306/308. The state is an ``IwmoBook``
that ``IwmoTail`` keeps from three compacted topics; before each message the tail reads
them up to their last stable offsets, so every transaction committed before the request
is seen. On approval the ``care.started``/``care.stopped`` events go to the provider's
inbound topic in binary mode, exactly as POST /events would put them, together with the
translator's records in ONE transaction (``KafkaIwmoWriter``); a failed transaction
answers 503 and stores nothing. A 302 is matched to a 301 the router sent, its outcome
stored (204), and shown on GET /events/{id} of the assignment (``event_status``).
``IwmoOverdueCheck`` names 301s whose 302 is overdue.

One gateway process answers one iWmo message at a time (a lock around check and write),
so two messages of one provider never pass the checks against the same state.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from prometheus_client import Counter
from starlette.responses import Response

from hub.background import BackgroundTask
from hub.connectors.registry import Partner, PartnerRegistry
from hub.envelope import AMSTERDAM, to_kafka
from hub.errors import ErrorCode, InvalidEvent
from hub.families.state import assignment_key, care_starts
from hub.gateway.endpoints import EndpointContext, Service
from hub.gateway.intake import Validator
from hub.gateway.limits import PartnerLanes
from hub.gateway.problems import Problem, ProblemCode
from hub.gateway.sink import KafkaRecord
from hub.gateway.status import StatusBook, status_key
from hub.iwmo import (
    AssignmentRetour,
    CareMessage,
    IwmoCode,
    IwmoSettings,
    MessageRefused,
    ReceiptContext,
    answer_care_message,
    identificatie_301,
    read_inbound,
)
from hub.iwmo import Problem as IwmoLevel1
from hub.iwmo.book import IwmoBook, answer_records, outcome_record
from hub.kafka import (
    HealingProducer,
    KafkaError,
    Record,
    TopicPartition,
    is_kafka_failure,
    kafka_retrying,
)
from hub.kafka.changelog import CompactedReader
from hub.observability.logging import get_logger
from hub.privacy.pseudonym import Pseudonymiser
from hub.settings import KafkaSettings, RetrySettings
from hub.topics import TopicLayout

__all__ = [
    "IWMO_MESSAGES",
    "IWMO_RETOUR_OVERDUE",
    "XML_MEDIA_TYPE",
    "IwmoEndpoint",
    "IwmoOverdueCheck",
    "IwmoProblem",
    "IwmoStore",
    "IwmoSync",
    "IwmoTail",
    "KafkaIwmoWriter",
    "bind",
    "iwmo_transactional_id",
]

XML_MEDIA_TYPE: Final = "application/xml"
_RETRY = RetrySettings(initial_seconds=0.5, max_seconds=10.0)
_FOLLOW_POLL_MS = 50  # a sync waits for at most one poll to end
# Records taken into the book per round. The tail shares the gateway's event loop: a round
# over everything its consumer held (a whole fetch of the routing-state changelog, tens of
# thousands of records) kept every request waiting for a quarter of a second at 100,000
# state records (docs/benchmarks.md, "Seventh pass").
_ROUND_RECORDS: Final = 500
_UNMATCHED_PATH = "/Bericht/Header/BerichtIdentificatie/Identificatie"

IWMO_MESSAGES = Counter(
    "hub_gateway_iwmo_messages_total",
    "iWmo documents answered, by message (302, 305, 307; unknown when refused at level 1) "
    "and outcome (accepted, rejected, replayed, refused, unmatched, acknowledged).",
    ["kind", "outcome"],
)
IWMO_RETOUR_OVERDUE = Counter(
    "hub_gateway_iwmo_retour_overdue_total",
    "301s without a 302 within iwmo.retour_overdue_working_days, by provider.",
    ["partner"],
)


def iwmo_transactional_id(kafka: KafkaSettings) -> str:
    """``<group id>-gateway-iwmo-<hostname>-<pid>``: one per gateway process.

    Unique per process, so gateways running side by side never fence each other; a
    restarted container (same hostname, and pid 1 again) fences its predecessor's
    producer, which aborts a transaction it left open. A process that dies leaves an
    open transaction to the broker's ``transaction.timeout.ms``
    (``iwmo.transaction_timeout_ms``): until then read_committed readers of those
    partitions (the router, this tail) wait.
    """
    return f"{kafka.group_id}-gateway-iwmo-{socket.gethostname()}-{os.getpid()}"


class IwmoProblem(Problem):
    """A level-1 refusal as problem+json: ``code`` and ``path`` (an element location), no value."""

    __slots__ = ("path", "sentence")

    def __init__(self, refused: IwmoLevel1) -> None:
        super().__init__(refused.status, refused.code.value)
        self.path = refused.path
        self.sentence = refused.message

    def body(self) -> dict[str, Any]:
        """The problem body with the element's path, and the code's own sentence."""
        body = super().body()
        body["detail"] = self.sentence
        body["path"] = self.path
        body["errors"] = [{"path": self.path, "code": self.code, "message": self.sentence}]
        return body


class IwmoStore(Protocol):
    """Writes records in one Kafka transaction."""

    @property
    def connected(self) -> bool:
        """True while a transactional producer is ready."""
        ...

    async def write(self, records: Sequence[KafkaRecord]) -> bool:
        """Write every record in one transaction; True once it committed, False if it did not."""
        ...


class IwmoSync(Protocol):
    """Brings the book up to date with every transaction committed so far."""

    async def sync(self, timeout_seconds: float) -> None:
        """Return once the book holds what was committed before the call; raises when it cannot."""
        ...


class IwmoTail:
    """Follows the state changelog, ``<prefix>.iwmo`` and ``<prefix>.iwmo-receipts`` into an IwmoBook.

    Reconnects with backoff and never fails. ``sync`` reads up to the topics' last stable
    offsets between two polls of the follow loop (a lock keeps the two apart).
    """

    def __init__(self, kafka: KafkaSettings, layout: TopicLayout, book: IwmoBook) -> None:
        self._kafka = kafka
        self._state = layout.state
        self._own = layout.iwmo
        self._receipts = layout.iwmo_receipts
        self._book = book
        self._task = BackgroundTask("gateway-iwmo-tail", self._run)
        self._reader: CompactedReader | None = None
        self._lock = asyncio.Lock()
        self._caught_up = asyncio.Event()
        self._loading = True

    @property
    def caught_up(self) -> asyncio.Event:
        """Set once the tail has read all three topics to their end at least once."""
        return self._caught_up

    def is_current(self) -> bool:
        """True while the book holds the topics read to their end (not during a re-read)."""
        return self._caught_up.is_set() and not self._loading

    async def start(self) -> None:
        """Start following in the background; returns at once."""
        self._task.start()

    async def stop(self) -> None:
        """Stop following."""
        await self._task.stop()

    async def sync(self, timeout_seconds: float) -> None:
        """Read every committed record up to now; TimeoutError or a Kafka error when it cannot."""
        async with asyncio.timeout(timeout_seconds):
            await self._caught_up.wait()
            async with self._lock:
                reader = self._reader
                if reader is None:
                    raise KafkaError("the iWmo tail is reconnecting")
                await reader.catch_up(limit_seconds=timeout_seconds, max_records=_ROUND_RECORDS)

    async def _run(self) -> None:
        async for attempt in kafka_retrying(
            _RETRY,
            event="gateway_iwmo_tail_retrying",
            doing="following the iWmo topics",
            # Everything: a bug must not end the tail silently (checks would read old state).
            retry_on=lambda exc: isinstance(exc, Exception),
        ):
            with attempt:
                try:
                    await self._follow()
                except Exception as exc:
                    if not is_kafka_failure(exc):
                        get_logger().error("gateway_iwmo_tail_failed", exc_info=exc)
                    raise

    async def _follow(self) -> None:
        reader = CompactedReader(self._kafka, [self._state, self._own, self._receipts], self._apply)
        try:
            async with self._lock:
                await reader.open()
                self._reader = reader
                # From the start again: a tombstone compacted away meanwhile must not leave
                # its key behind. No check reads the book until this read is complete.
                self._loading = True
                self._book.reset()
                await reader.catch_up(limit_seconds=math.inf, max_records=_ROUND_RECORDS)
                self._loading = False
            if not self._caught_up.is_set():
                self._caught_up.set()
                get_logger().info("gateway_iwmo_loaded", count=self._book.sent_count)
            while True:
                async with self._lock:
                    await reader.follow(poll_ms=_FOLLOW_POLL_MS, max_records=_ROUND_RECORDS)
                await asyncio.sleep(0)  # let a waiting sync take the lock
        finally:
            self._reader = None
            await reader.close()

    def _apply(self, tp: TopicPartition, records: list[Record]) -> None:
        for record in records:
            key = (record.key or b"").decode("utf-8", "replace")
            try:
                if tp.topic == self._state:
                    self._book.apply_state(key, record.value, record.timestamp)
                elif tp.topic == self._own:
                    self._book.apply_own(key, record.value)
                else:
                    self._book.apply_receipt(key, record.value)
            except (ValueError, KeyError, TypeError):
                get_logger().warning(
                    "iwmo_record_unreadable",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )


class KafkaIwmoWriter:
    """An IwmoStore over one aiokafka transactional producer, connected in the background.

    A failed or timed-out transaction retires the producer and builds a new one with the
    same transactional id, which fences the old one and aborts what it left open. When
    Kafka refuses the transactional id for good (ACLs, credentials) iWmo answers 503.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        transactional_id: str,
        transaction_timeout_ms: int,
        timeout_seconds: float,
    ) -> None:
        self._timeout = timeout_seconds
        self._producer = HealingProducer(
            kafka,
            name="gateway-iwmo-producer",
            events="gateway_iwmo",
            retry=_RETRY,
            transactional_id=transactional_id,
            transaction_timeout_ms=transaction_timeout_ms,
            request_timeout_ms=int(timeout_seconds * 1000),
            linger_ms=0,
        )
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        """True once the transactional producer has started."""
        return self._producer.connected

    async def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        self._producer.start()

    async def stop(self) -> None:
        """Close the producer (or stop trying to connect)."""
        await self._producer.stop()

    async def write(self, records: Sequence[KafkaRecord]) -> bool:
        """Write the records in one transaction within the timeout; False (nothing stored) else.

        When the timeout strikes while the commit is under way the transaction may still
        commit: the sender's retry then reads it back and is answered as a replay.
        """
        async with self._lock:  # one open transaction per producer
            started = self._producer.current
            if started is None:
                return False
            # In a task of its own: an abort after a failure waits on the coordinator, and
            # may wait long when the broker is away; the request must not wait with it.
            task = asyncio.create_task(_transaction(started, records), name="gateway-iwmo-write")
            done, _ = await asyncio.wait({task}, timeout=self._timeout)
            if task in done:
                failure = task.exception()
                if failure is None:
                    return True
                if not isinstance(failure, KafkaError | OSError):
                    raise failure  # a bug: the catch-all answers 503 and logs it
                reason = type(failure).__name__
            else:
                reason = "TimeoutError"
                task.cancel()
                self._producer.keep(task)
            get_logger().warning("gateway_iwmo_transaction_failed", exc_type=reason)
            self._producer.rebuild(started)
            return False


async def _transaction(started: Any, records: Sequence[KafkaRecord]) -> None:
    async with started.transaction():
        sent = [
            await started.send(r.topic, value=r.value, key=r.key, headers=list(r.headers))
            for r in records
        ]
        await asyncio.gather(*sent)


class IwmoEndpoint:
    """Answers one iWmo document from an authenticated provider with ``iwmo: true``."""

    def __init__(
        self,
        *,
        settings: IwmoSettings,
        layout: TopicLayout,
        book: IwmoBook,
        tail: IwmoSync,
        store: IwmoStore,
        validator: Validator,
        status: StatusBook,
        pseudonymise: Callable[[str], str],
        timeout_seconds: float,
        retry_after_seconds: int,
        services: Sequence[Service] = (),
        lanes: PartnerLanes,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.book = book
        self.services: Sequence[Service] = tuple(services)
        self._layout = layout
        self._tail = tail
        self._store = store
        self._validate = validator
        self._status = status
        self._pseudonymise = pseudonymise
        self._timeout = timeout_seconds
        self._retry_after = str(retry_after_seconds)
        self._lanes = lanes
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def max_bytes(self) -> int:
        """``iwmo.max_bytes``: a larger document is refused before parsing."""
        return self.settings.max_bytes

    def too_large(self) -> Problem:
        """413 XML_TOO_LARGE at ``/``, in level 1's problem+json."""
        return IwmoProblem(IwmoLevel1(IwmoCode.XML_TOO_LARGE, "/"))

    def event_status(self, partner: Partner, event_id: str) -> Mapping[str, Any]:
        """``iwmo``: the 302 outcomes of the 301s rendered from this event, when there are any."""
        # A 301 rendered from an event carries an Identificatie made from its (source, id).
        retours = self.book.retours_of(identificatie_301(partner.source, event_id))
        return {"iwmo": [retour.as_dict() for retour in retours]} if retours else {}

    def unavailable(self, code: str = ProblemCode.UNAVAILABLE.value) -> Response:
        """503 with Retry-After: nothing was stored."""
        return Problem(503, code, headers={"Retry-After": self._retry_after}).response()

    async def answer(self, partner: Partner, body: bytes) -> Response:
        """The answer to one document: 200 with a retour, 204 for a matched 302, else a problem."""
        assert partner.agb is not None  # a provider always has one (the registry checks)
        try:
            # Parsing and the structure check are pure and may take a while on a large
            # document: off the loop, in the provider's lane (one document at a time), so
            # other partners' requests are not held up.
            agb, max_bytes = partner.agb, self.settings.max_bytes
            message = await self._lanes.run(
                partner.id,
                len(body),
                lambda: read_inbound(body, sender_agb=agb, max_bytes=max_bytes),
            )
        except MessageRefused as refused:
            get_logger().info(
                "iwmo_message_refused",
                partner=partner.id,
                code=refused.problem.code.value,
                path=refused.problem.path,
            )
            IWMO_MESSAGES.labels(kind="unknown", outcome="refused").inc()
            return IwmoProblem(refused.problem).response()
        if not self._store.connected:
            return self.unavailable()
        async with self._lock:
            try:
                await self._tail.sync(self._timeout)
            except Exception as exc:
                if not (isinstance(exc, TimeoutError) or is_kafka_failure(exc)):
                    raise
                get_logger().warning("iwmo_state_unavailable", exc_type=type(exc).__name__)
                return self.unavailable()
            if isinstance(message, AssignmentRetour):
                return await self._retour(partner, message)
            return await self._care(partner, message)

    async def _retour(self, partner: Partner, retour: AssignmentRetour) -> Response:
        """A 302: 204 once its outcome is stored, 422 RETOUR_UNMATCHED without its 301."""
        if retour.afzender != self.settings.gemeentecode or not self.book.sent_301(
            retour.ontvanger, retour.identificatie
        ):
            get_logger().info("iwmo_retour_unmatched", partner=partner.id)
            IWMO_MESSAGES.labels(kind="302", outcome="unmatched").inc()
            return IwmoProblem(IwmoLevel1(IwmoCode.RETOUR_UNMATCHED, _UNMATCHED_PATH)).response()
        key, value = outcome_record(retour, self._clock())
        if not await self._store.write([KafkaRecord(self._layout.iwmo, key.encode(), (), value)]):
            return self.unavailable()
        self.book.apply_own(key, value)
        rejected = retour.rejected_numbers
        get_logger().info(
            "iwmo_retour_received",
            partner=partner.id,
            identificatie=retour.identificatie,
            outcome=retour.outcome,
            codes=sorted({code for codes in rejected.values() for code in codes}),
            count=len(rejected),
        )
        IWMO_MESSAGES.labels(kind="302", outcome=retour.outcome).inc()
        return Response(status_code=204)

    async def _care(self, partner: Partner, message: CareMessage) -> Response:
        """A 305/307: 200 with its retour once the answer (and on approval its events) is stored."""
        kind = str(int(message.kind))
        received_at = self._clock().astimezone(AMSTERDAM).replace(microsecond=0)
        answer = answer_care_message(
            message,
            self.book,
            ReceiptContext(
                received_at=received_at,
                source=partner.source,
                gemeentecode=self.settings.gemeentecode,
                pseudonymise=self._pseudonymise,
                xsd_versie_retour=self.settings.xsd_versie_retour,
            ),
        )
        if answer.replayed:
            get_logger().info("iwmo_message_replayed", partner=partner.id)
            IWMO_MESSAGES.labels(kind=kind, outcome="replayed").inc()
            return Response(answer.retour, media_type=XML_MEDIA_TYPE)
        records: list[KafkaRecord] = []
        accepted_ids: list[str] = []
        for event in answer.events:
            try:
                valid = self._validate(event, partner)
                key, headers, value = to_kafka(valid.to_cloud_event())
            except InvalidEvent as exc:
                # The translator approved what the contract refuses: a bug, not the sender's.
                get_logger().error(
                    "iwmo_event_refused",
                    partner=partner.id,
                    codes=[e.code.value for e in exc.errors],
                    paths=[e.path for e in exc.errors],
                )
                return self.unavailable(ErrorCode.PROCESSING_FAILED.value)
            topic = self._layout.inbound(partner.id)
            records.append(KafkaRecord(topic, key, tuple(headers), value))
            accepted_ids.append(valid.id)
        own, receipts = answer_records(answer, received_at)
        records += [KafkaRecord(self._layout.iwmo, k.encode(), (), v) for k, v in own]
        records += [KafkaRecord(self._layout.iwmo_receipts, k.encode(), (), v) for k, v in receipts]
        if not await self._store.write(records):
            return self.unavailable()
        for name, stored in own:
            self.book.apply_own(name, stored)
        for name, stored in receipts:
            self.book.apply_receipt(name, stored)
        for event_id in accepted_ids:
            self._status.mark_accepted(status_key(partner.source, event_id), partner.id)
        outcome = "accepted" if answer.accepted else "rejected"
        get_logger().info(
            "iwmo_message_answered",
            partner=partner.id,
            outcome=outcome,
            codes=sorted({c for codes in answer.retourcodes.values() for c in codes}),
            paths=[f.path for f in answer.findings],
            count=len(accepted_ids),
        )
        IWMO_MESSAGES.labels(kind=kind, outcome=outcome).inc()
        return Response(answer.retour, media_type=XML_MEDIA_TYPE)


class IwmoOverdueCheck:
    """Every ``overdue_check_seconds``: log ``iwmo_retour_overdue`` for each 301 whose 302 is late.

    ``current`` says whether the book is read to its end (``IwmoTail.is_current``).

    Each gateway process names each overdue 301 once (again after a restart).
    """

    def __init__(
        self,
        book: IwmoBook,
        registry: PartnerRegistry,
        settings: IwmoSettings,
        *,
        current: Callable[[], bool],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._book = book
        self._registry = registry
        self._settings = settings
        self._current = current
        self._clock = clock
        self._task = BackgroundTask("gateway-iwmo-overdue", self._run)

    async def start(self) -> None:
        """Start checking in the background."""
        self._task.start()

    async def stop(self) -> None:
        """Stop checking."""
        await self._task.stop()

    def check(self) -> int:
        """Name the 301s overdue now; how many."""
        late = self._book.overdue(self._clock(), self._settings.retour_overdue_working_days)
        for each in late:
            partner = self._registry.by_agb(each.provider_agb)
            name = partner.id if partner is not None else "unknown"
            get_logger().warning(
                "iwmo_retour_overdue", partner=name, identificatie=each.identificatie
            )
            IWMO_RETOUR_OVERDUE.labels(partner=name).inc()
        return len(late)

    async def _run(self) -> None:
        while True:
            # Only over a book read to its end: halfway, a 301 may be known before its 302.
            if self._current():
                try:
                    self.check()
                except Exception as exc:  # a bug must not end the check silently
                    get_logger().error("iwmo_overdue_check_failed", exc_info=exc)
                await asyncio.sleep(self._settings.overdue_check_seconds)
            else:
                await asyncio.sleep(1.0)


def bind(context: EndpointContext) -> IwmoEndpoint:
    """POST /iwmo/v1/messages on Kafka: its state's tail, its transactional writer, the overdue check.

    The pseudonyms are the routing state's (the Bsn checks compare them), made with the
    deployment's current pseudonym key; the checks accept those of its earlier keys too.
    """
    iwmo = context.deployment.iwmo
    state = IwmoBook(
        assignment_key=assignment_key, care_starts=care_starts, replay_days=iwmo.replay_days
    )
    tail = IwmoTail(context.kafka, context.layout, state)
    writer = KafkaIwmoWriter(
        context.kafka,
        transactional_id=iwmo_transactional_id(context.kafka),
        transaction_timeout_ms=iwmo.transaction_timeout_ms,
        timeout_seconds=context.gateway.kafka_timeout_seconds,
    )
    overdue = IwmoOverdueCheck(state, context.registry, iwmo, current=tail.is_current)
    return IwmoEndpoint(
        settings=iwmo,
        layout=context.layout,
        book=state,
        tail=tail,
        store=writer,
        validator=context.validator,
        status=context.status,
        pseudonymise=Pseudonymiser.from_settings(context.deployment.privacy),
        timeout_seconds=context.gateway.kafka_timeout_seconds,
        retry_after_seconds=context.gateway.retry_after_seconds,
        services=(writer, tail, overdue),
        lanes=context.lanes,
    )
