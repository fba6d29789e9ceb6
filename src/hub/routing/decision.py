"""What the pipeline does with one valid event: the output of routing, as plain data.

``apply_rules`` and ``release`` (in hub.routing) are pure: given a valid event and a view
of the state they give a Decision, and the pipeline turns that Decision into Kafka records that are
written in one transaction (deliveries, disclosure records, state changes and the
input offsets together), so no release happens without its record, and no record
without its release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hub.audit.record import DisclosureRecord
from hub.envelope import CloudEvent
from hub.errors import ErrorDetail

__all__ = ["Decision", "Delivery", "Outcome", "OutcomeKind", "RenderAlert"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One release of data to one recipient partner's outbound channel.

    ``event`` is the CloudEvent the recipient receives: the sender's type, source and time,
    the projected data, a delivery id of its own.
    """

    recipient: str
    event: CloudEvent
    disclosure_id: str | None = (
        None  # the disclosure record of this release (header hub-disclosure-id)
    )
    subject_kind: str | None = None  # what the subject identifies (header hub-subject-kind)


@dataclass(frozen=True, slots=True)
class RenderAlert:
    """A delivery its recipient's format could not be rendered in: withheld, operators alerted.

    Codes and ids only: the partner, the format, the renderer's reason code and the
    disclosure record of the withholding.
    """

    recipient: str
    format: str
    reason: str
    disclosure_id: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything the pipeline writes for one event, atomically.

    - ``deliveries``: events for recipients' outbound topics (ordered as they must be sent).
    - ``disclosures``: disclosure-log records, one per (event, recipient) the table
      resolves, delivered or withheld.
    - ``state_changes``: state key -> new value, or None to delete (a tombstone).
    - ``rejection``: set when a stateful rule rejects the event; then it is dead-lettered
      and nothing is delivered (state changes may still record that it was seen).
    - ``unroutable``: the rejection is "names something the hub never saw".
    - ``held_changes``: changes to the held-content store (key -> value, None deletes):
      the latest plan per case, kept for assignments that go live later. Unlike the
      routing state it holds personal data (goal texts), so it has its own store and
      compacted topic with their own retention (docs/state.md, "Held content").
    - ``alerts``: deliveries withheld because their partner format could not be rendered.
    """

    deliveries: tuple[Delivery, ...] = ()
    disclosures: tuple[DisclosureRecord, ...] = ()
    state_changes: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    rejection: tuple[ErrorDetail, ...] = ()
    unroutable: bool = False
    held_changes: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    alerts: tuple[RenderAlert, ...] = ()

    @property
    def rejected(self) -> bool:
        """True when the event is dead-lettered rather than delivered."""
        return bool(self.rejection)


class OutcomeKind(StrEnum):
    """The three ends of an inbound event: nothing is ever lost in between."""

    ACCEPTED = "accepted"  # routed: delivered to zero or more recipients (or withheld, logged)
    DEAD_LETTERED = "dead-lettered"  # invalid (stateless or stateful) or unroutable
    DUPLICATE = "duplicate"  # (source, id) seen before: acknowledged as the original


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the per-event step (validate -> dedupe -> rules -> release) made of one inbound event.

    The live pipeline and `hub preview` both call the same ``process()`` (in hub.pipeline)
    and get this back; only the pipeline then writes it to Kafka.

    - ``event_id`` / ``source``: the envelope's, when they could be read (for the status
      record and the dead-letter reason); None when the envelope itself was unreadable.
    - ``event_type``: the envelope's type when known, for metrics and logs.
    - ``errors``: set for DEAD_LETTERED (stateless validation or a stateful rule).
    - ``decision``: set for ACCEPTED, and for a DEAD_LETTERED event rejected by a stateful
      rule (its ``state_changes`` may record that the event was seen).
    """

    kind: OutcomeKind
    event_id: str | None = None
    source: str | None = None
    event_type: str | None = None
    errors: tuple[ErrorDetail, ...] = ()
    decision: Decision | None = None
    unroutable: bool = False
