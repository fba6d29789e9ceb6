"""The backoffice connector: the municipal Wmo / Jeugdwet / Participatiewet back office."""

from pathlib import Path

from hub.connectors.protocol import Connector, RoleSpec, TypeSpec
from hub.families.care import CARE
from hub.families.provisions import PROVISIONS
from hub.schemas.care import AssignmentIssued
from hub.schemas.provisions import BudgetStatusReported, ProvisionDecided

ROLE = RoleSpec(
    name="backoffice",
    description="The municipal Wmo / Jeugdwet / Participatiewet back office.",
    singleton=True,
    required=True,
)

CONNECTOR = Connector(
    role=ROLE,
    families=(
        CARE,
        PROVISIONS,
    ),
    # The contract's examples, shared with the docs, `hub validate` and the demo.
    examples=Path(__file__).resolve().parents[3] / "examples",
    sends=(
        TypeSpec(
            type="nl.sociaaldomein.provisions.decided.v1",
            model=ProvisionDecided,
            subject_field="request_id",
            sender_role=ROLE.name,
            family="provisions",
            short_name="provisions.decided",
        ),
        TypeSpec(
            type="nl.sociaaldomein.budgets.status-reported.v1",
            model=BudgetStatusReported,
            subject_field="team",
            sender_role=ROLE.name,
            family="provisions",
            short_name="budgets.status-reported",
        ),
        TypeSpec(
            type="nl.sociaaldomein.assignments.issued.v1",
            model=AssignmentIssued,
            subject_field="assignment_number",
            sender_role=ROLE.name,
            family="care",
            short_name="assignments.issued",
        ),
    ),
    receives=(
        "cases.closed",
        "provisions.requested",
        "care.started",
        "care.stopped",
        "outcomes.reported",
        "assignment-requests.submitted",
    ),
)
