"""Cases: the wijkteam opens a case for a household, keeps its plan, and closes it.

Types ``cases.opened``, ``cases.plan-updated`` and ``cases.closed``, all sent by the swt.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from hub.schemas.common import (
    MAX_ENTRIES,
    Contact,
    ContractModel,
    Identifier,
    IsoDate,
    LifeDomain,
    Name,
    Omittable,
    Person,
    PositiveInt,
    ResultArea,
    TextLimit,
    duplicate_issues,
)
from hub.schemas.errors import raise_issues

__all__ = [
    "CaseClosed",
    "CaseOpened",
    "CaseOrigin",
    "CasePlanUpdated",
    "CaseTeam",
    "ClosingReason",
    "Goal",
    "HouseholdMember",
    "HouseholdRole",
]

HouseholdRole = Literal["client", "partner", "child", "other"]
ClosingReason = Literal[
    "goals-achieved", "referred-on", "moved", "client-withdrew", "deceased", "other"
]


class CaseTeam(ContractModel):
    """The wijkteam that holds the case."""

    name: Name


class HouseholdMember(ContractModel):
    """A member of the case's household and their role in it."""

    role: HouseholdRole
    person: Person


class CaseOrigin(ContractModel):
    """Where the case came from: a GP referral and/or a Veilig Thuis handover."""

    referral_id: Omittable[Identifier] = None
    safety_case_id: Omittable[Identifier] = None


class CaseOpened(ContractModel):
    """``cases.opened``: the wijkteam opens a case for a household."""

    case_id: Identifier
    team: CaseTeam
    opened_on: IsoDate
    coordinator: Contact
    household: Annotated[list[HouseholdMember], Field(min_length=1, max_length=MAX_ENTRIES)]
    origin: Omittable[CaseOrigin] = None


class Goal(ContractModel):
    """One goal of the plan; a goal with a result area can reach that area's provider."""

    goal_id: Identifier
    life_domain: LifeDomain
    result_area: Omittable[ResultArea] = None
    description: Annotated[str, TextLimit(1000)]
    target_date: Omittable[IsoDate] = None


class CasePlanUpdated(ContractModel):
    """``cases.plan-updated``: a new version of the household's plan; goal ids are distinct."""

    case_id: Identifier
    plan_version: PositiveInt
    updated_on: IsoDate
    goals: Annotated[list[Goal], Field(max_length=MAX_ENTRIES)]

    @model_validator(mode="after")
    def _distinct_goals(self) -> CasePlanUpdated:
        raise_issues(duplicate_issues(("goals",), (goal.goal_id for goal in self.goals), "goal_id"))
        return self


class CaseClosed(ContractModel):
    """``cases.closed``: the wijkteam closes a case, with the reason."""

    case_id: Identifier
    closed_on: IsoDate
    reason: ClosingReason
