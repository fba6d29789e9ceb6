"""The v1 message contract as code: one model per type, a type registry, and ``validate_event``.

::

    from hub.schemas import validate_event, ValidEvent, TYPES, TypeSpec

    event = validate_event(raw, sender=partner)   # raises hub.errors.InvalidEvent
    event.spec.short_name, event.data, event.canonical_data()
"""

from hub.schemas.care import (
    AssignmentIssued,
    AssignmentReferrer,
    AssignmentRequestSubmitted,
    CareStarted,
    CareStopped,
    OutcomeResult,
    OutcomesReported,
)
from hub.schemas.cases import CaseClosed, CaseOpened, CaseOrigin, CasePlanUpdated, Goal
from hub.schemas.common import (
    DEFAULT_RESULT_AREAS,
    LAW_CATEGORIES,
    LIFE_DOMAINS,
    STOP_REASONS,
    TEMPORARY_STOP,
    Address,
    BoundedPeriod,
    Client,
    ClientWithPhone,
    Contact,
    ContractModel,
    LegalRepresentative,
    Period,
    Person,
    PersonWithBsn,
    Product,
    SafetyPerson,
    Scope,
    ValidationContext,
)
from hub.schemas.errors import error_details
from hub.schemas.provisions import BudgetStatusReported, ProvisionDecided, ProvisionRequested
from hub.schemas.referrals import Consent, ReferralStatusChanged, ReferralSubmitted, Referrer
from hub.schemas.registry import TYPE_PREFIX, TYPE_SUFFIX, TYPES, TypeSpec, spec_for, type_name
from hub.schemas.safety import (
    Concern,
    InvolvedPerson,
    Reporter,
    SafetyCaseHandedOver,
    SafetyReportFeedback,
    SafetyReportSubmitted,
)
from hub.schemas.validation import ValidEvent, validate_event, validate_with_registry

__all__ = [
    "DEFAULT_RESULT_AREAS",
    "LAW_CATEGORIES",
    "LIFE_DOMAINS",
    "STOP_REASONS",
    "TEMPORARY_STOP",
    "TYPES",
    "TYPE_PREFIX",
    "TYPE_SUFFIX",
    "Address",
    "AssignmentIssued",
    "AssignmentReferrer",
    "AssignmentRequestSubmitted",
    "BoundedPeriod",
    "BudgetStatusReported",
    "CareStarted",
    "CareStopped",
    "CaseClosed",
    "CaseOpened",
    "CaseOrigin",
    "CasePlanUpdated",
    "Client",
    "ClientWithPhone",
    "Concern",
    "Consent",
    "Contact",
    "ContractModel",
    "Goal",
    "InvolvedPerson",
    "LegalRepresentative",
    "OutcomeResult",
    "OutcomesReported",
    "Period",
    "Person",
    "PersonWithBsn",
    "Product",
    "ProvisionDecided",
    "ProvisionRequested",
    "ReferralStatusChanged",
    "ReferralSubmitted",
    "Referrer",
    "Reporter",
    "SafetyCaseHandedOver",
    "SafetyPerson",
    "SafetyReportFeedback",
    "SafetyReportSubmitted",
    "Scope",
    "TypeSpec",
    "ValidEvent",
    "ValidationContext",
    "error_details",
    "spec_for",
    "type_name",
    "validate_event",
    "validate_with_registry",
]
