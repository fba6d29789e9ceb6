"""The registry of v1 message types: type string -> model, subject field, sending role.

``TYPES`` is keyed by the full type (``nl.sociaaldomein.referrals.submitted.v1``); each
TypeSpec says which data field the CloudEvent ``subject`` must equal, which role may send
the type and, where the contract names one, which AGB in ``data`` must be the sender's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from hub.connectors.registry import Role
from hub.schemas.care import (
    AssignmentIssued,
    AssignmentRequestSubmitted,
    CareStarted,
    CareStopped,
    OutcomesReported,
)
from hub.schemas.cases import CaseClosed, CaseOpened, CasePlanUpdated
from hub.schemas.common import ContractModel
from hub.schemas.provisions import BudgetStatusReported, ProvisionDecided, ProvisionRequested
from hub.schemas.referrals import ReferralStatusChanged, ReferralSubmitted
from hub.schemas.safety import SafetyCaseHandedOver, SafetyReportFeedback, SafetyReportSubmitted

__all__ = ["TYPES", "TYPE_PREFIX", "TYPE_SUFFIX", "TypeSpec", "spec_for", "type_name"]

ModelClass = type[ContractModel]

TYPE_PREFIX: Final = "nl.sociaaldomein."
TYPE_SUFFIX: Final = ".v1"


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """What the hub knows about one message type.

    ``sender_agb_field`` is the path in ``data`` of the AGB that must equal the sending
    partner's (``referrer.agb``, ``provider_agb``), or None when the type has none.
    """

    type: str
    model: ModelClass
    subject_field: str
    sender_role: Role
    family: str
    short_name: str
    sender_agb_field: tuple[str, ...] | None = None


def type_name(short_name: str) -> str:
    """The full type string for a short name: ``referrals.submitted`` -> ``nl.sociaaldomein.referrals.submitted.v1``."""
    return f"{TYPE_PREFIX}{short_name}{TYPE_SUFFIX}"


def _spec(
    short_name: str,
    model: type[ContractModel],
    subject_field: str,
    sender_role: Role,
    family: str,
    sender_agb_field: tuple[str, ...] | None = None,
) -> TypeSpec:
    return TypeSpec(
        type=type_name(short_name),
        model=model,
        subject_field=subject_field,
        sender_role=sender_role,
        family=family,
        short_name=short_name,
        sender_agb_field=sender_agb_field,
    )


_SPECS = (
    _spec(
        "referrals.submitted",
        ReferralSubmitted,
        "referral_id",
        Role.GP,
        "referrals",
        ("referrer", "agb"),
    ),
    _spec("referrals.status-changed", ReferralStatusChanged, "referral_id", Role.SWT, "referrals"),
    _spec("cases.opened", CaseOpened, "case_id", Role.SWT, "cases"),
    _spec("cases.plan-updated", CasePlanUpdated, "case_id", Role.SWT, "cases"),
    _spec("cases.closed", CaseClosed, "case_id", Role.SWT, "cases"),
    _spec("safety-reports.submitted", SafetyReportSubmitted, "report_id", Role.SWT, "safety"),
    _spec(
        "safety-reports.feedback", SafetyReportFeedback, "report_id", Role.VEILIG_THUIS, "safety"
    ),
    _spec(
        "safety-cases.handed-over",
        SafetyCaseHandedOver,
        "safety_case_id",
        Role.VEILIG_THUIS,
        "safety",
    ),
    _spec("provisions.requested", ProvisionRequested, "request_id", Role.SWT, "provisions"),
    _spec("provisions.decided", ProvisionDecided, "request_id", Role.BACKOFFICE, "provisions"),
    _spec("budgets.status-reported", BudgetStatusReported, "team", Role.BACKOFFICE, "provisions"),
    _spec("assignments.issued", AssignmentIssued, "assignment_number", Role.BACKOFFICE, "care"),
    _spec(
        "care.started",
        CareStarted,
        "assignment_number",
        Role.PROVIDER,
        "care",
        ("provider_agb",),
    ),
    _spec(
        "care.stopped",
        CareStopped,
        "assignment_number",
        Role.PROVIDER,
        "care",
        ("provider_agb",),
    ),
    _spec(
        "outcomes.reported",
        OutcomesReported,
        "assignment_number",
        Role.PROVIDER,
        "care",
        ("provider_agb",),
    ),
    _spec(
        "assignment-requests.submitted",
        AssignmentRequestSubmitted,
        "request_id",
        Role.PROVIDER,
        "care",
        ("provider_agb",),
    ),
)

TYPES: Final[Mapping[str, TypeSpec]] = MappingProxyType({spec.type: spec for spec in _SPECS})
_BY_SHORT_NAME: Final = {spec.short_name: spec for spec in _SPECS}


def spec_for(type_or_short_name: str) -> TypeSpec:
    """The TypeSpec for a full type or a short name; KeyError when there is none."""
    spec = TYPES.get(type_or_short_name) or _BY_SHORT_NAME.get(type_or_short_name)
    if spec is None:
        raise KeyError(type_or_short_name)
    return spec
