"""The provider connector: a care provider (zorgaanbieder), paid per result area."""

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.connectors.protocol import Connector, HttpEndpoint, Reach, RoleSpec, TypeSpec
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


class IwmoRetourBody(BaseModel):
    """A 301 rendered from the event, and the provider's 302 on it."""

    model_config = ConfigDict(frozen=True)

    provider_agb: str
    identificatie: str = Field(description="The 301's Identificatie.")
    retour: Literal["awaiting", "acknowledged", "rejected"] = Field(
        description="awaiting: no 302 yet; acknowledged: no RetourCode but 0200; rejected: "
        "see rejected."
    )
    rejected: dict[str, list[str]] = Field(description="RetourCodes per rejected ToewijzingNummer.")
    at: str | None = Field(description="When the 302 was received (RFC 3339), or null.")


class IwmoStatusFields(BaseModel):
    """What the iWmo endpoint adds to GET /events/{id}."""

    iwmo: list[IwmoRetourBody] | None = Field(
        default=None,
        description="Only for an assignments.issued rendered as a 301 to a provider with "
        "iwmo: true: per provider, what its 302 said.",
    )


def _bind_iwmo(context: Any) -> Any:
    """The bound endpoint (``hub.roles.provider.iwmo.bind``), given a ``hub.gateway.EndpointContext``."""
    # Imported when the gateway binds it, not at discovery: the router and the other
    # commands that find this connector need none of the gateway's parts.
    from hub.roles.provider.iwmo import bind

    return bind(context)


IWMO_ENDPOINT = HttpEndpoint(
    path="/iwmo/v1/messages",
    name="post_iwmo_message",
    format="iwmo",
    media_type="application/xml",
    bind=_bind_iwmo,
    summary="Send one iWmo 3.2 302, 305 or 307 (providers with iwmo: true)",
    responses={
        200: {
            "description": "The 306 or 308 answering a 305 or 307 (approval: the Header "
            "alone); events are published only on approval.",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        },
        204: {"description": "A 302 matched to its 301; its outcome is stored."},
    },
    status_fields=IwmoStatusFields,
)
"""POST /iwmo/v1/messages: a provider with ``iwmo: true`` sends its 302, 305 and 307 here."""

CONNECTOR = Connector(
    role=ROLE,
    families=(CARE, IWMO),
    # A provider with ``iwmo: true`` gets a translatable assignment as a WMO301.
    renderers=(WMO301,),
    # ... and sends its 305, 307 and 302 as iWmo XML to its own gateway endpoint.
    http_endpoints=(IWMO_ENDPOINT,),
    # The contract's examples, shared with the docs, `hub validate` and the demo.
    examples=Path(__file__).resolve().parents[4] / "examples",
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
