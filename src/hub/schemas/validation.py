"""Validate a structured-mode CloudEvent against the stateless v1 contract.

``validate_event`` checks the envelope, who may send the type, the data against its
model, and the links between them (subject, sender's AGB). It reports every problem it
finds in one InvalidEvent, never an input value. Rules that need earlier events are the
pipeline's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from hub.connectors.registry import Partner, PartnerRegistry
from hub.envelope import (
    AMSTERDAM,
    MAX_EVENT_BYTES,
    CloudEvent,
    event_size,
    event_too_large,
    read_attributes,
)
from hub.errors import ErrorCode, ErrorDetail, InvalidEvent
from hub.schemas.common import DEFAULT_RESULT_AREAS, ContractModel, ValidationContext
from hub.schemas.errors import error_details, render_path
from hub.schemas.registry import TYPES, TypeSpec

__all__ = ["AMSTERDAM", "ValidEvent", "validate_event", "validate_with_registry"]

_AGB = re.compile(r"[0-9]{8}")


@dataclass(frozen=True, slots=True)
class ValidEvent:
    """An event that passed the stateless contract: its attributes, type spec and data model."""

    id: str
    source: str
    type: str
    time: datetime
    time_text: str
    """``time`` as the sender wrote it: delivered unchanged (privacy.md)."""
    subject: str
    traceparent: str | None
    dataschema: str | None
    spec: TypeSpec
    data: ContractModel
    event_date: date

    def canonical_data(self) -> dict[str, Any]:
        """The data as JSON-ready dict: absent fields stay absent, values normalised (postcode ``1234AB``)."""
        # model_dump without its Python wrapper (this runs once per event): the same call
        # into the model's serializer.
        data = self.data
        result: dict[str, Any] = data.__pydantic_serializer__.to_python(
            data, mode="json", exclude_unset=True
        )
        return result

    def to_cloud_event(self) -> CloudEvent:
        """The event with its canonical data, ready for ``to_kafka`` or structured mode."""
        return CloudEvent(
            id=self.id,
            source=self.source,
            type=self.type,
            time=self.time_text,
            subject=self.subject,
            data=self.canonical_data(),
            dataschema=self.dataschema,
            traceparent=self.traceparent,
        )


def _raw_field(data: Mapping[str, Any], path: tuple[str, ...]) -> object:
    value: object = data
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def validate_event(
    raw: Mapping[str, Any],
    *,
    sender: Partner | None,
    result_areas: frozenset[str] | None = None,
    size_at_most: int | None = None,
) -> ValidEvent:
    """Validate a structured-mode event; return it as a ValidEvent or raise InvalidEvent with all problems.

    ``sender`` is the authenticated partner: the event's ``source`` must be its source
    (SOURCE_MISMATCH) and its role must send the type (TYPE_NOT_ALLOWED), and when either
    fails that is all that is reported, on every channel; where the type names an AGB of
    the sender, it must be the sender's (AGB_NOT_SENDER). ``sender=None``
    skips these checks (tools only). ``result_areas`` is the municipality's list; default
    the contract's. An event over ``MAX_EVENT_BYTES`` is refused with EVENT_TOO_LARGE
    alone, before anything else is checked, so a huge event costs no more than its size.
    ``size_at_most`` is a bound the caller knows on that size (``envelope.compact_size_bound``
    of a Kafka record); within the limit, the size is not measured again.
    """
    if not isinstance(raw, Mapping):
        raise InvalidEvent(
            [ErrorDetail("", ErrorCode.ENVELOPE_INVALID, "A CloudEvent must be a JSON object.")]
        )
    if (size_at_most is None or size_at_most > MAX_EVENT_BYTES) and event_size(
        raw
    ) > MAX_EVENT_BYTES:
        raise InvalidEvent([event_too_large()])
    attributes, errors = read_attributes(raw)

    spec: TypeSpec | None = None
    if attributes.type is not None:
        spec = TYPES.get(attributes.type)
        if spec is None:
            errors.append(
                ErrorDetail("type", ErrorCode.TYPE_UNKNOWN, "Not a v1 type of the contract.")
            )

    if sender is not None:
        # A matter of permission, answered alone and before the content (HTTP 403), so a
        # dead letter names the same code as the gateway's answer to the same event.
        forbidden: list[ErrorDetail] = []
        if attributes.source is not None and attributes.source != sender.source:
            forbidden.append(
                ErrorDetail(
                    "source",
                    ErrorCode.SOURCE_MISMATCH,
                    "The source is not the sending partner's registered source.",
                )
            )
        if spec is not None and spec.sender_role != sender.role:
            forbidden.append(
                ErrorDetail(
                    "type",
                    ErrorCode.TYPE_NOT_ALLOWED,
                    "The sending partner's role may not send this type.",
                )
            )
        if forbidden:
            raise InvalidEvent(forbidden)

    data_model: ContractModel | None = None
    event_date = attributes.time.astimezone(AMSTERDAM).date() if attributes.time else None
    if spec is not None and attributes.data is not None:
        raw_data = attributes.data
        subject_value = raw_data.get(spec.subject_field)
        if (
            attributes.subject is not None
            and isinstance(subject_value, str)
            and subject_value != attributes.subject
        ):
            errors.append(
                ErrorDetail(
                    "subject",
                    ErrorCode.SUBJECT_MISMATCH,
                    f"The subject must equal data.{spec.subject_field}.",
                )
            )
        if sender is not None and spec.sender_agb_field is not None:
            agb = _raw_field(raw_data, spec.sender_agb_field)
            if isinstance(agb, str) and _AGB.fullmatch(agb) and agb != sender.agb:
                errors.append(
                    ErrorDetail(
                        render_path("data", spec.sender_agb_field),
                        ErrorCode.AGB_NOT_SENDER,
                        "This AGB must be the sending partner's own.",
                    )
                )
        context = ValidationContext(
            event_date=event_date,
            result_areas=DEFAULT_RESULT_AREAS if result_areas is None else result_areas,
        )
        try:
            # The model's validator directly: model_validate only adds a Python call around it.
            data_model = spec.model.__pydantic_validator__.validate_python(
                raw_data, context=context
            )
        except ValidationError as exc:
            errors.extend(error_details(exc, "data"))

    if errors:
        raise InvalidEvent(errors)
    # Without errors every attribute read_attributes checks is present, and the data validated.
    assert attributes.id is not None
    assert attributes.source is not None
    assert attributes.time is not None
    assert attributes.time_text is not None
    assert attributes.subject is not None
    assert spec is not None
    assert data_model is not None
    assert event_date is not None
    return ValidEvent(
        id=attributes.id,
        source=attributes.source,
        type=spec.type,
        time=attributes.time,
        time_text=attributes.time_text,
        subject=attributes.subject,
        traceparent=attributes.traceparent,
        dataschema=attributes.dataschema,
        spec=spec,
        data=data_model,
        event_date=event_date,
    )


def validate_with_registry(
    raw: Mapping[str, Any],
    registry: PartnerRegistry,
    *,
    result_areas: frozenset[str] | None = None,
) -> ValidEvent:
    """Validate an event as sent by the registered partner whose ``source`` it carries (tools).

    An event whose source no partner sends as is invalid (SOURCE_MISMATCH on ``source``);
    the rest of it is still checked, as if no sender were known.
    """
    source = raw.get("source") if isinstance(raw, Mapping) else None
    sender = registry.by_source(source) if isinstance(source, str) and source else None
    unregistered = isinstance(source, str) and bool(source) and sender is None
    try:
        event = validate_event(raw, sender=sender, result_areas=result_areas)
    except InvalidEvent as exc:
        if not unregistered:
            raise
        errors = [_unregistered_source(), *exc.errors]
        raise InvalidEvent(errors, found=exc.found + 1) from None
    if unregistered:
        raise InvalidEvent([_unregistered_source()])
    return event


def _unregistered_source() -> ErrorDetail:
    return ErrorDetail(
        "source", ErrorCode.SOURCE_MISMATCH, "No registered partner sends as this source."
    )
