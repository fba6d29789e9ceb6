"""The ``iwmo`` settings section, ready for ``HubSettings`` to nest (spec iwmo.md, Configuration)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from hub.iwmo.outbound import DEFAULT_XSD_VERSIE
from hub.iwmo.parsing import DEFAULT_MAX_BYTES, MAX_BYTES_LIMIT
from hub.iwmo.retour import DEFAULT_XSD_VERSIE_RETOUR

__all__ = ["IwmoSettings"]

Versie = Annotated[str, Field(pattern=r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$")]


class IwmoSettings(BaseModel):
    """The iWmo 3.2 translator's settings."""

    gemeentecode: str = Field(
        default="0193",
        pattern=r"^[0-9]{4}$",
        description="CBS code of the municipality: Afzender of a 301, the only Ontvanger of a "
        "305/307 accepted (else S300). Demo: 0193 (Zwolle).",
    )
    max_bytes: int = Field(
        default=DEFAULT_MAX_BYTES,
        ge=1,
        le=MAX_BYTES_LIMIT,
        description="Largest iWmo document accepted, checked before parsing (XML_TOO_LARGE); "
        "at most 25 MB (OP179).",
    )
    xsd_versie: tuple[Versie, Versie] = Field(
        default=DEFAULT_XSD_VERSIE,
        description="XsdVersie of a 301 (BasisschemaXsdVersie, BerichtXsdVersie); unverified.",
    )
    xsd_versie_retour: tuple[Versie, Versie] = Field(
        default=DEFAULT_XSD_VERSIE_RETOUR,
        description="XsdVersieRetour of a 306/308 (BasisschemaXsdVersie, BerichtXsdVersie); "
        "unverified.",
    )
    retour_overdue_working_days: int = Field(
        default=3,
        ge=1,
        le=60,
        description="Working days (Monday to Friday) a provider has to answer a 301 with a "
        "302 before the gateway logs iwmo_retour_overdue (OP090: 3).",
    )
    overdue_check_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the gateway looks for 301s whose 302 is overdue.",
    )
    replay_days: int = Field(
        default=30,
        ge=1,
        description="Days a 306/308 is kept to answer a replay of the same bytes; after that "
        "the same bytes get 9056. The receipts topic's retention (personal data's) bounds it too.",
    )
    transaction_timeout_ms: int = Field(
        default=15_000,
        ge=1_000,
        le=900_000,
        description="transaction.timeout.ms of the gateway's iWmo producer: how long a "
        "crashed gateway's open transaction may hold up read_committed readers.",
    )
