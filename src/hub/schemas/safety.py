"""Safety: the wijkteam reports to Veilig Thuis (meldcode step 5); Veilig Thuis answers and hands over.

Types ``safety-reports.submitted`` (swt -> veilig-thuis), ``safety-reports.feedback`` and
``safety-cases.handed-over`` (veilig-thuis -> swt). Persons here may lack a BSN and a birth date.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from hub.connectors.protocol import SAFETY
from hub.errors import ErrorCode
from hub.schemas.common import (
    MAX_ENTRIES,
    Address,
    Contact,
    ContractModel,
    Email,
    Identifier,
    IsoDate,
    LongText,
    Name,
    Omittable,
    Phone,
    SafetyPerson,
    Text,
    duplicate_issues,
)
from hub.schemas.errors import Issue, raise_issues

__all__ = [
    "MELDCODE_STEPS",
    "SAFETY",
    "Concern",
    "ConcernKind",
    "FeedbackStage",
    "HandoverMember",
    "InvolvedPerson",
    "MeldcodeStep",
    "Reporter",
    "RiskLevel",
    "SafetyCaseHandedOver",
    "SafetyReportFeedback",
    "SafetyReportSubmitted",
    "SafetyRole",
]

MELDCODE_STEPS = frozenset({1, 2, 3, 4})


ConcernKind = Literal[
    "partner-violence",
    "child-abuse",
    "child-neglect",
    "elder-abuse",
    "honour-based-violence",
    "female-genital-mutilation",
    "other",
]
SafetyRole = Literal["victim", "alleged-perpetrator", "child", "witness", "other"]
FeedbackStage = Literal[
    "received",
    "safety-assessed",
    "investigation-started",
    "investigation-completed",
    "handed-over",
    "closed",
]
RiskLevel = Literal["low", "medium", "high"]
MeldcodeStep = Annotated[int, Field(ge=1, le=4)]


class Reporter(ContractModel):
    """The professional who reports: organisation, name, role and a phone number."""

    organisation: Name
    name: Name
    role: Name
    phone: Phone
    email: Omittable[Email] = None


class Concern(ContractModel):
    """What the report is about: kinds (distinct), a description and whether danger is acute."""

    kinds: Annotated[
        list[ConcernKind],
        Field(min_length=1, max_length=MAX_ENTRIES, json_schema_extra={"uniqueItems": True}),
    ]
    description: LongText
    acute_danger: bool
    signals_observed_on: Omittable[IsoDate] = None

    @model_validator(mode="after")
    def _distinct_kinds(self) -> Concern:
        raise_issues(duplicate_issues(("kinds",), self.kinds))
        return self


class InvolvedPerson(ContractModel):
    """A person involved in a report, their role, and their address when known."""

    role: SafetyRole
    person: SafetyPerson
    address: Omittable[Address] = None


class SafetyReportSubmitted(ContractModel):
    """``safety-reports.submitted``: a report to Veilig Thuis after meldcode steps 1-4."""

    report_id: Identifier
    case_id: Omittable[Identifier] = None
    reporter: Reporter
    meldcode_steps_completed: Annotated[
        list[MeldcodeStep],
        Field(min_length=1, max_length=MAX_ENTRIES, json_schema_extra={"uniqueItems": True}),
    ]
    concern: Concern
    persons: Annotated[list[InvolvedPerson], Field(min_length=1, max_length=MAX_ENTRIES)]
    household_informed: bool
    not_informed_reason: Omittable[Text] = None

    @model_validator(mode="after")
    def _meldcode_rules(self) -> SafetyReportSubmitted:
        issues = duplicate_issues(("meldcode_steps_completed",), self.meldcode_steps_completed)
        if not self.concern.acute_danger and set(self.meldcode_steps_completed) != MELDCODE_STEPS:
            issues.append(
                Issue(
                    ("meldcode_steps_completed",),
                    ErrorCode.MELDCODE_STEPS_INCOMPLETE,
                    "All four meldcode steps must be completed unless the danger is acute.",
                )
            )
        if not any(person.role in ("victim", "child") for person in self.persons):
            issues.append(
                Issue(
                    ("persons",),
                    ErrorCode.VICTIM_OR_CHILD_REQUIRED,
                    "At least one person must have the role victim or child.",
                )
            )
        if not self.household_informed and self.not_informed_reason is None:
            issues.append(
                Issue(
                    ("not_informed_reason",),
                    ErrorCode.NOT_INFORMED_REASON_REQUIRED,
                    "Give the reason when the household was not informed.",
                )
            )
        raise_issues(issues)
        return self


class SafetyReportFeedback(ContractModel):
    """``safety-reports.feedback``: Veilig Thuis tells the reporter what it did."""

    report_id: Identifier
    stage: FeedbackStage
    stage_on: IsoDate
    follow_up_started: bool
    parties: Annotated[list[Name], Field(max_length=MAX_ENTRIES)]
    safety_conditions: Omittable[Text] = None


class HandoverMember(ContractModel):
    """A member of the household handed over, with their role in the safety case."""

    role: SafetyRole
    person: SafetyPerson


class SafetyCaseHandedOver(ContractModel):
    """``safety-cases.handed-over``: Veilig Thuis hands a safety case to the wijkteam."""

    safety_case_id: Identifier
    report_id: Omittable[Identifier] = None
    handed_over_on: IsoDate
    household: Annotated[list[HandoverMember], Field(min_length=1, max_length=MAX_ENTRIES)]
    risk_level: RiskLevel
    safety_conditions: Text
    monitoring_agreements: Text
    summary: LongText
    contact: Contact
