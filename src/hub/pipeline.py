"""The story of one inbound record: accept -> validate -> route -> filter -> deliver -> audit.

``Pipeline.handle`` turns one record from a partner's inbound topic into the records the
hub writes for it (deliveries, disclosure records, state changes, or a dead letter). It
does no I/O: the router writes its output in one Kafka transaction, and `hub preview`
runs the very same per-event step (``hub.routing.process``) in memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.connectors.registry import Partner, PartnerRegistry
from hub.envelope import MAX_EVENT_BYTES, event_too_large, from_kafka, is_event_id, to_kafka
from hub.errors import ErrorCode, ErrorDetail, InvalidEvent
from hub.observability import metrics
from hub.observability.logging import get_logger
from hub.routing.decision import Outcome, OutcomeKind
from hub.state.store import Overlay
from hub.topics import DISCLOSURE_ID_HEADER, TopicLayout

__all__ = ["InboundRecord", "OutRecord", "Pipeline", "Processor", "dead_letter_reason"]

_log = get_logger()

Headers = tuple[tuple[str, bytes], ...]

Processor = Callable[[Mapping[str, Any], Partner, Overlay, Overlay, datetime], Outcome]
"""validate -> dedupe -> decide -> record state, for one event:
(raw, sender, state, held, received_at).

This is hub.routing.process bound to the deployment's RoutingContext (see app.py).
"""


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

    @property
    def size(self) -> int:
        """Bytes of key, value and headers: what the record costs, whatever it claims."""
        return (
            len(self.key or b"")
            + len(self.value or b"")
            + sum(len(name) + len(value or b"") for name, value in self.headers)
        )


# The contract's limit (messages.md, "Envelope") is 256 KiB of an event's compact JSON,
# which validation measures exactly as the gateway does. A record whose raw bytes are
# twice that is refused unread: parsing it is wasted work, and no copy of it would fit a
# dead letter. Up to the limit itself a dead letter carries a copy for replay.
_UNREAD_BYTES = 2 * MAX_EVENT_BYTES

# Attributes that never leave the record they came in: vendor trace data the hub cannot
# vet, and the partition key that only repeats the subject (messages.md, "Envelope").
_NEVER_STORED = frozenset({"ce_tracestate", "ce_partitionkey"})


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One Kafka record the hub writes."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


def dead_letter_reason(errors: tuple[ErrorDetail, ...]) -> dict[str, Any]:
    """The machine-readable reason of a dead letter: codes, paths and sentences, never values."""
    return {"code": errors[0].code.value, "errors": [e.as_dict() for e in errors]}


class Pipeline:
    """Maps inbound records to output records through the per-event processor."""

    def __init__(
        self,
        layout: TopicLayout,
        registry: PartnerRegistry,
        processor: Processor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._layout = layout
        self._registry = registry
        self._process = processor
        self._clock = clock
        self._delivery_topics = {p.id: layout.deliveries(p) for p in registry}

    def handle(self, record: InboundRecord, state: Overlay, held: Overlay) -> list[OutRecord]:
        """Everything the hub writes for this record; its changes are also put into the overlays."""
        partner = self._sender(record)
        metrics.EVENTS_IN.labels(partner=partner.id if partner else "unknown").inc()
        if partner is None:
            # Only the hub subscribes to inbound topics, so this is a misconfiguration,
            # not partner input; dead-letter rather than guess who sent it.
            outcome = _rejected(
                ErrorCode.SOURCE_MISMATCH,
                "source",
                "The inbound topic belongs to no registered partner.",
            )
        elif record.size > _UNREAD_BYTES:
            outcome = self._too_large(record, partner)
        else:
            outcome = self._outcome(record, partner, state, held)
        log = _log.bind(
            partner=partner.id if partner else None,
            event_id=outcome.event_id,
            event_type=outcome.event_type,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        if outcome.kind is OutcomeKind.DUPLICATE:
            metrics.EVENTS_DUPLICATE.labels(partner=partner.id if partner else "unknown").inc()
            log.info("event_duplicate")
            return []
        out = self._state_records(outcome)
        out.extend(self._status_record(outcome, partner))
        if outcome.kind is OutcomeKind.DEAD_LETTERED:
            codes = [e.code.value for e in outcome.errors]
            metrics.EVENTS_DEAD_LETTERED.labels(
                partner=partner.id if partner else "unknown", code=codes[0]
            ).inc()
            log.info("event_dead_lettered", codes=codes, paths=[e.path for e in outcome.errors])
            out.append(self._dead_letter(record, partner, outcome))
            out.extend(self._disclosure_records(outcome))
            return out
        out.extend(self._delivery_records(outcome))
        out.extend(self._disclosure_records(outcome))
        log.info(
            "event_routed", deliveries=len(outcome.decision.deliveries) if outcome.decision else 0
        )
        return out

    def _sender(self, record: InboundRecord) -> Partner | None:
        partner_id = self._layout.partner_of_inbound(record.topic)
        return self._registry.get(partner_id) if partner_id else None

    def _outcome(
        self, record: InboundRecord, partner: Partner, state: Overlay, held: Overlay
    ) -> Outcome:
        try:
            raw = from_kafka(record.key, record.headers, record.value)
        except InvalidEvent as exc:
            return Outcome(kind=OutcomeKind.DEAD_LETTERED, errors=exc.errors)
        except ValueError:
            return _rejected(
                ErrorCode.MALFORMED_JSON,
                "data",
                "The record is not a binary-mode CloudEvent with a JSON object value.",
            )
        try:
            return self._process(raw, partner, state, held, record.received_at or self._clock())
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

    def _state_records(self, outcome: Outcome) -> list[OutRecord]:
        if outcome.decision is None:
            return []
        decision = outcome.decision
        return [
            OutRecord(topic, key.encode(), None if value is None else _json(value))
            for topic, changes in (
                (self._layout.state, decision.state_changes),
                (self._layout.held, decision.held_changes),
            )
            for key, value in changes.items()
        ]

    def _status_record(self, outcome: Outcome, partner: Partner | None) -> list[OutRecord]:
        """What became of the event, for its sender (GET /events/{id}); ids and codes only."""
        if outcome.event_id is None or outcome.source is None:
            return []  # the envelope was unreadable: there is no (source, id) to answer for
        decision = outcome.decision
        delivered = [] if decision is None else [d.recipient for d in decision.deliveries]
        withheld = (
            []
            if decision is None
            else [
                str(r["recipient"]) for r in decision.disclosures if r.get("outcome") == "withheld"
            ]
        )
        status = {
            "event_id": outcome.event_id,
            "source": outcome.source,
            "partner": partner.id if partner else None,
            "type": outcome.event_type,
            "status": "delivered" if outcome.kind is OutcomeKind.ACCEPTED else "dead-lettered",
            "codes": [e.code.value for e in outcome.errors],
            "recipients": list(dict.fromkeys(delivered)),
            "withheld": list(dict.fromkeys(withheld)),
            "at": self._clock().isoformat(),
        }
        key = f"{outcome.source} {outcome.event_id}".encode()
        return [OutRecord(self._layout.status, key, _json(status))]

    def _delivery_records(self, outcome: Outcome) -> list[OutRecord]:
        assert outcome.decision is not None
        out = []
        for delivery in outcome.decision.deliveries:
            key, headers, value = to_kafka(delivery.event)
            if delivery.disclosure_id:
                # Links later webhook attempts to this release's disclosure record.
                headers.append((DISCLOSURE_ID_HEADER, delivery.disclosure_id.encode()))
            out.append(
                OutRecord(self._delivery_topics[delivery.recipient], key, value, tuple(headers))
            )
            metrics.EVENTS_DELIVERED.labels(
                type=delivery.event.type, recipient=delivery.recipient
            ).inc()
        return out

    def _disclosure_records(self, outcome: Outcome) -> list[OutRecord]:
        if outcome.decision is None:
            return []
        out = []
        for record in outcome.decision.disclosures:
            if record.get("outcome") == "withheld":
                metrics.EVENTS_WITHHELD.labels(
                    type=str(record.get("event_type")), recipient=str(record.get("recipient"))
                ).inc()
            out.append(
                OutRecord(
                    self._layout.disclosures, str(record["disclosure_id"]).encode(), _json(record)
                )
            )
        return out

    def refused(self, record: InboundRecord, exc: BaseException) -> list[OutRecord]:
        """What the hub writes when it cannot write this record's output: a dead letter, a status.

        Kafka refused the output (too large for its topic), or the hub's own code failed on
        the record outside the per-event step.

        Nothing of the event's own output is written (its state changes are dropped too),
        so the event had no effect; an operator can replay it once the cause is fixed.
        """
        partner = self._sender(record)
        event_id, source = _reportable_attributes(record, partner)
        outcome = Outcome(
            kind=OutcomeKind.DEAD_LETTERED,
            event_id=event_id,
            source=source,
            errors=(
                ErrorDetail(
                    "",
                    ErrorCode.PROCESSING_FAILED,
                    f"The hub could not write its output for this event ({type(exc).__name__}); "
                    "operators have been alerted and will replay it.",
                ),
            ),
        )
        metrics.EVENTS_DEAD_LETTERED.labels(
            partner=partner.id if partner else "unknown", code=ErrorCode.PROCESSING_FAILED.value
        ).inc()
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

    def _too_large(self, record: InboundRecord, partner: Partner) -> Outcome:
        """An oversized record: rejected unread, with its id where it is one the hub may report."""
        event_id, source = _reportable_attributes(record, partner)
        return Outcome(
            kind=OutcomeKind.DEAD_LETTERED,
            event_id=event_id,
            source=source,
            errors=(event_too_large(),),
        )

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
        reason = dead_letter_reason(outcome.errors)
        copied = copy and record.size <= MAX_EVENT_BYTES
        value = {
            "reason": reason,
            "unroutable": outcome.unroutable,
            "partner": partner.id if partner else None,
            "event_id": outcome.event_id,
            "origin": {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
            "digest": {
                "sha256": hashlib.sha256(record.value or b"").hexdigest(),
                "bytes": record.size,
            },
            "record": (
                {
                    "key": _b64(record.key),
                    "headers": [
                        [name, _b64(v)] for name, v in record.headers if name not in _NEVER_STORED
                    ],
                    "value": _b64(record.value),
                }
                if copied
                else None
            ),
        }
        headers = (
            ("hub-reason-code", reason["code"].encode()),
            ("hub-partner", (partner.id if partner else "unknown").encode()),
        )
        # Keyed by origin partition, not by subject: a rejected subject may be a BSN.
        key = f"{record.topic}:{record.partition}".encode()
        return OutRecord(self._layout.deadletter, key, _json(value), headers)


def _reportable_attributes(
    record: InboundRecord, partner: Partner | None
) -> tuple[str | None, str | None]:
    """The ``ce_id`` of an unread record where it may be reported back, with the sender's source.

    The same rule as for a read event (``hub.routing.process``): an id that keeps the
    contract's rules (no BSN in it) and the sender's own registered source, since they
    become the key of a status record kept for long.
    """
    raw_id = next((value for name, value in record.headers if name == "ce_id"), None)
    try:
        event_id = (raw_id or b"").decode()
    except UnicodeDecodeError:
        return None, None
    if partner is None or not is_event_id(event_id):
        return None, None
    return event_id, partner.source


def _rejected(code: ErrorCode, path: str, message: str) -> Outcome:
    return Outcome(kind=OutcomeKind.DEAD_LETTERED, errors=(ErrorDetail(path, code, message),))


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()
