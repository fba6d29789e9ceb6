"""The provider connector: a care provider (zorgaanbieder), paid per result area."""

from pathlib import Path

from hub.connectors.protocol import Connector, Reach, RoleSpec, TypeSpec
from hub.families.care import CARE
from hub.families.iwmo import IWMO, WMO301
from hub.schemas.care import (
    AssignmentRequestSubmitted,
    CareStarted,
    CareStopped,
    OutcomesReported,
)
from hub.schemas.common import ContractModel

ROLE = RoleSpec(
    name="provider",
    description="A care provider (zorgaanbieder), paid per result area.",
    agb=True,
    # A provider may exchange iWmo 3.2 XML (docs/iwmo.md): ``iwmo: true`` in the registry.
    formats=("iwmo",),
    # privacy.md invariant 4: a provider sees only what its own assignments need.
    reach=Reach(
        selectors=("assigned-provider", "live-assignment-providers"),
        rule="a provider may be reached only through its own assignment "
        "(assigned-provider or live-assignment-providers; privacy.md invariant 4)",
    ),
)


def _sends(short_name: str, model: type[ContractModel], subject_field: str) -> TypeSpec:
    """A care type a provider sends, with the provider's own AGB in ``provider_agb``."""
    return TypeSpec(
        type=f"nl.sociaaldomein.{short_name}.v1",
        model=model,
        subject_field=subject_field,
        sender_role=ROLE.name,
        family="care",
        short_name=short_name,
        sender_agb_field=("provider_agb",),
    )


CONNECTOR = Connector(
    role=ROLE,
    families=(CARE, IWMO),
    # A provider with ``iwmo: true`` gets a translatable assignment as a WMO301.
    renderers=(WMO301,),
    # The contract's examples, shared with the docs, `hub validate` and the demo.
    examples=Path(__file__).resolve().parents[3] / "examples",
    sends=(
        _sends("care.started", CareStarted, "assignment_number"),
        _sends("care.stopped", CareStopped, "assignment_number"),
        _sends("outcomes.reported", OutcomesReported, "assignment_number"),
        _sends("assignment-requests.submitted", AssignmentRequestSubmitted, "request_id"),
    ),
    receives=(
        "cases.plan-updated",
        "assignments.issued",
    ),
)
