"""The veilig-thuis connector: the regional domestic-violence and child-abuse centre."""

from pathlib import Path

from hub.connectors.protocol import Connector, RoleSpec, TypeSpec
from hub.families.safety import SAFETY_FAMILY
from hub.schemas.safety import SAFETY, SafetyCaseHandedOver, SafetyReportFeedback

ROLE = RoleSpec(
    name="veilig-thuis",
    description="The regional domestic-violence and child-abuse centre (formerly AMHK).",
    singleton=True,
    required=True,
)

CONNECTOR = Connector(
    role=ROLE,
    families=(SAFETY_FAMILY,),
    # The contract's examples, shared with the docs, `hub validate` and the demo.
    examples=Path(__file__).resolve().parents[3] / "examples",
    sends=(
        TypeSpec(
            type="nl.sociaaldomein.safety-reports.feedback.v1",
            model=SafetyReportFeedback,
            subject_field="report_id",
            sender_role=ROLE.name,
            family="safety",
            short_name="safety-reports.feedback",
            protection=SAFETY,
        ),
        TypeSpec(
            type="nl.sociaaldomein.safety-cases.handed-over.v1",
            model=SafetyCaseHandedOver,
            subject_field="safety_case_id",
            sender_role=ROLE.name,
            family="safety",
            short_name="safety-cases.handed-over",
            protection=SAFETY,
        ),
    ),
    receives=("safety-reports.submitted",),
)
