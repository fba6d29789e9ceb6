"""The swt connector: the sociaal wijkteam's case system, one per municipality."""

from pathlib import Path

from hub.connectors.protocol import Connector, RoleSpec, TypeSpec
from hub.families.cases import CASES
from hub.families.provisions import PROVISIONS
from hub.families.referrals import REFERRALS
from hub.families.safety import SAFETY_FAMILY
from hub.schemas.cases import CaseClosed, CaseOpened, CasePlanUpdated
from hub.schemas.provisions import ProvisionRequested
from hub.schemas.referrals import ReferralStatusChanged
from hub.schemas.safety import SAFETY, SafetyReportSubmitted

ROLE = RoleSpec(
    name="swt",
    description="The sociaal wijkteam case system (one per municipality).",
    singleton=True,
    required=True,
)

CONNECTOR = Connector(
    role=ROLE,
    families=(
        CASES,
        PROVISIONS,
        REFERRALS,
        SAFETY_FAMILY,
    ),
    # The contract's examples, shared with the docs, `hub validate` and the demo.
    examples=Path(__file__).resolve().parents[3] / "examples",
    sends=(
        TypeSpec(
            type="nl.sociaaldomein.referrals.status-changed.v1",
            model=ReferralStatusChanged,
            subject_field="referral_id",
            sender_role=ROLE.name,
            family="referrals",
            short_name="referrals.status-changed",
        ),
        TypeSpec(
            type="nl.sociaaldomein.cases.opened.v1",
            model=CaseOpened,
            subject_field="case_id",
            sender_role=ROLE.name,
            family="cases",
            short_name="cases.opened",
        ),
        TypeSpec(
            type="nl.sociaaldomein.cases.plan-updated.v1",
            model=CasePlanUpdated,
            subject_field="case_id",
            sender_role=ROLE.name,
            family="cases",
            short_name="cases.plan-updated",
        ),
        TypeSpec(
            type="nl.sociaaldomein.cases.closed.v1",
            model=CaseClosed,
            subject_field="case_id",
            sender_role=ROLE.name,
            family="cases",
            short_name="cases.closed",
        ),
        TypeSpec(
            type="nl.sociaaldomein.safety-reports.submitted.v1",
            model=SafetyReportSubmitted,
            subject_field="report_id",
            sender_role=ROLE.name,
            family="safety",
            short_name="safety-reports.submitted",
            protection=SAFETY,
        ),
        TypeSpec(
            type="nl.sociaaldomein.provisions.requested.v1",
            model=ProvisionRequested,
            subject_field="request_id",
            sender_role=ROLE.name,
            family="provisions",
            short_name="provisions.requested",
        ),
    ),
    receives=(
        "referrals.submitted",
        "safety-reports.feedback",
        "safety-cases.handed-over",
        "provisions.decided",
        "budgets.status-reported",
        "assignments.issued",
        "care.started",
        "care.stopped",
        "outcomes.reported",
        "assignment-requests.submitted",
    ),
)
