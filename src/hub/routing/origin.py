"""The event whose data is released: the inbound event, or a held copy being replayed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.routing.ids import TraceContext
from hub.schemas import ValidEvent

__all__ = ["Origin"]


@dataclass(frozen=True, slots=True)
class Origin:
    """The attributes, trace and data of what is released (``hub.routing.release``)."""

    event_id: str
    source: str
    type: str
    time: datetime
    time_text: str
    """``time`` as its sender wrote it: what every delivery of it carries."""
    subject: str
    trace: TraceContext
    data: Mapping[str, Any]

    @classmethod
    def of(cls, event: ValidEvent, data: Mapping[str, Any], trace: TraceContext) -> Origin:
        """The inbound event, with its canonical data and its trace."""
        return cls(
            event.id,
            event.source,
            event.type,
            event.time,
            event.time_text,
            event.subject,
            trace,
            data,
        )
