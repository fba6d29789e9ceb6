"""Assignments and care: the back office assigns care to a provider, who reports start, stop, outcomes.

iWmo/iJw 301/305/307/315 semantics. Types ``assignments.issued`` (backoffice -> provider),
``care.started``, ``care.stopped``, ``outcomes.reported`` and ``assignment-requests.submitted``
(provider -> backoffice). Rules that need the assignment (its law, provider, period, result
areas) are stateful and checked later in the pipeline; ``care.stopped`` has no law of its own,
so its reason is checked here against the union of the WMO588 and JZ588 lists only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from hub.errors import ErrorCode
from hub.schemas.common import (
    MAX_ENTRIES,
    Agb,
    AssignmentNumber,
    BoundedPeriod,
    ChangeReason,
    Client,
    ClientWithPhone,
    Contact,
    ContractModel,
    DeliveryStatus,
    Identifier,
    IsoDate,
    Law,
    LegalRepresentative,
    Name,
    Number,
    Omittable,
    Period,
    Product,
    ResultArea,
    Scope,
    StopReason,
    Text,
    Variant,
    age_on,
    category_issues,
    duplicate_issues,
    variant_issues,
)
from hub.schemas.errors import Issue, raise_issues

__all__ = [
    "AGB_REFERRER_TYPES",
    "AssignmentIssued",
    "AssignmentReferrer",
    "AssignmentRequestSubmitted",
    "AssignmentStatus",
    "CareStarted",
    "CareStopped",
    "OutcomeResult",
    "OutcomesReported",
    "ReferrerType",
    "ResultStatus",
]

ADULT_AGE = 18

AssignmentStatus = Literal["new", "changed", "withdrawn"]
ResultStatus = Literal["achieved", "partially-achieved", "not-achieved", "in-progress"]
ReferrerType = Literal[
    "gemeente",
    "huisarts",
    "jeugdarts",
    "gecertificeerde-instelling",
    "medisch-specialist",
    "zelfverwijzer",
    "rechter",
]
AGB_REFERRER_TYPES = frozenset({"huisarts", "jeugdarts", "medisch-specialist"})


class AssignmentIssued(ContractModel):
    """``assignments.issued`` (like iWmo 301): the back office assigns a product to a provider."""

    assignment_number: AssignmentNumber
    status: AssignmentStatus
    change_reason: Omittable[ChangeReason] = None
    decision_id: Identifier
    case_id: Omittable[Identifier] = None
    law: Law
    provider_agb: Agb
    client: ClientWithPhone
    legal_representative: Omittable[LegalRepresentative] = None
    product: Product
    period: BoundedPeriod
    scope: Omittable[Scope] = None
    variant: Variant
    result_areas: Annotated[
        list[ResultArea], Field(max_length=MAX_ENTRIES, json_schema_extra={"uniqueItems": True})
    ]
    team_contact: Contact
    issued_on: IsoDate

    @model_validator(mode="after")
    def _assignment_rules(self) -> AssignmentIssued:
        issues: list[Issue] = []
        if self.status == "new" and self.change_reason is not None:
            issues.append(
                Issue(
                    ("change_reason",),
                    ErrorCode.CHANGE_REASON_NOT_ALLOWED,
                    "A new assignment has no change_reason.",
                )
            )
        elif self.status != "new" and self.change_reason is None:
            issues.append(
                Issue(
                    ("change_reason",),
                    ErrorCode.CHANGE_REASON_REQUIRED,
                    "A changed or withdrawn assignment needs a change_reason.",
                )
            )
        issues += category_issues(self.law, self.product)
        issues += variant_issues(self.variant, self.scope, self.result_areas)
        issues += duplicate_issues(("result_areas",), self.result_areas)
        if (
            self.law == "jeugdwet"
            and self.legal_representative is None
            and age_on(self.client.birth_date, self.issued_on) < ADULT_AGE
        ):
            issues.append(
                Issue(
                    ("legal_representative",),
                    ErrorCode.LEGAL_REPRESENTATIVE_REQUIRED,
                    "A Jeugdwet client under 18 on issued_on needs a legal representative.",
                )
            )
        raise_issues(issues)
        return self


class CareStarted(ContractModel):
    """``care.started`` (like iWmo 305): the provider started delivering an assignment."""

    assignment_number: AssignmentNumber
    provider_agb: Agb
    product: Product
    started_on: IsoDate
    delivery_status: DeliveryStatus


class CareStopped(ContractModel):
    """``care.stopped`` (like iWmo 307): the provider stopped delivering, with a stop reason."""

    assignment_number: AssignmentNumber
    provider_agb: Agb
    product: Product
    stopped_on: IsoDate
    reason: StopReason
    delivery_status: DeliveryStatus


class OutcomeResult(ContractModel):
    """The result reached in one result area, with optional explanation and indicators."""

    result_area: ResultArea
    status: ResultStatus
    assessed_on: IsoDate
    explanation: Omittable[Text] = None
    indicators: Omittable[Annotated[dict[Name, Number], Field(max_length=MAX_ENTRIES)]] = None


class OutcomesReported(ContractModel):
    """``outcomes.reported``: the provider reports results per result area (one entry each)."""

    report_id: Identifier
    assignment_number: AssignmentNumber
    provider_agb: Agb
    period: BoundedPeriod
    results: Annotated[list[OutcomeResult], Field(min_length=1, max_length=MAX_ENTRIES)]

    @model_validator(mode="after")
    def _one_result_per_area(self) -> OutcomesReported:
        areas = (result.result_area for result in self.results)
        raise_issues(duplicate_issues(("results",), areas, "result_area"))
        return self


class AssignmentReferrer(ContractModel):
    """Who referred the client to the provider (iJw 315); an AGB for huisarts, jeugdarts, specialist."""

    type: ReferrerType
    agb: Omittable[Agb] = None

    @model_validator(mode="after")
    def _agb_when_medical(self) -> AssignmentReferrer:
        if self.type in AGB_REFERRER_TYPES and self.agb is None:
            raise_issues(
                [
                    Issue(
                        ("agb",),
                        ErrorCode.REFERRER_AGB_REQUIRED,
                        "A huisarts, jeugdarts or medisch-specialist referrer needs an agb.",
                    )
                ]
            )
        return self


class AssignmentRequestSubmitted(ContractModel):
    """``assignment-requests.submitted`` (like iJw 315): a provider asks for an assignment."""

    request_id: Identifier
    provider_agb: Agb
    referrer: AssignmentReferrer
    client: Client
    legal_representative: Omittable[LegalRepresentative] = None
    law: Law
    product: Product
    period: Period
    scope: Omittable[Scope] = None
    variant: Variant
    result_areas: Annotated[
        list[ResultArea], Field(max_length=MAX_ENTRIES, json_schema_extra={"uniqueItems": True})
    ]

    @model_validator(mode="after")
    def _request_rules(self) -> AssignmentRequestSubmitted:
        issues = category_issues(self.law, self.product)
        issues += variant_issues(self.variant, self.scope, self.result_areas)
        issues += duplicate_issues(("result_areas",), self.result_areas)
        raise_issues(issues)
        return self
