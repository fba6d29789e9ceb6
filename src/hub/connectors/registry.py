"""The registry of partners: who may send what, as which source, and how each takes deliveries.

The registry is a data file (YAML) validated at start-up; a bad file stops the hub
before it consumes anything, naming the bad field's path. A partner's role is the name
of a role some connector declares (``hub.connectors.discovery``); the registry checks the
role's properties (an AGB, one partner per deployment), not its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.configfile import read_yaml
from hub.connectors.discovery import catalogue
from hub.connectors.protocol import RoleSpec
from hub.errors import ConfigurationError, config_path

__all__ = [
    "DEMO_REGISTRY_PATH",
    "KafkaTopicDelivery",
    "Partner",
    "PartnerRegistry",
    "PullDelivery",
    "WebhookDelivery",
    "load_registry",
]

DEMO_REGISTRY_PATH = Path(__file__).resolve().parent.parent / "data" / "partners.demo.yaml"

_SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_AGB = re.compile(r"[0-9]{8}")


class KafkaTopicDelivery(BaseModel):
    """The partner reads its deliveries from a Kafka topic of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["kafka"] = "kafka"
    topic: str | None = Field(
        default=None,
        description="Topic name; default is the hub's per-partner delivery topic.",
    )


class WebhookDelivery(BaseModel):
    """The partner takes deliveries over HTTPS, signed per Standard Webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["webhook"] = "webhook"
    url: str = Field(description="HTTPS endpoint (http only on loopback, for tests and demos).")
    secret_env: str | None = Field(
        default=None, description="Environment variable holding the signing secret."
    )


class PullDelivery(BaseModel):
    """The partner fetches its deliveries over HTTPS: ``GET /deliveries`` on the gateway.

    For partners that can run neither a webhook endpoint nor a Kafka client. Every
    partner may pull its own stream (a webhook partner catching up after an outage, a
    Kafka partner without a client at hand); this kind says pulling is its only way, so
    the hub runs no webhook deliverer for it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["pull"] = "pull"


class Credentials(BaseModel):
    """How the partner authenticates to the hub. Keys are stored hashed, never in clear."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key_sha256: tuple[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")], ...] = Field(
        default=(),
        description="SHA-256 digests of the partner's API keys, 64 lower-case hex "
        "characters each (several for rotation); a key in clear or a placeholder is refused.",
    )
    mtls_subjects: tuple[str, ...] = Field(
        default=(), description="Client-certificate subject DNs that identify this partner."
    )
    kafka_principal: str | None = Field(
        default=None, description="SASL principal the partner uses on the hub's Kafka cluster."
    )


class Partner(BaseModel):
    """One registered partner organisation (messages.md: id, role, source, agb, credentials, delivery)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    id: Annotated[str, Field(pattern=_SLUG, max_length=64, description="Slug, e.g. gp-de-linde.")]
    role: Annotated[
        str, Field(pattern=_SLUG, description="The name of a role a connector declares.")
    ]
    source: Annotated[
        str, Field(pattern=r"^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$", description="URN it sends as.")
    ]
    agb: str | None = Field(
        default=None, description="AGB code (8 digits); only for a role whose partners have one."
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The organisation's name as residents know it (a resident's report, "
        "`hub audit report`); without it the report names the partner id.",
    )
    credentials: Credentials = Credentials()
    delivery: KafkaTopicDelivery | WebhookDelivery | PullDelivery = Field(
        default_factory=KafkaTopicDelivery, discriminator="kind"
    )
    asked_formats: tuple[Annotated[str, Field(pattern=_SLUG)], ...] = Field(
        default=(),
        alias="formats",
        description="`formats` in the registry: partner formats other than CloudEvents it "
        "takes where it can, each one its role's connector offers (RoleSpec.formats).",
    )
    iwmo: bool = Field(
        default=False,
        description="Exchanges iWmo 3.2 XML instead of CloudEvents where it can (docs/iwmo.md); "
        "only for a role whose connector offers the iwmo format. The same as iwmo in formats.",
    )

    @property
    def formats(self) -> frozenset[str]:
        """The partner formats this partner asked for in the registry (``formats``, ``iwmo``)."""
        return frozenset(self.asked_formats) | ({"iwmo"} if self.iwmo else frozenset())


class _RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partners: list[Partner]


class PartnerRegistry:
    """Look-ups over the registered partners, checked against the connectors' roles.

    ``roles`` defaults to the roles of the discovered connectors. Each partner's role must
    be one of them; a partner has an 8-digit AGB exactly when its role says so; a deployment
    has at most one partner of a singleton role and at least one of a required role.
    """

    def __init__(
        self, partners: Iterable[Partner], roles: Mapping[str, RoleSpec] | None = None
    ) -> None:
        if roles is None:
            roles = catalogue().roles
        self.roles: Mapping[str, RoleSpec] = roles
        self._by_id: dict[str, Partner] = {}
        self._by_source: dict[str, Partner] = {}
        self._by_agb: dict[str, Partner] = {}
        for index, partner in enumerate(partners):
            where = f"partners[{index}]"
            self._check_role(where, partner)
            if partner.id in self._by_id:
                raise ConfigurationError("partner registry", f"{where}.id", "duplicate partner id")
            if partner.source in self._by_source:
                raise ConfigurationError("partner registry", f"{where}.source", "duplicate source")
            if partner.agb is not None and partner.agb in self._by_agb:
                raise ConfigurationError("partner registry", f"{where}.agb", "duplicate agb")
            self._by_id[partner.id] = partner
            self._by_source[partner.source] = partner
            if partner.agb is not None:
                self._by_agb[partner.agb] = partner
        for role in roles.values():
            count = sum(1 for p in self._by_id.values() if p.role == role.name)
            if role.singleton and role.required and count != 1:
                needs = "needs exactly one"
            elif role.singleton and count > 1:
                needs = "has at most one"
            elif role.required and count == 0:
                needs = "needs at least one"
            else:
                continue
            raise ConfigurationError(
                "partner registry",
                "partners",
                f"a deployment {needs} {role.name} partner, found {count}",
            )

    def _check_role(self, where: str, partner: Partner) -> None:
        role = self.roles.get(partner.role)
        if role is None:
            raise ConfigurationError(
                "partner registry",
                f"{where}.role",
                f"not a role of any connector; known: {', '.join(sorted(self.roles))}",
            )
        if role.agb and (partner.agb is None or not _AGB.fullmatch(partner.agb)):
            raise ConfigurationError(
                "partner registry", f"{where}.agb", f"a {role.name} partner needs an 8-digit agb"
            )
        asked = [(f"{where}.formats[{i}]", name) for i, name in enumerate(partner.asked_formats)]
        if partner.iwmo:
            asked.append((f"{where}.iwmo", "iwmo"))
        for at, name in asked:
            if name not in role.formats:
                offered = ", ".join(role.formats) or "none"
                raise ConfigurationError(
                    "partner registry",
                    at,
                    f"a {role.name} partner cannot use {name} (its role's formats: {offered})",
                )
        if not role.agb and partner.agb is not None:
            raise ConfigurationError(
                "partner registry", f"{where}.agb", f"a {role.name} partner has no agb"
            )

    def __iter__(self) -> Iterator[Partner]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, partner_id: str) -> Partner | None:
        """The partner with this id, or None."""
        return self._by_id.get(partner_id)

    def by_source(self, source: str) -> Partner | None:
        """The partner that sends as this source URN, or None."""
        return self._by_source.get(source)

    def by_agb(self, agb: str) -> Partner | None:
        """The partner with this AGB code (of a role whose partners have one), or None."""
        return self._by_agb.get(agb)

    def only(self, role: str) -> Partner:
        """The single partner of a singleton role; KeyError for a role that has none."""
        partner = self.one(role)
        if partner is None:
            raise KeyError(role)
        return partner

    def one(self, role: str) -> Partner | None:
        """The partner of a singleton role, or None when the deployment has none."""
        for partner in self._by_id.values():
            if partner.role == role:
                return partner
        return None

    def with_role(self, role: str) -> list[Partner]:
        """Every partner of this role, in registry order."""
        return [p for p in self._by_id.values() if p.role == role]

    def role_of(self, partner: Partner) -> RoleSpec:
        """The declared role of a registered partner."""
        return self.roles[partner.role]

    def is_reached_through(self, partner: Partner, selector: str) -> bool:
        """True when a row's selector may reach this partner: its role names the selector."""
        reach = self.roles[partner.role].reach
        return reach is not None and selector in reach.selectors


def load_registry(
    path: Path | str = DEMO_REGISTRY_PATH, roles: Mapping[str, RoleSpec] | None = None
) -> PartnerRegistry:
    """Read and validate a partner registry file; raise ConfigurationError naming the bad path.

    ``roles`` defaults to the roles of the discovered connectors.
    """
    path = Path(path)
    raw: Any = read_yaml(path)
    try:
        parsed = _RegistryFile.model_validate(raw if isinstance(raw, Mapping) else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        # Pydantic's message, without the offending input: config files may hold secrets.
        raise ConfigurationError(str(path), config_path(first["loc"]), first["msg"]) from None
    return PartnerRegistry(parsed.partners, roles)
