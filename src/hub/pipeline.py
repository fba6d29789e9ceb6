"""The story of one inbound record: decode -> validate -> dedupe -> rules -> release -> records -> encode.

``Pipeline.handle`` turns one record from a partner's inbound topic into the records the
hub writes for it: deliveries, disclosure records, state changes, a status record, or a
dead letter. It does no I/O: the router writes its output in one Kafka transaction.
``process`` is the per-event part (validate -> dedupe -> rules -> release) over a decoded
event; `hub preview` runs the very same function in memory.

Each stage is a function over typed values: the schemas validate (``ValidEvent``), routing
applies the stateful rules (``Ruling``) and chooses recipients, privacy projects, audit
builds the disclosure records (``Releases``); ``hub.records`` holds the status record and
the dead letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from prometheus_client import Counter
from pydantic_core import from_json, to_json

from hub.audit.chain import ChainHead, Signer, chain_of, head_key, record_hash
from hub.audit.record import DisclosureOutcome, linked
from hub.connectors.registry import Partner, PartnerRegistry
from hub.envelope import MAX_EVENT_BYTES, compact_size_bound, event_too_large, is_event_id, to_kafka
from hub.errors import ErrorCode, ErrorDetail, InvalidEvent
from hub.inbound import KAFKA_ADAPTERS, UNREAD_BYTES, KafkaAdapter, Reading, choose_kafka
from hub.observability import metrics
from hub.observability.logging import get_logger
from hub.records import DeadLetter, RecordCopy, StatusRecord
from hub.routing.context import RoutingContext
from hub.routing.decision import Decision, Outcome, OutcomeKind
from hub.routing.ids import trace_context
from hub.routing.origin import Origin
from hub.routing.render import PendingView
from hub.routing.route import release
from hub.routing.rules import apply_rules
from hub.routing.state_model import SeenMarker, seen_key
from hub.schemas import TYPES, ValidEvent, validate_event, validate_with_registry
from hub.schemas.paths import loggable_path
from hub.state.store import Overlay, StateStore
from hub.topics import DISCLOSURE_ID_HEADER, SUBJECT_KIND_HEADER, TopicLayout

__all__ = ["InboundRecord", "OutRecord", "Pipeline", "process", "process_in_memory"]

_log = get_logger()

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One Kafka record from a partner's inbound topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    received_at: datetime | None = None
    """When the broker appended it (log-append time); None: the hub's clock decides."""
    replays: int = 0
    """How many times a dead letter of it was replayed (``hub dlq replay``); 0: as sent."""
    replay_of: str | None = None
    """The dead letter this record is a replay of."""
    unreadable: str | None = None
    """Why the Kafka client could not unpack the record (then it has no key, value or
    headers, only its place): ``hub.kafka.UnreadableRecord``."""

    @property
    def size(self) -> int:
        """Bytes of key, value and headers: what the record costs, whatever it claims."""
        size = len(self.key or b"") + len(self.value or b"")
        for name, value in self.headers:
            size += len(name) + len(value or b"")
        return size


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One Kafka record the hub writes."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


# The contract's limit (messages.md, "Size") is 256 KiB of an event's compact JSON, which
# validation measures exactly as the gateway does, whatever the record's raw bytes (a
# value of \uXXXX escapes is three times its event). Only a record over the broker's own
# default limit (UNREAD_BYTES, 1 MiB) is refused unread. A dead letter carries a copy for
# replay only of a record within 256 KiB, so the dead letter always fits its topic.


class Pipeline:
    """Maps inbound records to output records: the live hub's per-record step.

    ``adapters`` read the records' wire formats (``hub.inbound``): by default Kafka
    structured and binary mode, chosen by each record's ``content-type``.
    """

    def __init__(
        self,
        layout: TopicLayout,
        registry: PartnerRegistry,
        ctx: RoutingContext,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        adapters: Sequence[KafkaAdapter] = KAFKA_ADAPTERS,
        role_adapters: Mapping[str, Sequence[KafkaAdapter]] | None = None,
        signer: Signer | None = None,
        checkpoint_every: int = 100,
    ) -> None:
        self._layout = layout
        self._signer = signer
        self._checkpoint_every = checkpoint_every
        self._registry = registry
        self._ctx = ctx
        self._clock = clock
        self._adapters = tuple(adapters)
        # A connector's own formats read its role's records only, before the common ones:
        # a format of one role must never take over another partner's records.
        self._by_role = {
            role: (*own, *self._adapters) for role, own in (role_adapters or {}).items()
        }
        self._delivery_topics = {p.id: layout.deliveries(p) for p in registry}
        # Read once: the layout builds each name anew, and every event writes to them.
        self._state_topic, self._held_topic = layout.state, layout.held
        self._status_topic, self._disclosure_topic = layout.status, layout.disclosures

    def handle(self, record: InboundRecord, state: Overlay, held: Overlay) -> list[OutRecord]:
        """Everything the hub writes for this record; its changes are also put into the overlays."""
        return self._handle(record, state, held, None)

    def handle_batch(
        self, records: Iterable[InboundRecord], state: Overlay, held: Overlay
    ) -> list[OutRecord]:
        """Everything the hub writes for records committed in one transaction.

        The same records as ``handle`` of each in turn, except each hash chain's head: a
        compacted state record that every event moves, so within one transaction only its
        last value counts, and it is written once, after the batch's other records.
        """
        heads: dict[bytes | None, OutRecord] = {}
        out: list[OutRecord] = []
        for record in records:
            out.extend(self._handle(record, state, held, heads))
        out.extend(heads.values())
        return out

    def _handle(
        self,
        record: InboundRecord,
        state: Overlay,
        held: Overlay,
        heads: dict[bytes | None, OutRecord] | None,
    ) -> list[OutRecord]:
        partner = self._sender(record)
        if partner is None:
            # Only the hub subscribes to inbound topics, so this is a misconfiguration,
            # not partner input; dead-letter rather than guess who sent it.
            outcome = _rejected(
                ErrorCode.SOURCE_MISMATCH,
                "source",
                "The inbound topic belongs to no registered partner.",
            )
        elif record.unreadable is not None:
            outcome = _rejected(
                ErrorCode.RECORD_UNREADABLE,
                "",
                "The Kafka record could not be unpacked (its compression or its framing is "
                "not what Kafka clients write); it is kept by its place on the inbound topic.",
            )
        elif (size := record.size) > UNREAD_BYTES:
            outcome = _too_large(self._identify(record), partner)
        else:
            outcome = self._decode_and_process(record, size, partner, state, held)
        return self._records(record, partner, outcome, state, heads)

    def _decode_and_process(
        self, record: InboundRecord, size: int, partner: Partner, state: Overlay, held: Overlay
    ) -> Outcome:
        adapter = choose_kafka(self._adapters_of(partner), record.headers)
        if adapter is None:
            return _rejected(
                ErrorCode.CONTENT_TYPE_UNSUPPORTED,
                "datacontenttype",
                "The record's content-type is not one the hub reads.",
            )
        try:
            reading = adapter.read(record)
            if reading.event is None:
                return _unreadable(reading, partner)
            received_at = record.received_at or self._clock()
            return process(
                reading.event,
                partner,
                state,
                self._ctx,
                held=held,
                received_at=received_at,
                size_at_most=compact_size_bound(size),
                replay=record.replays > 0,
            )
        except Exception:
            # A bug in the hub must not block the partition or lose the event: park it.
            _log.exception(
                "event_processing_failed",
                partner=partner.id,
                topic=record.topic,
                offset=record.offset,
            )
            return _rejected(
                ErrorCode.PROCESSING_FAILED,
                "",
                "The hub could not process this event; operators have been alerted and will replay it.",
            )

    def _records(
        self,
        record: InboundRecord,
        partner: Partner | None,
        outcome: Outcome,
        state: Overlay,
        heads: dict[bytes | None, OutRecord] | None,
    ) -> list[OutRecord]:
        """The outcome as Kafka records: state, status, then dead letter or deliveries, disclosures.

        With ``heads``, the chain's new head goes there (by key, replacing its earlier
        value) instead of into the records: ``handle_batch`` writes it once per batch.
        """
        # One log call per event with its context (no bound logger per event: at the usual
        # WARNING level the line is dropped, and binding cost as much as the call).
        context = {
            "partner": partner.id if partner else None,
            "event_id": outcome.event_id,
            "event_type": outcome.event_type,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        }
        labels = (_name(partner), _type_label(outcome.event_type))
        _count(metrics.EVENTS_IN, *labels)
        if outcome.kind is OutcomeKind.DUPLICATE:
            _count(metrics.EVENTS_DUPLICATE, *labels)
            _log.info("event_duplicate", **context)
            return []
        decision = outcome.decision
        out = [] if decision is None else self._state_records(decision)
        disclosures: list[OutRecord] = []
        if decision is not None and decision.disclosures:
            # Linked first: the chain's new head is state, written with the event's own.
            head, disclosures = self._disclosure_records(decision, record, state)
            if heads is None:
                out.append(head)
            else:
                heads[head.key] = head
        if not _copy_of_routed(outcome, state):
            out.extend(self._status_record(outcome, partner))
        if outcome.kind is OutcomeKind.DEAD_LETTERED:
            codes = [e.code.value for e in outcome.errors]
            _count(metrics.EVENTS_DEAD_LETTERED, *labels, codes[0])
            _log.info(
                "event_dead_lettered",
                **context,
                codes=codes,
                paths=[loggable_path(e.path) for e in outcome.errors],
            )
            out.append(self._dead_letter(record, partner, outcome))
        elif decision is not None:
            out.extend(self._delivery_records(decision))
            _log.info("event_routed", **context, deliveries=len(decision.deliveries))
            for alert in decision.alerts:
                # Codes and ids only: the document that could not be rendered is never logged.
                _log.error(
                    "delivery_not_rendered",
                    **context,
                    recipient=alert.recipient,
                    format=alert.format,
                    reason=alert.reason,
                    disclosure_id=alert.disclosure_id,
                )
        out.extend(disclosures)
        return out

    def refused(self, record: InboundRecord, exc: BaseException) -> list[OutRecord]:
        """What the hub writes when it cannot write this record's output: a dead letter, a status.

        Kafka refused the output (too large for its topic), or the hub's own code failed on
        the record outside the per-event step.

        Nothing of the event's own output is written (its state changes are dropped too),
        so the event had no effect; an operator can replay it once the cause is fixed.
        """
        partner = self._sender(record)
        event_id = self._identify(record) if partner is not None else None
        outcome = Outcome(
            kind=OutcomeKind.DEAD_LETTERED,
            event_id=event_id,
            source=partner.source if partner is not None and event_id is not None else None,
            errors=(
                ErrorDetail(
                    "",
                    ErrorCode.PROCESSING_FAILED,
                    f"The hub could not write its output for this event ({type(exc).__name__}); "
                    "operators have been alerted and will replay it.",
                ),
            ),
        )
        _count(
            metrics.EVENTS_DEAD_LETTERED,
            _name(partner),
            "unknown",
            ErrorCode.PROCESSING_FAILED.value,
        )
        _log.error(
            "event_output_refused",
            partner=partner.id if partner else None,
            event_id=event_id,
            exc_type=type(exc).__name__,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        out = self._status_record(outcome, partner)
        out.append(self._dead_letter(record, partner, outcome, copy=False))
        return out

    # ------------------------------------------------------------------ records

    def _adapters_of(self, partner: Partner | None) -> tuple[KafkaAdapter, ...]:
        return (
            self._adapters if partner is None else self._by_role.get(partner.role, self._adapters)
        )

    def _identify(self, record: InboundRecord) -> str | None:
        """The reportable id of a record not read in full; never raises (it runs on failures)."""
        try:
            adapter = choose_kafka(self._adapters_of(self._sender(record)), record.headers)
            event_id = None if adapter is None else adapter.identify(record)
        except Exception:
            return None
        # Checked here too, not left to the adapter: it becomes a long-lived record's key.
        return event_id if is_event_id(event_id) else None

    def _sender(self, record: InboundRecord) -> Partner | None:
        partner_id = self._layout.partner_of_inbound(record.topic)
        return self._registry.get(partner_id) if partner_id else None

    def _state_records(self, decision: Decision) -> list[OutRecord]:
        out = [
            OutRecord(self._state_topic, key.encode(), None if value is None else to_json(value))
            for key, value in decision.state_changes.items()
        ]
        for key, value in decision.held_changes.items():
            out.append(
                OutRecord(self._held_topic, key.encode(), None if value is None else to_json(value))
            )
        return out

    def _status_record(self, outcome: Outcome, partner: Partner | None) -> list[OutRecord]:
        """What became of the event, for its sender (GET /events/{id}); ids and codes only."""
        if outcome.event_id is None or outcome.source is None:
            return []  # the envelope was unreadable: there is no (source, id) to answer for
        decision = outcome.decision
        delivered: tuple[str, ...] = ()
        withheld: tuple[str, ...] = ()
        if decision is not None:
            delivered = tuple(dict.fromkeys([d.recipient for d in decision.deliveries]))
            withheld = tuple(
                dict.fromkeys(
                    [
                        r.recipient
                        for r in decision.disclosures
                        if r.outcome is DisclosureOutcome.WITHHELD
                    ]
                )
            )
        status = StatusRecord(
            event_id=outcome.event_id,
            source=outcome.source,
            partner=partner.id if partner else None,
            type=outcome.event_type,
            status="delivered" if outcome.kind is OutcomeKind.ACCEPTED else "dead-lettered",
            codes=tuple([e.code.value for e in outcome.errors]),
            recipients=delivered,
            withheld=withheld,
            at=self._clock().isoformat(),
            # A key the partner chose (an unknown field's, a map's) is shown as "*", as in
            # log lines and the dead letter's reason; the codes and the contract's own
            # names say where. A 422 over HTTP names it to its sender.
            errors=tuple((loggable_path(e.path), e.code.value, e.message) for e in outcome.errors),
        )
        return [OutRecord(self._status_topic, status.key, status.to_json())]

    def _delivery_records(self, decision: Decision) -> list[OutRecord]:
        out = []
        for delivery in decision.deliveries:
            key, headers, value = to_kafka(delivery.event)
            if delivery.disclosure_id:
                # Links later webhook attempts to this release's disclosure record.
                headers.append((DISCLOSURE_ID_HEADER, delivery.disclosure_id.encode()))
            if delivery.subject_kind:
                # Parking and replay tell subjects apart by it (hub.delivery.channel).
                headers.append((SUBJECT_KIND_HEADER, delivery.subject_kind.encode()))
            out.append(
                OutRecord(self._delivery_topics[delivery.recipient], key, value, tuple(headers))
            )
            _count(metrics.EVENTS_DELIVERED, delivery.event.type, delivery.recipient)
        return out

    def _disclosure_records(
        self, decision: Decision, inbound: InboundRecord, state: Overlay
    ) -> tuple[OutRecord, list[OutRecord]]:
        """The chain's new head (a state record) and the disclosure records, linked into it.

        Each record joins its inbound partition's hash chain; the head moves in the
        routing state, in the same transaction as the records (``hub.audit.chain``).
        Every ``checkpoint_every`` records a signed checkpoint of the head follows.
        """
        chain = chain_of(inbound.topic, inbound.partition)
        key = head_key(chain)
        head = ChainHead.of(state.get(key))
        out = []
        for record in decision.disclosures:
            if record.outcome is DisclosureOutcome.WITHHELD:
                _count(metrics.EVENTS_WITHHELD, record.event_type, record.recipient)
            value = linked(record, chain, head.seq + 1, head.hash).to_json()
            # Hashed from the bytes just written (their JSON is what a verifier reads back).
            head = ChainHead(head.seq + 1, record_hash(from_json(value, cache_strings=False)))
            # Keyed by chain: a chain's records and checkpoints share one partition, in order,
            # so the audit feed stores them in order and retention removes a chain's beginning.
            out.append(OutRecord(self._disclosure_topic, chain.encode(), value))
            if self._signer is not None and head.seq % self._checkpoint_every == 0:
                checkpoint = self._signer.checkpoint(chain, head, self._clock())
                out.append(OutRecord(self._disclosure_topic, chain.encode(), checkpoint.to_json()))
        value_of_head = head.value(self._clock().date().isoformat())
        state.put({key: value_of_head})
        return OutRecord(self._state_topic, key.encode(), to_json(value_of_head)), out

    def _dead_letter(
        self,
        record: InboundRecord,
        partner: Partner | None,
        outcome: Outcome,
        *,
        copy: bool = True,
    ) -> OutRecord:
        # The original record rides in the value (this topic has the short retention of
        # personal data) so an operator can replay it; the reason holds codes and paths only.
        # A record too large to copy is kept by reference (its inbound topic has the same
        # retention) and digest, so the dead letter always fits where the original did not.
        stored: tuple[tuple[str, bytes], ...] | None = None
        # An event refused as too large is kept by reference whatever its record's bytes
        # (they leave out the braces and names the structured size counts): docs/errors.md.
        too_large = any(e.code is ErrorCode.EVENT_TOO_LARGE for e in outcome.errors)
        if copy and not too_large and record.unreadable is None and record.size <= MAX_EVENT_BYTES:
            adapter = choose_kafka(self._adapters_of(partner), record.headers)
            stored = None if adapter is None else adapter.stored_headers(record)
        letter = DeadLetter(
            # Paths as in log lines: a key the partner chose (an unknown field's, an
            # extension's) may be a name, and no name goes in a dead-letter reason
            # (privacy.md, invariant 5); the record copy beside it holds the key.
            errors=tuple(
                ErrorDetail(loggable_path(e.path), e.code, e.message) for e in outcome.errors
            ),
            unroutable=outcome.unroutable,
            partner=partner.id if partner else None,
            event_id=outcome.event_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            sha256=hashlib.sha256(record.value or b"").hexdigest(),
            size=record.size,
            record=(
                None
                if stored is None
                else RecordCopy(key=record.key, headers=stored, value=record.value)
            ),
            replays=record.replays,
            replay_of=record.replay_of,
        )
        return OutRecord(self._layout.deadletter, letter.key, letter.to_json(), letter.headers)


# ---------------------------------------------------------------------- the per-event step


def process(
    raw: Mapping[str, Any],
    sender: Partner | None,
    state: Overlay,
    ctx: RoutingContext,
    *,
    held: Overlay | None = None,
    received_at: datetime | None = None,
    size_at_most: int | None = None,
    replay: bool = False,
) -> Outcome:
    """Validate, dedupe, rule and release one structured-mode event; put its changes in the overlays.

    ``sender`` is the authenticated partner; None (tools only) means "the registered
    partner whose source the event carries". A stateful rejection still records the
    event as seen, so a redelivery of it is a duplicate; a stateless rejection records
    nothing. ``held`` is the held-content store: without it, plans are neither kept nor
    replayed to assignments that go live later. ``received_at`` is when the hub received
    the event (default: ``ctx.now()``); every retention clock of the state counts from
    it, never from the event's own ``time``. ``size_at_most`` bounds the event's compact
    JSON when the caller knows it (``validate_event``). ``replay``: an operator's replay
    of a dead letter, which a marker of a stateful rejection does not stop (one of an
    event that was routed does: never a second delivery).
    """
    try:
        event = _validate(raw, sender, ctx, size_at_most)
    except InvalidEvent as exc:
        return _invalid(raw, sender, ctx, exc.errors)
    seen = seen_key(event.source, event.id)
    marker = state.get(seen)
    if marker is not None and not (replay and marker.get("rejected")):
        return _outcome(OutcomeKind.DUPLICATE, event)
    received_on = (received_at or ctx.now()).date().isoformat()
    origin = Origin.of(
        event, event.canonical_data(), trace_context(event.traceparent, ctx.new_trace_id)
    )
    ruling = apply_rules(
        event, origin.data, state, ctx, origin.trace, held=held, received_on=received_on
    )
    # A rejected event changes nothing but is recorded as seen: a redelivery is a duplicate.
    changes = {**ruling.changes, seen: SeenMarker(received_on=received_on)}
    if ruling.errors:
        # Marked, so that an operator's replay (once the cause is fixed) is not a duplicate.
        changes[seen] = SeenMarker(received_on=received_on, rejected=True)
        state.put(changes)
        decision = Decision(rejection=tuple(ruling.errors), state_changes=changes)
        return _outcome(OutcomeKind.DEAD_LETTERED, event, decision, unroutable=ruling.unroutable)
    # Renderers read the state as this event leaves it, and their changes go with its own;
    # nothing is put into the batch before release has succeeded.
    releases = release(
        origin,
        ruling.facts,
        ctx,
        ctx.now(),
        state=PendingView(state, changes),
        received_on=received_on,
    )
    if releases.state_changes:
        changes = {**changes, **releases.state_changes}
    state.put(changes)
    if held is not None:
        held.put(ruling.held)
    decision = Decision(
        deliveries=tuple(releases.deliveries),
        disclosures=tuple(releases.disclosures),
        state_changes=changes,
        held_changes=ruling.held,
        alerts=tuple(releases.alerts),
    )
    return _outcome(OutcomeKind.ACCEPTED, event, decision)


def _validate(
    raw: Mapping[str, Any],
    sender: Partner | None,
    ctx: RoutingContext,
    size_at_most: int | None,
) -> ValidEvent:
    if sender is None:
        return validate_with_registry(raw, ctx.registry, result_areas=ctx.result_areas)
    return validate_event(
        raw, sender=sender, result_areas=ctx.result_areas, size_at_most=size_at_most
    )


def _outcome(
    kind: OutcomeKind,
    event: ValidEvent,
    decision: Decision | None = None,
    *,
    unroutable: bool = False,
) -> Outcome:
    return Outcome(
        kind=kind,
        event_id=event.id,
        source=event.source,
        event_type=event.type,
        errors=decision.rejection if decision is not None else (),
        decision=decision,
        unroutable=unroutable,
    )


def _invalid(
    raw: Any, sender: Partner | None, ctx: RoutingContext, errors: tuple[ErrorDetail, ...]
) -> Outcome:
    """A stateless rejection, with the id, source and type of the event where they are safe to report."""
    if not isinstance(raw, Mapping):
        return Outcome(kind=OutcomeKind.DEAD_LETTERED, errors=errors)
    event_id, source, event_type = raw.get("id"), raw.get("source"), raw.get("type")
    # The sender's own registered source (so it finds the status of what it sent), or for
    # tools a registered one: an arbitrary string would become part of a long-lived key.
    if sender is not None:
        source = sender.source
    elif not isinstance(source, str) or ctx.registry.by_source(source) is None:
        source = None
    return Outcome(
        kind=OutcomeKind.DEAD_LETTERED,
        # An id outside the contract (a name, a BSN) is not repeated anywhere.
        event_id=event_id if is_event_id(event_id) else None,
        source=source,
        # Only known types: an arbitrary string must not become a metric label.
        event_type=event_type if isinstance(event_type, str) and event_type in TYPES else None,
        errors=errors,
    )


def _copy_of_routed(outcome: Outcome, state: Overlay) -> bool:
    """A rejected copy, broken in its envelope or content, of an event routed under its (source, id).

    The copy is dead-lettered (validation comes before the duplicate check), but the
    status of that (source, id) stays the original's: GET /events/{id} must not call a
    delivered event dead-lettered because a broken resend of it came later.
    """
    if outcome.decision is not None or outcome.event_id is None or outcome.source is None:
        return False
    marker = state.get(seen_key(outcome.source, outcome.event_id))
    return marker is not None and not marker.get("rejected")


def _unreadable(reading: Reading, partner: Partner) -> Outcome:
    """A record whose envelope could not be read: its id where it could be, and the sender's source.

    The same rule as for a read event (``_invalid``): an id that keeps the contract's rules
    (the adapter gives no other) and the sender's own registered source, since they become
    the key of a status record kept for long.
    """
    # Checked here too, not left to the adapter (a connector's may be any code): the id
    # becomes the key of a long-lived status record.
    event_id = reading.event_id if is_event_id(reading.event_id) else None
    return Outcome(
        kind=OutcomeKind.DEAD_LETTERED,
        event_id=event_id,
        source=partner.source if event_id is not None else None,
        errors=reading.errors,
    )


def _too_large(event_id: str | None, partner: Partner) -> Outcome:
    """An oversized record: rejected unread, with its id where it is one the hub may report."""
    return Outcome(
        kind=OutcomeKind.DEAD_LETTERED,
        event_id=event_id,
        source=partner.source if event_id is not None else None,
        errors=(event_too_large(),),
    )


def _rejected(code: ErrorCode, path: str, message: str) -> Outcome:
    return Outcome(kind=OutcomeKind.DEAD_LETTERED, errors=(ErrorDetail(path, code, message),))


def _name(partner: Partner | None) -> str:
    return partner.id if partner else "unknown"


def _type_label(event_type: str | None) -> str:
    # A type the contract knows, or "unknown": a partner's made-up type must not become a label.
    return event_type if event_type is not None and event_type in TYPES else "unknown"


@cache
def _child(metric: Counter, labels: tuple[str, ...]) -> Any:
    # Label values are partners, types, recipients and codes: a bounded set, looked up once.
    return metric.labels(*labels)


def _count(metric: Counter, *labels: str) -> None:
    _child(metric, labels).inc()


def process_in_memory(
    raw: Mapping[str, Any],
    sender: Partner | None,
    ctx: RoutingContext,
    state: StateStore,
    held: StateStore,
    *,
    received_at: datetime | None = None,
) -> Outcome:
    """``process`` one event against in-memory stores, its changes kept at once.

    For the commands that run events without Kafka (`hub preview`, `hub policy test`,
    `hub iwmo`): each event is its own batch, so the next one sees what it changed.
    """
    batch, held_batch = state.overlay(), held.overlay()
    outcome = process(raw, sender, batch, ctx, held=held_batch, received_at=received_at)
    batch.commit()  # a dead-lettered event changes nothing but its seen marker
    held_batch.commit()
    return outcome
