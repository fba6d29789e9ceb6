"""The gp connector: a GP practice (huisarts, POH-GGZ, POH-Jeugd, ...) that refers clients."""

from pathlib import Path

from hub.connectors.protocol import Connector, Reach, RoleSpec, TypeSpec
from hub.families.referrals import REFERRALS
from hub.schemas.referrals import ReferralSubmitted

ROLE = RoleSpec(
    name="gp",
    description="A GP practice: huisarts or its support staff (POH-GGZ, POH-Jeugd, ...).",
    agb=True,
    # privacy.md invariant 3: a gp hears only of its own referrals, and only with consent.
    reach=Reach(
        selectors=("referring-gp",),
        condition="consent.status_feedback",
        rule="a gp may be reached only as referring-gp with when: consent.status_feedback "
        "(privacy.md invariant 3)",
    ),
)

CONNECTOR = Connector(
    role=ROLE,
    families=(REFERRALS,),
    # The contract's examples, shared with the docs, `hub validate` and the demo.
    examples=Path(__file__).resolve().parents[3] / "examples",
    sends=(
        TypeSpec(
            type="nl.sociaaldomein.referrals.submitted.v1",
            model=ReferralSubmitted,
            subject_field="referral_id",
            sender_role=ROLE.name,
            family="referrals",
            short_name="referrals.submitted",
            sender_agb_field=("referrer", "agb"),
        ),
    ),
    receives=("referrals.status-changed",),
)
