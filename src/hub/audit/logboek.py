"""The disclosure log in the Logboek Dataverwerkingen form (Logius), as OTLP spans.

Each ``DisclosureRecord`` becomes one Logboek record per data subject (the standard: a
record refers to zero or one subject; a disclosure about nobody is one record without a
subject). What a record holds (docs/privacy.md, "Logboek Dataverwerkingen"):

- ``trace_id`` (16 bytes) and ``span_id`` (8 bytes): the disclosure's own, which its
  delivery carries onward in ``traceparent``; every subject's record of one disclosure
  shares them, because they are one processing operation of the hub;
- ``name``: ``disclose`` or ``withhold`` and the short event type;
- ``start_time`` = ``end_time`` = when the hub decided;
- ``status_code``: 1 (ok) for a release or a withholding (the hub's decision was carried
  out), 2 (error) for a release the channel finally refused (``failed``);
- attributes ``dpl.core.processing_activity_id`` (the activity's URI in the
  organisation's register: ``audit.register_base_uri`` + the table's activity name),
  ``dpl.core.data_subject_id`` (the keyed pseudonym, never the BSN) and
  ``dpl.core.data_subject_id_type``;
- the sender's span, when its event carried a ``traceparent``, as the cross-organisation
  link ``dpl.core.foreign_operation.{trace_id,span_id,processor}`` (the processor is the
  sending partner), not as a parent: it is another organisation's operation.

The OTLP JSON form (``otlp_lines``) is what OpenTelemetry's file exporter writes and
collectors read: one ``ExportTraceServiceRequest`` per line, ids as hex, times in Unix
nanoseconds. No OpenTelemetry SDK is used: it makes spans of a running process's work,
and these records are made after the fact from stored decisions, with their own ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from pydantic_core import to_json

from hub.audit.record import DisclosureOutcome, DisclosureRecord

__all__ = [
    "DATA_SUBJECT_ID",
    "DATA_SUBJECT_ID_TYPE",
    "PROCESSING_ACTIVITY_ID",
    "LogboekRecord",
    "activity_uri",
    "logboek_records",
    "otlp_lines",
]

PROCESSING_ACTIVITY_ID: Final = "dpl.core.processing_activity_id"
DATA_SUBJECT_ID: Final = "dpl.core.data_subject_id"
DATA_SUBJECT_ID_TYPE: Final = "dpl.core.data_subject_id_type"
_FOREIGN: Final = "dpl.core.foreign_operation"
STATUS_OK: Final = 1
STATUS_ERROR: Final = 2
_SCOPE: Final = {"name": "hub.audit", "version": "1"}
_PER_LINE: Final = 500  # records per ExportTraceServiceRequest line


def activity_uri(base_uri: str, activity: str) -> str:
    """The activity's URI in the register: the base URI and the table's name, path-escaped.

    An activity already given as a URI (``https:``, ``urn:``) in the table is kept as it is.
    """
    if ":" in activity:
        return activity
    return base_uri + quote(activity, safe="")


@dataclass(frozen=True, slots=True)
class LogboekRecord:
    """One Logboek Dataverwerkingen record: one processing operation, about at most one subject."""

    trace_id: str
    span_id: str
    name: str
    start_time: datetime
    end_time: datetime
    status_code: int
    attributes: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        """The record in the standard's field names (the read extension's answer)."""
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "name": self.name,
            "start_time": self.start_time.isoformat(),
            "end_time": self.end_time.isoformat(),
            "status_code": self.status_code,
            "attributes": dict(self.attributes),
        }

    def otlp_span(self) -> dict[str, Any]:
        """The record as an OTLP JSON span (ids hex, times in Unix nanoseconds)."""
        return {
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "name": self.name,
            "kind": 1,  # SPAN_KIND_INTERNAL: the hub's own decision
            "startTimeUnixNano": str(_nanos(self.start_time)),
            "endTimeUnixNano": str(_nanos(self.end_time)),
            "attributes": [
                {"key": key, "value": {"stringValue": value}}
                for key, value in sorted(self.attributes.items())
            ],
            "status": {"code": self.status_code},
        }


def _nanos(moment: datetime) -> int:
    whole = int(moment.timestamp())
    return whole * 1_000_000_000 + moment.microsecond * 1000


def logboek_records(record: DisclosureRecord, register_base_uri: str) -> list[LogboekRecord]:
    """The disclosure's Logboek records: one per data subject, or one without a subject."""
    verb = "withhold" if record.outcome is DisclosureOutcome.WITHHELD else "disclose"
    short = record.event_type.removeprefix("nl.sociaaldomein.").removesuffix(".v1")
    shared: dict[str, str] = {
        PROCESSING_ACTIVITY_ID: activity_uri(register_base_uri, record.processing_activity),
        "hub.disclosure_id": record.disclosure_id,
        "hub.recipient": record.recipient,
        "hub.outcome": record.outcome.value,
    }
    if record.reason is not None:
        shared["hub.reason"] = record.reason
    if record.parent_span_id is not None:
        shared[f"{_FOREIGN}.trace_id"] = record.trace_id
        shared[f"{_FOREIGN}.span_id"] = record.parent_span_id
        shared[f"{_FOREIGN}.processor"] = record.source
    status = STATUS_ERROR if record.outcome is DisclosureOutcome.FAILED else STATUS_OK
    subjects: list[dict[str, str]] = [
        {DATA_SUBJECT_ID: pseudonym, DATA_SUBJECT_ID_TYPE: record.data_subject_id_type}
        for pseudonym in record.data_subjects
    ] or [{}]
    return [
        LogboekRecord(
            trace_id=record.trace_id,
            span_id=record.span_id,
            name=f"{verb} {short}",
            start_time=record.decided_at,
            end_time=record.decided_at,
            status_code=status,
            attributes={**shared, **subject},
        )
        for subject in subjects
    ]


def otlp_lines(records: Iterable[LogboekRecord], resource: Mapping[str, str]) -> Iterator[bytes]:
    """OTLP JSON lines: one ExportTraceServiceRequest per line, up to 500 spans each."""
    resource_attributes = [
        {"key": key, "value": {"stringValue": value}} for key, value in sorted(resource.items())
    ]
    batch: list[dict[str, Any]] = []

    def line() -> bytes:
        request = {
            "resourceSpans": [
                {
                    "resource": {"attributes": resource_attributes},
                    "scopeSpans": [{"scope": _SCOPE, "spans": batch}],
                }
            ]
        }
        return to_json(request) + b"\n"

    for record in records:
        batch.append(record.otlp_span())
        if len(batch) == _PER_LINE:
            yield line()
            batch = []
    if batch:
        yield line()
