"""The hub's exception tree and the stable error codes partners see.

::

    HubError                      root; never raised itself
    ├── InvalidEvent              the event breaks the contract: dead-letter or 4xx, never retried
    │   └── UnroutableEvent       valid, but names something the hub never saw: dead-letter
    ├── DeliveryError             a recipient channel failed
    │   ├── RetryableDeliveryError    try again with backoff (broker down, 5xx, 429, timeout)
    │   └── PermanentDeliveryError    do not retry (other 4xx); park for replay
    ├── BrokerUnavailable         Kafka failed transiently for longer than a retry budget (hub.kafka)
    ├── ConfigurationError        start-up only: bad settings, registry or policy file
    │   └── KafkaMisconfigured    the broker refuses the hub (ACLs, SASL, TLS, versions): exit 78 (hub.kafka)
    └── AuditStoreError           the disclosure store is unreachable, missing or corrupt

Exceptions carry identifiers (partner id, event id, recipient, status) and one
sentence. They never carry payload values: an error may be logged, returned to a
partner or written as a dead-letter reason, and none of those may hold personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "MAX_ERRORS",
    "AuditStoreError",
    "ConfigurationError",
    "DeliveryError",
    "ErrorCode",
    "ErrorDetail",
    "HubError",
    "InvalidEvent",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "UnroutableEvent",
    "config_path",
]


class ErrorCode(StrEnum):
    """Stable codes a partner's developer can act on; docs/errors.md explains each.

    A code, once published, keeps its meaning. New codes may be added.
    """

    # Envelope (CloudEvents attributes)
    ENVELOPE_INVALID = "ENVELOPE_INVALID"
    SPECVERSION_UNSUPPORTED = "SPECVERSION_UNSUPPORTED"
    TYPE_UNKNOWN = "TYPE_UNKNOWN"
    SOURCE_MISMATCH = "SOURCE_MISMATCH"
    TYPE_NOT_ALLOWED = "TYPE_NOT_ALLOWED"
    SUBJECT_MISMATCH = "SUBJECT_MISMATCH"
    SUBJECT_IS_BSN = "SUBJECT_IS_BSN"
    BSN_IN_IDENTIFIER = "BSN_IN_IDENTIFIER"
    EVENT_TOO_LARGE = "EVENT_TOO_LARGE"
    TOO_MANY_ERRORS = "TOO_MANY_ERRORS"
    EXTENSION_NOT_ALLOWED = "EXTENSION_NOT_ALLOWED"
    CONTENT_TYPE_UNSUPPORTED = "CONTENT_TYPE_UNSUPPORTED"
    MALFORMED_JSON = "MALFORMED_JSON"
    RECORD_UNREADABLE = "RECORD_UNREADABLE"

    # Data: generic field rules
    FIELD_REQUIRED = "FIELD_REQUIRED"
    FIELD_UNKNOWN = "FIELD_UNKNOWN"
    FIELD_NULL = "FIELD_NULL"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    VALUE_NOT_ALLOWED = "VALUE_NOT_ALLOWED"
    TOO_SHORT = "TOO_SHORT"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    FORMAT_INVALID = "FORMAT_INVALID"
    DATE_INVALID = "DATE_INVALID"
    DATETIME_INVALID = "DATETIME_INVALID"
    ITEMS_NOT_UNIQUE = "ITEMS_NOT_UNIQUE"

    # Data: domain identifiers and cross-field rules
    BSN_INVALID = "BSN_INVALID"
    AGB_INVALID = "AGB_INVALID"
    AGB_NOT_SENDER = "AGB_NOT_SENDER"
    POSTCODE_INVALID = "POSTCODE_INVALID"
    IDENTIFIER_INVALID = "IDENTIFIER_INVALID"
    PHONE_INVALID = "PHONE_INVALID"
    EMAIL_INVALID = "EMAIL_INVALID"
    BIRTH_DATE_INVALID = "BIRTH_DATE_INVALID"
    PERIOD_INVALID = "PERIOD_INVALID"
    CATEGORY_LAW_MISMATCH = "CATEGORY_LAW_MISMATCH"
    VARIANT_SCOPE_MISMATCH = "VARIANT_SCOPE_MISMATCH"
    SCOPE_INVALID = "SCOPE_INVALID"
    RESULT_AREAS_REQUIRED = "RESULT_AREAS_REQUIRED"
    RESULT_AREA_UNKNOWN = "RESULT_AREA_UNKNOWN"
    CONSENT_INCONSISTENT = "CONSENT_INCONSISTENT"
    YOUTH_CARE_AGE = "YOUTH_CARE_AGE"
    MELDCODE_STEPS_INCOMPLETE = "MELDCODE_STEPS_INCOMPLETE"
    NOT_INFORMED_REASON_REQUIRED = "NOT_INFORMED_REASON_REQUIRED"
    VICTIM_OR_CHILD_REQUIRED = "VICTIM_OR_CHILD_REQUIRED"
    LEGAL_REPRESENTATIVE_REQUIRED = "LEGAL_REPRESENTATIVE_REQUIRED"
    CHANGE_REASON_REQUIRED = "CHANGE_REASON_REQUIRED"
    CHANGE_REASON_NOT_ALLOWED = "CHANGE_REASON_NOT_ALLOWED"
    REFERRER_AGB_REQUIRED = "REFERRER_AGB_REQUIRED"
    STOP_REASON_INVALID = "STOP_REASON_INVALID"
    OBJECTION_DEADLINE_INVALID = "OBJECTION_DEADLINE_INVALID"
    DECISION_FIELDS_REQUIRED = "DECISION_FIELDS_REQUIRED"

    # State (rules that need earlier events)
    ID_ALREADY_KNOWN = "ID_ALREADY_KNOWN"
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    PLAN_VERSION_NOT_NEWER = "PLAN_VERSION_NOT_NEWER"
    ASSIGNMENT_UNKNOWN = "ASSIGNMENT_UNKNOWN"
    ASSIGNMENT_WITHDRAWN = "ASSIGNMENT_WITHDRAWN"
    PROVIDER_CHANGED = "PROVIDER_CHANGED"
    PROVIDER_UNKNOWN = "PROVIDER_UNKNOWN"
    PRODUCT_MISMATCH = "PRODUCT_MISMATCH"
    DATE_OUTSIDE_PERIOD = "DATE_OUTSIDE_PERIOD"
    CARE_NOT_STARTED = "CARE_NOT_STARTED"
    STOP_BEFORE_START = "STOP_BEFORE_START"
    CARE_ALREADY_STARTED = "CARE_ALREADY_STARTED"
    OTHER_CARE_CURRENT = "OTHER_CARE_CURRENT"
    CARE_ALREADY_STOPPED = "CARE_ALREADY_STOPPED"
    CARE_STOPPED_OTHERWISE = "CARE_STOPPED_OTHERWISE"
    START_HAS_STOP = "START_HAS_STOP"
    DELETE_WITHOUT_NEW = "DELETE_WITHOUT_NEW"
    RESULT_AREA_NOT_ASSIGNED = "RESULT_AREA_NOT_ASSIGNED"

    # The hub itself
    PROCESSING_FAILED = "PROCESSING_FAILED"


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One thing wrong with an event: where (a path into the CloudEvent), what (a code), why."""

    path: str
    code: ErrorCode
    message: str

    def as_dict(self) -> dict[str, str]:
        """The wire form used in problem bodies, dead-letter reasons and CLI output."""
        return {"path": self.path, "code": self.code.value, "message": self.message}


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


MAX_ERRORS = 100
"""Errors listed per event at most; more are summed up in one TOO_MANY_ERRORS.

An event of 24,000 unknown fields (within 256 KiB) would otherwise be answered with
megabytes of errors, logged and dead-lettered as such, with every partner's messages
waiting meanwhile."""


class InvalidEvent(HubError):
    """The event breaks the contract; it is dead-lettered (Kafka) or answered 4xx (HTTP)."""

    def __init__(
        self, errors: list[ErrorDetail] | tuple[ErrorDetail, ...], *, found: int | None = None
    ) -> None:
        # ``found``: how many errors there are in all, when ``errors`` holds an earlier
        # InvalidEvent's capped list (its TOO_MANY_ERRORS entry is summed up anew).
        errors = tuple(e for e in errors if e.code is not ErrorCode.TOO_MANY_ERRORS)
        self.found = len(errors) if found is None else found
        if self.found > MAX_ERRORS:
            more = self.found - MAX_ERRORS
            errors = (
                *errors[:MAX_ERRORS],
                ErrorDetail(
                    "",
                    ErrorCode.TOO_MANY_ERRORS,
                    f"{more} more errors are not listed: fix these and send the event again.",
                ),
            )
        self.errors: tuple[ErrorDetail, ...] = errors
        first = self.errors[0] if self.errors else None
        summary = f"{first.path}: {first.code}" if first else "no details"
        super().__init__(f"event is invalid ({len(self.errors)} error(s), first {summary})")


class UnroutableEvent(InvalidEvent):
    """The event is valid but names a referral, report, request or case the hub never saw."""


class DeliveryError(HubError):
    """A recipient channel failed to take a delivery."""

    def __init__(self, recipient: str, message: str, *, status: int | None = None) -> None:
        self.recipient = recipient
        self.status = status
        super().__init__(f"delivery to {recipient} failed: {message}")


class RetryableDeliveryError(DeliveryError):
    """The failure is transient; try again with backoff, never drop."""

    def __init__(
        self,
        recipient: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(recipient, message, status=status)


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help; the delivery is parked for replay."""


def config_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location in a configuration file as a path: ``partners[2].agb``."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


class ConfigurationError(HubError):
    """Settings, the partner registry or a policy file is wrong; raised at start-up only."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        super().__init__(f"{source}: {path}: {message}")

    @property
    def paths(self) -> list[str]:
        """The path, or each setting it names (``"A, B"``), as log tokens: the log's
        redaction keeps a token and redacts a value with spaces whole."""
        return self.path.split(", ")


class AuditStoreError(HubError):
    """The disclosure store failed (unreachable, missing, corrupt); no record values inside."""
