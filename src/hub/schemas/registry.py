"""The registry of message types: type string -> model, subject field, sending role.

``TYPES`` is keyed by the full type (``nl.sociaaldomein.referrals.submitted.v1``); each
TypeSpec says which data field the CloudEvent ``subject`` must equal, which role may send
the type, where the contract names one, which AGB in ``data`` must be the sender's, and
its protection class. The types are not listed here: each connector declares the types
its role sends, and a new one those it is the first to receive (``hub.roles``,
docs/connectors.md); ``TYPES`` is their union, read from the discovered connectors on
first use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from hub.connectors.discovery import catalogue
from hub.connectors.protocol import TypeSpec
from hub.errors import ConfigurationError
from hub.schemas.common import ContractModel

__all__ = ["TYPES", "TYPE_PREFIX", "TYPE_SUFFIX", "TypeSpec", "spec_for", "type_name"]

TYPE_PREFIX: Final = "nl.sociaaldomein."
TYPE_SUFFIX: Final = ".v1"


def type_name(short_name: str) -> str:
    """The full type string for a short name: ``referrals.submitted`` -> ``nl.sociaaldomein.referrals.submitted.v1``."""
    return f"{TYPE_PREFIX}{short_name}{TYPE_SUFFIX}"


class _Types(Mapping[str, TypeSpec]):
    """The connectors' types, read once on first use.

    Not at import: discovery imports the connector modules, which import this package's
    models. Once read, ``get`` is the catalogue's own (one look-up per event, at dict speed).
    """

    def __init__(self) -> None:
        self._types: Mapping[str, TypeSpec] | None = None
        self._by_short_name: Mapping[str, TypeSpec] = {}

    def _load(self) -> Mapping[str, TypeSpec]:
        found = catalogue()
        for spec in found.types.values():
            origin = found.origins[found.declared_by[spec.type]]
            if spec.type != type_name(spec.short_name):
                raise ConfigurationError(
                    origin, spec.short_name, f"the type must be {type_name(spec.short_name)}"
                )
            if not issubclass(spec.model, ContractModel):
                raise ConfigurationError(
                    origin, spec.short_name, "the model must be a hub.schemas.ContractModel"
                )
        self._by_short_name = {spec.short_name: spec for spec in found.types.values()}
        self._types = found.types
        # The instance's attribute shadows the method below from now on.
        vars(self)["get"] = found.types.get
        return found.types

    def __getitem__(self, key: str) -> TypeSpec:
        return (self._types or self._load())[key]

    def get(self, key: str, default: TypeSpec | None = None) -> TypeSpec | None:  # type: ignore[override]
        """The spec of a full type, or ``default``."""
        return (self._types or self._load()).get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in (self._types or self._load())

    def __iter__(self) -> Iterator[str]:
        return iter(self._types or self._load())

    def __len__(self) -> int:
        return len(self._types or self._load())

    def by_short_name(self, short_name: str) -> TypeSpec | None:
        """The spec of a short name, or None."""
        if self._types is None:
            self._load()
        return self._by_short_name.get(short_name)


TYPES: Final = _Types()


def spec_for(type_or_short_name: str) -> TypeSpec:
    """The TypeSpec for a full type or a short name; KeyError when there is none."""
    spec = TYPES.get(type_or_short_name) or TYPES.by_short_name(type_or_short_name)
    if spec is None:
        raise KeyError(type_or_short_name)
    return spec
