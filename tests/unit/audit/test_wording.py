"""Every field of every contract type reaches a resident as words, never as a path."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel

import hub
from hub.audit.wording import (
    FIELD_WORDS,
    PERSON_FIELDS,
    describe_fields,
    legal_basis,
    purpose,
    reason,
)
from hub.connectors.discovery import catalogue


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _models(argument)
    if isinstance(annotation, types.UnionType):
        for argument in annotation.__args__:
            yield from _models(argument)


def _paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        nested = list(_models(field.annotation))
        if not nested:
            yield prefix + name
        for inner in nested:
            yield from _paths(inner, f"{prefix}{name}.")


def test_every_first_field_of_every_type_has_words() -> None:
    heads = {
        path.split(".")[0] for spec in catalogue().types.values() for path in _paths(spec.model)
    }

    assert heads - FIELD_WORDS.keys() == set()


def test_a_persons_fields_are_named_as_kinds_of_data() -> None:
    assert describe_fields(
        ["client.bsn", "client.name.family_name", "client.address.postcode", "client.address.city"]
    ) == ["gegevens van de cliënt (burgerservicenummer, naam, adres)"]
    assert describe_fields(["household_members[].birth_date", "request.summary"]) == [
        "gegevens van de gezinsleden (geboortedatum)",
        "uw hulpvraag",
    ]
    assert describe_fields(["persons[].person.bsn"]) == [
        "gegevens van de betrokken personen (burgerservicenummer)"
    ]


def test_every_path_under_a_person_names_what_of_the_person() -> None:
    """No person path reaches the report without a word for its detail."""
    people = {"client", "household", "household_members", "persons", "legal_representative"}
    for spec in catalogue().types.values():
        for path in _paths(spec.model):
            parts = [part.removesuffix("[]") for part in path.split(".")]
            if parts[0] in people and len(parts) > 1:
                assert any(part in PERSON_FIELDS for part in parts[1:]), path


def test_people_are_named_by_their_place_never_as_the_reader() -> None:
    """A legal representative or a household member reads the report too: no "your" person."""
    for head in ("client", "legal_representative", "household", "household_members"):
        assert not FIELD_WORDS[head].startswith("uw "), head
        assert " uw " not in FIELD_WORDS[head], head


def test_every_default_legal_basis_has_dutch_words() -> None:
    table = Path(hub.__file__).parent / "data" / "privacy.default.yaml"
    bases = yaml.safe_load(table.read_text(encoding="utf-8"))["legal_bases"]
    texts = [t for b in bases.values() for t in (b.values() if isinstance(b, dict) else [b])]
    for text in texts:
        assert legal_basis(text) != text, text
    assert legal_basis("Jeugdwet ch. 7.4; Wmo 2015 art. 5.1.1") == (
        "Jeugdwet, hoofdstuk 7.4; Wet maatschappelijke ondersteuning 2015, artikel 5.1.1"
    )  # a disclosure under two laws
    assert legal_basis("Verordening maatschappelijke ondersteuning art. 3") == (
        "Verordening maatschappelijke ondersteuning art. 3"  # a municipality's own, as written
    )


def test_every_default_activity_has_a_purpose_and_known_reasons_have_words() -> None:
    table = Path(hub.__file__).parent / "data" / "privacy.default.yaml"
    for activity in yaml.safe_load(table.read_text(encoding="utf-8"))["processing_activities"]:
        assert purpose(activity) != activity
    assert reason("NO_STATUS_FEEDBACK_CONSENT") == (
        "u had geen toestemming gegeven om de verwijzer op de hoogte te houden"
    )
    assert reason(None) is None
