"""Provisions: the wijkteam requests a provision, the back office decides; budgets per team.

Types ``provisions.requested`` (swt -> backoffice), ``provisions.decided`` and
``budgets.status-reported`` (backoffice -> swt).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from hub.errors import ErrorCode
from hub.schemas.common import (
    MAX_ENTRIES,
    Agb,
    Client,
    ContractModel,
    Count,
    Identifier,
    IsoDate,
    Law,
    Name,
    Omittable,
    Period,
    Product,
    ResultArea,
    Scope,
    Text,
    Variant,
    YearMonth,
    category_issues,
    duplicate_issues,
    variant_issues,
)
from hub.schemas.errors import Issue, raise_issues

__all__ = [
    "BudgetStatusReported",
    "DecisionOutcome",
    "ProvisionDecided",
    "ProvisionRequested",
]

DecisionOutcome = Literal["granted", "partially-granted", "denied"]


class ProvisionRequested(ContractModel):
    """``provisions.requested``: the wijkteam asks the back office for a provision for a client."""

    request_id: Identifier
    case_id: Identifier
    client: Client
    law: Law
    product: Product
    period: Period
    scope: Omittable[Scope] = None
    variant: Variant
    result_areas: Annotated[
        list[ResultArea], Field(max_length=MAX_ENTRIES, json_schema_extra={"uniqueItems": True})
    ]
    preferred_provider_agb: Omittable[Agb] = None
    motivation: Omittable[Text] = None

    @model_validator(mode="after")
    def _provision_rules(self) -> ProvisionRequested:
        issues = category_issues(self.law, self.product)
        issues += variant_issues(self.variant, self.scope, self.result_areas)
        issues += duplicate_issues(("result_areas",), self.result_areas)
        raise_issues(issues)
        return self


class ProvisionDecided(ContractModel):
    """``provisions.decided``: the back office's decision; period and product only optional when denied."""

    request_id: Identifier
    decision_id: Identifier
    outcome: DecisionOutcome
    decided_on: IsoDate
    period: Omittable[Period] = None
    product: Omittable[Product] = None
    scope: Omittable[Scope] = None
    own_contribution: bool
    objection_deadline: IsoDate
    reason: Omittable[Text] = None

    @model_validator(mode="after")
    def _decision_rules(self) -> ProvisionDecided:
        issues: list[Issue] = []
        if self.outcome != "denied":
            for name in ("period", "product"):
                if getattr(self, name) is None:
                    issues.append(
                        Issue(
                            (name,),
                            ErrorCode.DECISION_FIELDS_REQUIRED,
                            "A granted or partially granted decision needs period and product.",
                        )
                    )
        if self.objection_deadline < self.decided_on:
            issues.append(
                Issue(
                    ("objection_deadline",),
                    ErrorCode.OBJECTION_DEADLINE_INVALID,
                    "The objection deadline may not be before decided_on.",
                )
            )
        raise_issues(issues)
        return self


class BudgetStatusReported(ContractModel):
    """``budgets.status-reported``: a team's budget for a month; no personal data."""

    team: Name
    period: YearMonth
    budget_cents: Count
    committed_cents: Count
    spent_cents: Count
