"""The referrals family: a GP's referral, and the team's status feedback to that GP.

State: ``referral:<referral_id>`` (the referring GP's AGB, the consent given, its case).
Rows may name the selector ``referring-gp`` (the partner whose AGB sent the referral an
event names) and the conditions ``consent.status_feedback`` and
``consent.content_feedback`` (the consent the referral recorded; privacy.md invariant 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hub.connectors.family import (
    Family,
    Link,
    LinkCondition,
    LinkedFacts,
    SelectorSpec,
    StateKind,
)
from hub.families import state as s
from hub.families.retention import with_case
from hub.routing.rules import RuleInput

__all__ = ["CONSENT_CONTENT_FEEDBACK", "CONSENT_STATUS_FEEDBACK", "REFERRALS", "REFERRING_GP"]


def _referring_gp(data: Mapping[str, Any], facts: LinkedFacts) -> Iterable[Link]:
    return facts.links.get(REFERRING_GP.name, ())


REFERRING_GP = SelectorSpec(
    name="referring-gp",
    description="The partner whose AGB sent the referral this event names.",
    resolve=_referring_gp,
    needs="referral_id",
    fed_by=("referrals.status-changed",),
)

CONSENT_STATUS_FEEDBACK = LinkCondition(
    name="consent.status_feedback",
    withheld_reason="NO_STATUS_FEEDBACK_CONSENT",
    selectors=(REFERRING_GP.name,),
    fed_by=("referrals.status-changed",),
)
CONSENT_CONTENT_FEEDBACK = LinkCondition(
    name="consent.content_feedback",
    withheld_reason="NO_CONTENT_FEEDBACK_CONSENT",
    selectors=(REFERRING_GP.name,),
    fed_by=("referrals.status-changed",),
)


def _submitted(item: RuleInput) -> None:
    key = s.referral_key(item.data["referral_id"])
    if not item.is_new(
        key, "data.referral_id", "A referral with this referral_id was already submitted."
    ):
        return
    consent = item.data["consent"]
    referral = s.ReferralState(
        gp_agb=item.data["referrer"]["agb"],
        status_feedback=bool(consent["status_feedback"]),
        content_feedback=bool(consent.get("content_feedback", False)),
        subjects=sorted(item.own_subjects()),
    )
    item.put(key, item.stamp(referral))


def _status_changed(item: RuleInput) -> None:
    referral_id = item.data["referral_id"]
    referral = s.referral(item, referral_id)
    if referral is None:
        item.unroutable("data.referral_id", "No referral with this referral_id is known.")
        return
    facts = item.facts
    facts.subjects |= set(referral.get("subjects", ()))
    facts.link(REFERRING_GP.name, Link(agb=str(referral.get("gp_agb"))))
    if referral.get("status_feedback") is True:
        facts.holding.add(CONSENT_STATUS_FEEDBACK.name)
    if referral.get("content_feedback") is True:
        facts.holding.add(CONSENT_CONTENT_FEEDBACK.name)
    case_id = item.data.get("case_id")
    if case_id is not None and referral.get("case_id") != case_id:
        updated: s.ReferralState = {**referral, "case_id": case_id}
        item.put(s.referral_key(referral_id), item.stamp(updated))


REFERRALS = Family(
    name="referrals",
    description="A GP's referral to the team, and the status feedback the GP consented to.",
    rules={
        "referrals.submitted": _submitted,
        "referrals.status-changed": _status_changed,
    },
    selectors=(REFERRING_GP,),
    conditions=(CONSENT_STATUS_FEEDBACK, CONSENT_CONTENT_FEEDBACK),
    state=(
        StateKind(
            "referral",
            "A referral: the GP that sent it, its consent flags, its case, its subjects.",
            with_case,
        ),
    ),
)
