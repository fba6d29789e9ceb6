"""The debt-assistance connector: the municipality's schuldhulpverlening partner.

The wijkteam asks it to take on a client (``debt-assistance.requested``, swt ->
debt-assistance), and only with the client's recorded consent: without it the hub
withholds the request and logs the withholding (its rows: ``when:
data.consent.debt_assistance``). The partner reports how the request goes
(``debt-assistance.status-changed``), to the wijkteam only; the type holds no financial
details, so none can reach anyone. Legal basis: Wet gemeentelijke schuldhulpverlening
art. 8a (``wgs`` in its rows; a table's ``wgs`` overrides it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from hub.connectors.protocol import Connector, RoleSpec, TypeSpec
from hub.errors import ErrorCode
from hub.schemas.common import (
    ClientWithPhone,
    Contact,
    ContractModel,
    Identifier,
    IsoDate,
    Omittable,
    TextLimit,
)
from hub.schemas.errors import Issue, raise_issues

__all__ = [
    "CONNECTOR",
    "DebtAssistanceConsent",
    "DebtAssistanceRequested",
    "DebtAssistanceStatusChanged",
]

HERE = Path(__file__).resolve().parent


class DebtAssistanceConsent(ContractModel):
    """The client's consent to the request reaching debt assistance; recorded_on once given."""

    debt_assistance: bool
    recorded_on: Omittable[IsoDate] = None

    @model_validator(mode="after")
    def _recorded(self) -> DebtAssistanceConsent:
        if self.debt_assistance and self.recorded_on is None:
            raise_issues(
                [
                    Issue(
                        ("recorded_on",),
                        ErrorCode.CONSENT_INCONSISTENT,
                        "recorded_on is required when consent is given.",
                    )
                ]
            )
        return self


class DebtAssistanceRequested(ContractModel):
    """``debt-assistance.requested``: the wijkteam asks debt assistance to take on a client.

    No case notes: the request holds the client, the household's size and the reason in
    at most 1,000 characters, and (objects being closed) nothing else.
    """

    request_id: Identifier
    requested_on: IsoDate
    client: ClientWithPhone
    household_size: Annotated[int, Field(ge=1, le=20)]
    reason: Annotated[str, TextLimit(1000)]
    consent: DebtAssistanceConsent


DebtAssistanceStatus = Literal["intake-scheduled", "in-progress", "closed", "declined"]


class DebtAssistanceStatusChanged(ContractModel):
    """``debt-assistance.status-changed``: where a request stands; no financial details."""

    request_id: Identifier
    status: DebtAssistanceStatus
    status_on: IsoDate
    contact: Omittable[Contact] = None


ROLE = RoleSpec(
    name="debt-assistance",
    description="The municipality's debt-assistance partner (schuldhulpverlening).",
    singleton=True,
)

CONNECTOR = Connector(
    role=ROLE,
    sends=(
        TypeSpec(
            type="nl.sociaaldomein.debt-assistance.status-changed.v1",
            model=DebtAssistanceStatusChanged,
            subject_field="request_id",
            sender_role=ROLE.name,
            family="debt-assistance",
            short_name="debt-assistance.status-changed",
        ),
    ),
    receives=(
        TypeSpec(
            type="nl.sociaaldomein.debt-assistance.requested.v1",
            model=DebtAssistanceRequested,
            subject_field="request_id",
            sender_role="swt",
            family="debt-assistance",
            short_name="debt-assistance.requested",
        ),
    ),
    rows=HERE / "rows.yaml",
    examples=HERE / "examples",
)
