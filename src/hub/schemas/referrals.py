"""Referrals: a GP practice refers a resident to the wijkteam, the team reports the status back.

Types ``referrals.submitted`` (gp -> swt) and ``referrals.status-changed`` (swt -> the gp).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, model_validator

from hub.errors import ErrorCode
from hub.schemas.common import (
    MAX_ENTRIES,
    Agb,
    ClientWithPhone,
    Contact,
    ContractModel,
    Identifier,
    IsoDate,
    LifeDomain,
    Name,
    Omittable,
    Person,
    Text,
    TextLimit,
    age_on,
    duplicate_issues,
    rule_context,
)
from hub.schemas.errors import Issue, raise_issues

__all__ = [
    "Consent",
    "ReferralRequest",
    "ReferralStatus",
    "ReferralStatusChanged",
    "ReferralSubmitted",
    "Referrer",
    "ReferrerRole",
    "Team",
    "Urgency",
]

YOUTH_CARE_AGE_LIMIT = 23

ReferrerRole = Literal["huisarts", "poh-ggz", "poh-jeugd", "poh-somatiek", "poh-ouderen"]
Urgency = Literal["routine", "soon", "urgent"]
ReferralStatus = Literal[
    "received", "intake-scheduled", "in-progress", "referred-on", "closed", "declined"
]


class Referrer(ContractModel):
    """Who refers: the practice (its AGB must be the sender's), the role and a contact."""

    agb: Agb
    practice_name: Name
    role: ReferrerRole
    contact: Contact


class ReferralRequest(ContractModel):
    """What the referral asks: a summary, the life domains concerned (distinct) and urgency."""

    summary: Text
    life_domains: Annotated[
        list[LifeDomain],
        Field(min_length=1, max_length=MAX_ENTRIES, json_schema_extra={"uniqueItems": True}),
    ]
    urgency: Urgency

    @model_validator(mode="after")
    def _distinct_domains(self) -> ReferralRequest:
        raise_issues(duplicate_issues(("life_domains",), self.life_domains))
        return self


class Consent(ContractModel):
    """The client's consent to feedback to the GP; recorded_on is required once either is given."""

    status_feedback: bool
    content_feedback: bool = False
    recorded_on: Omittable[IsoDate] = None

    @model_validator(mode="after")
    def _consistent(self) -> Consent:
        issues: list[Issue] = []
        if self.content_feedback and not self.status_feedback:
            issues.append(
                Issue(
                    ("content_feedback",),
                    ErrorCode.CONSENT_INCONSISTENT,
                    "Consent to content feedback needs consent to status feedback.",
                )
            )
        if (self.status_feedback or self.content_feedback) and self.recorded_on is None:
            issues.append(
                Issue(
                    ("recorded_on",),
                    ErrorCode.CONSENT_INCONSISTENT,
                    "recorded_on is required when consent is given.",
                )
            )
        raise_issues(issues)
        return self


class ReferralSubmitted(ContractModel):
    """``referrals.submitted``: a GP practice refers a client (and household) to the wijkteam."""

    referral_id: Identifier
    referrer: Referrer
    client: ClientWithPhone
    household_members: Omittable[Annotated[list[Person], Field(max_length=20)]] = None
    request: ReferralRequest
    youth_care: bool = False
    consent: Consent

    @model_validator(mode="after")
    def _youth_care_age(self, info: ValidationInfo) -> ReferralSubmitted:
        event_date = rule_context(info).event_date
        if (
            self.youth_care
            and event_date is not None
            and age_on(self.client.birth_date, event_date) >= YOUTH_CARE_AGE_LIMIT
        ):
            raise_issues(
                [
                    Issue(
                        ("youth_care",),
                        ErrorCode.YOUTH_CARE_AGE,
                        "A youth-care referral needs a client younger than 23 on the event date.",
                    )
                ]
            )
        return self


class Team(ContractModel):
    """The wijkteam handling a referral, with a contact for the referrer."""

    name: Name
    contact: Contact


class ReferralStatusChanged(ContractModel):
    """``referrals.status-changed``: the wijkteam tells where a referral stands."""

    referral_id: Identifier
    status: ReferralStatus
    status_on: IsoDate
    team: Team
    note: Omittable[Annotated[str, TextLimit(2000)]] = None
    case_id: Omittable[Identifier] = None
