"""Taking events from a partner: validate, encode in binary mode, produce, answer per event.

For each event of a request, in order:

1. the stateless contract with the authenticated partner as sender
   (``hub.schemas.validate_event``): 403 for a type or source the partner may not use, else
   422 with every error;
2. a resend of a (source, id) this gateway produced or the router processed is answered 202
   again and not produced (the router would also drop it as a duplicate);
3. the rest are produced in order to the partner's inbound topic, binary mode; each is
   accepted (202) only once Kafka acknowledged it, otherwise 503 with Retry-After.

Rules that need state (unknown referral, ...) are the router's: they show up in the
event's status, not in this answer (messages.md, "Rules that need state").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.connectors.registry import Partner
from hub.envelope import to_kafka
from hub.errors import ErrorCode, InvalidEvent
from hub.gateway.problems import Problem, ProblemCode, invalid_event
from hub.gateway.sink import EventSink, KafkaRecord
from hub.gateway.status import StatusBook, status_key
from hub.inbound import Reading
from hub.observability.logging import get_logger
from hub.schemas import ValidEvent, validate_event
from hub.schemas.paths import loggable_path
from hub.topics import TopicLayout

__all__ = ["Accepted", "Checked", "EventIntake", "Validator", "default_validator"]


Validator = Callable[[Mapping[str, Any], Partner], ValidEvent]
"""validate_event bound to the deployment's result areas: (raw event, sender) -> ValidEvent."""

Checked = tuple[ValidEvent, KafkaRecord] | Problem
"""One event after step 1: valid with its record, or the problem that answers it."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """The event is on the partner's inbound topic (or was already)."""

    id: str

    def as_dict(self) -> dict[str, str]:
        """The 202 body."""
        return {"id": self.id, "status": "accepted"}


@dataclass(slots=True)
class _Pending:
    index: int
    key: str
    event: ValidEvent
    record: KafkaRecord


def default_validator(result_areas: frozenset[str] | None = None) -> Validator:
    """The contract's validation with this municipality's result areas."""

    def validate(raw: Mapping[str, Any], sender: Partner) -> ValidEvent:
        return validate_event(raw, sender=sender, result_areas=result_areas)

    return validate


class EventIntake:
    """Turns the events of one request into answers: Accepted or a Problem, one per event."""

    def __init__(
        self,
        *,
        layout: TopicLayout,
        sink: EventSink,
        book: StatusBook,
        validator: Validator,
        retry_after_seconds: int,
    ) -> None:
        self._layout = layout
        self._sink = sink
        self._book = book
        self._validate = validator
        self._retry_after = str(retry_after_seconds)

    def unavailable(self) -> Problem:
        """The answer while Kafka cannot take events."""
        return Problem(
            503, ProblemCode.UNAVAILABLE.value, headers={"Retry-After": self._retry_after}
        )

    def check(self, partner: Partner, items: Sequence[Reading]) -> list[Checked]:
        """Step 1 for every event an adapter read, in order: pure work, fit for a worker thread."""
        return [self._check(partner, item) for item in items]

    async def take(self, partner: Partner, items: Sequence[Checked]) -> list[Accepted | Problem]:
        """Answer every checked event (in order); produce the valid, new ones."""
        answers: list[Accepted | Problem | None] = [None] * len(items)
        pending: list[_Pending] = []
        first_of: dict[str, int] = {}  # a repeat within the request answers as its first
        repeats: list[tuple[int, int]] = []
        for index, checked in enumerate(items):
            if isinstance(checked, Problem):
                answers[index] = checked
                continue
            event, record = checked
            key = status_key(event.source, event.id)
            if key in first_of:
                repeats.append((index, first_of[key]))
            elif self._book.seen(key):
                answers[index] = Accepted(event.id)
                get_logger().info("event_resent", partner=partner.id, event_id=event.id)
            else:
                first_of[key] = index
                pending.append(_Pending(index, key, event, record))
        if pending:
            acks = await self._sink.send([p.record for p in pending])
            for entry, acked in zip(pending, acks, strict=True):
                if acked:
                    self._book.mark_accepted(entry.key, partner.id)
                    answers[entry.index] = Accepted(entry.event.id)
                    get_logger().info(
                        "event_accepted",
                        partner=partner.id,
                        event_id=entry.event.id,
                        event_type=entry.event.spec.short_name,
                    )
                else:
                    answers[entry.index] = self.unavailable()
        for index, first in repeats:
            answers[index] = answers[first]
        return [answer if answer is not None else self.unavailable() for answer in answers]

    def _check(self, partner: Partner, item: Reading) -> Checked:
        try:
            if item.event is None:
                raise InvalidEvent(item.errors)  # the adapter could not read it
            event = self._validate(item.event, partner)
            key, headers, value = to_kafka(event.to_cloud_event())
            headers = _as_sent(headers, item.event)
        except InvalidEvent as exc:
            problem = invalid_event(exc.errors)
            get_logger().info(
                "event_rejected",
                partner=partner.id,
                status=problem.status,
                codes=[e.code.value for e in exc.errors],
                paths=[loggable_path(e.path) for e in exc.errors],
            )
            return problem
        except Exception as exc:
            # A bug in validation must not fail the other events of a batch.
            get_logger().error("event_check_failed", partner=partner.id, exc_info=exc)
            return Problem(
                503,
                ErrorCode.PROCESSING_FAILED.value,
                headers={"Retry-After": self._retry_after},
            )
        record = KafkaRecord(self._layout.inbound(partner.id), key, tuple(headers), value)
        return event, record


def _as_sent(headers: list[tuple[str, bytes]], raw: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The record's headers with ``time`` and ``datacontenttype`` as the partner sent them.

    The router measures the event it reads back against the 256 KiB limit. Rendered anew,
    an event at the limit could pass it (``Z`` becomes ``+00:00``, ``.5`` ``.500000``, an
    omitted ``datacontenttype`` comes back as a ``content-type`` header) and an event
    answered 202 would be dead-lettered EVENT_TOO_LARGE. Data only shrinks when made
    canonical (a postcode's space).
    """
    sent_time = raw.get("time")  # validated: an RFC 3339 string
    sent_content_type = "datacontenttype" in raw
    return [
        (name, sent_time.encode() if name == "ce_time" and isinstance(sent_time, str) else value)
        for name, value in headers
        if name != "content-type" or sent_content_type
    ]
