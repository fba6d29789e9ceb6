"""The words of a resident's report (``hub audit report``), in Dutch: fields, purposes, reasons.

A disclosure record names fields by their paths in the contract (``client.address.postcode``,
``goals[].description``); a resident reads kinds of data ("uw adres", "de doelen in uw
plan"). ``describe_fields`` turns a record's paths into those phrases: by the path's first
field, and for fields about a person by what of the person (name, BSN, address, ...).
Every field of every contract type has words here; a unit test checks that, so a new
field cannot reach a resident as a path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = [
    "FIELD_WORDS",
    "LEGAL_BASIS_WORDS",
    "PERSON_FIELDS",
    "PURPOSE_WORDS",
    "REASON_WORDS",
    "describe_fields",
    "legal_basis",
    "purpose",
    "reason",
]

FIELD_WORDS: Final[dict[str, str]] = {
    "assignment_number": "het nummer van de toewijzing",
    "budget_cents": "het budget van het team",
    "case_id": "het dossiernummer bij het wijkteam",
    "change_reason": "de reden van een wijziging",
    "client": "gegevens van de cliënt",
    "closed_on": "de datum waarop uw dossier is gesloten",
    "committed_cents": "het vastgelegde deel van het budget",
    "concern": "de zorgen die zijn gemeld",
    "consent": "de toestemming die u gaf",
    "contact": "contactgegevens van de hulpverlener",
    "coordinator": "contactgegevens van uw vaste contactpersoon",
    "decided_on": "de datum van het besluit",
    "decision_id": "het nummer van het besluit",
    "delivery_status": "de stand van de zorg",
    "follow_up_started": "of er vervolghulp is gestart",
    "goals": "de doelen in uw plan",
    "handed_over_on": "de datum van de overdracht",
    "household": "gegevens van het huishouden",
    "household_informed": "of uw huishouden is ingelicht",
    "household_members": "gegevens van de gezinsleden",
    "issued_on": "de datum van de toewijzing",
    "law": "de wet waaronder u hulp krijgt",
    "legal_representative": "gegevens van de wettelijk vertegenwoordiger",
    "meldcode_steps_completed": "de stappen van de meldcode die zijn gezet",
    "monitoring_agreements": "afspraken over het volgen van de veiligheid",
    "motivation": "de onderbouwing van de aanvraag",
    "not_informed_reason": "waarom uw huishouden niet is ingelicht",
    "note": "een toelichting",
    "objection_deadline": "de termijn om bezwaar te maken",
    "opened_on": "de datum waarop uw dossier is geopend",
    "origin": "hoe uw dossier is ontstaan",
    "outcome": "de uitkomst van het besluit",
    "own_contribution": "of u een eigen bijdrage betaalt",
    "parties": "de organisaties die bij de hulp betrokken zijn",
    "period": "de periode",
    "persons": "gegevens van de betrokken personen",
    "plan_version": "de versie van uw plan",
    "preferred_provider_agb": "de zorgaanbieder van uw voorkeur",
    "product": "de soort hulp of voorziening",
    "provider_agb": "de zorgaanbieder",
    "reason": "de reden",
    "referral_id": "het nummer van uw aanmelding",
    "referrer": "gegevens van degene die u aanmeldde",
    "report_id": "het nummer van de melding of rapportage",
    "reporter": "gegevens van de melder",
    "request": "uw hulpvraag",
    "request_id": "het nummer van de aanvraag",
    "result_areas": "de resultaatgebieden",
    "results": "de behaalde resultaten",
    "risk_level": "de inschatting van het risico",
    "safety_case_id": "het dossiernummer bij Veilig Thuis",
    "safety_conditions": "de veiligheidsvoorwaarden",
    "scope": "de omvang van de hulp",
    "spent_cents": "het bestede deel van het budget",
    "stage": "de fase van de melding",
    "stage_on": "de datum van die fase",
    "started_on": "de datum waarop de zorg begon",
    "status": "de stand van zaken",
    "status_on": "de datum van de stand van zaken",
    "stopped_on": "de datum waarop de zorg stopte",
    "summary": "een samenvatting",
    "team": "het team",
    "team_contact": "contactgegevens van het team",
    "updated_on": "de datum waarop uw plan is bijgewerkt",
    "variant": "de manier waarop de hulp wordt afgesproken",
    "youth_care": "of het om jeugdhulp gaat",
}
"""The first field of a path, as a resident reads it.

Fields about people name whose data it is (the client, the legal representative, the
household's members), never "your": a report is for whoever it concerns, and a legal
representative or a household member reads it too (the report's introduction says so).
"""

PERSON_FIELDS: Final[dict[str, str]] = {
    "bsn": "burgerservicenummer",
    "name": "naam",
    "given_name": "naam",
    "family_name": "naam",
    "family_name_prefix": "naam",
    "initials": "naam",
    "birth_date": "geboortedatum",
    "address": "adres",
    "street": "adres",
    "house_number": "adres",
    "house_letter": "adres",
    "house_number_addition": "adres",
    "postcode": "adres",
    "city": "adres",
    "phone": "telefoonnummer",
    "email": "e-mailadres",
    "role": "rol",
    "organisation": "organisatie",
    "practice_name": "naam van de praktijk",
    "agb": "AGB-code",
    "type": "soort verwijzer",
}
"""What of a person a path names, under a field about people (client, household, ...)."""

_ABOUT_PEOPLE: Final = frozenset(
    {
        "client",
        "household",
        "household_members",
        "persons",
        "legal_representative",
        "reporter",
        "referrer",
        "coordinator",
        "contact",
        "team_contact",
    }
)

PURPOSE_WORDS: Final[dict[str, str]] = {
    "referral-intake": "uw aanmelding bij het wijkteam en de terugkoppeling daarover",
    "case-coordination": "het afstemmen van de hulp aan u en uw huishouden",
    "meldcode-report": "een melding aan Veilig Thuis volgens de meldcode",
    "provision-decision": "het besluit over een voorziening",
    "care-assignment": "het inzetten van zorg bij een zorgaanbieder",
    "care-delivery-and-outcomes": "het verlenen van zorg en de resultaten daarvan",
    "budget-monitoring": "het bewaken van het budget van het team",
}
"""The default processing activities of the routing/privacy table, as a purpose."""

REASON_WORDS: Final[dict[str, str]] = {
    "NO_STATUS_FEEDBACK_CONSENT": "u had geen toestemming gegeven om de verwijzer op de hoogte te houden",
    "NO_CONTENT_FEEDBACK_CONSENT": "u had geen toestemming gegeven om de inhoud met de verwijzer te delen",
    "NO_GOALS_FOR_ASSIGNMENT": "geen van de doelen in uw plan hoort bij de hulp van deze zorgaanbieder",
    "IWMO_NOT_RENDERABLE": "het bericht kon niet worden opgesteld; er is niets verstuurd",
}
"""Why data was withheld (or a release failed), by the disclosure record's reason code."""


LEGAL_BASIS_WORDS: Final[dict[str, str]] = {
    "explicit consent of the client (AVG art. 6(1)(a), 9(2)(a))": "uitdrukkelijke toestemming "
    "van de cliënt (AVG artikel 6 lid 1 onder a en artikel 9 lid 2 onder a)",
    "Wmo 2015 art. 5.1.1": "Wet maatschappelijke ondersteuning 2015, artikel 5.1.1",
    "Jeugdwet ch. 7.4": "Jeugdwet, hoofdstuk 7.4",
    "Participatiewet ch. 7": "Participatiewet, hoofdstuk 7",
    "Wmo 2015 art. 5.2.6 (meldrecht; no consent needed)": "Wet maatschappelijke ondersteuning "
    "2015, artikel 5.2.6 (meldrecht: hiervoor is geen toestemming nodig)",
    "Wmo 2015 art. 4.1.1 and 5.1.6": "Wet maatschappelijke ondersteuning 2015, artikel 4.1.1 "
    "en 5.1.6",
    "None needed: the event carries no personal data": "niet nodig: het bericht bevat geen "
    "persoonsgegevens",
    "AVG art. 6(1)(e) and 32: operating the hub (investigating a dead letter)": "AVG artikel "
    "6 lid 1 onder e en artikel 32: het beheer van de berichtenvoorziening (onderzoek naar "
    "een bericht dat niet kon worden verwerkt)",
}
"""The default legal bases (privacy.md's texts, word for word) in Dutch; a municipality's own
texts are shown as it wrote them."""


def legal_basis(text: str) -> str:
    """A legal basis in Dutch words: the defaults translated, a municipality's own as written.

    A disclosure under several laws joins their bases with "; " (``hub.privacy.policy``):
    each part is translated.
    """
    if text in LEGAL_BASIS_WORDS:  # one basis (the meldrecht's has a "; " of its own)
        return LEGAL_BASIS_WORDS[text]
    return "; ".join(LEGAL_BASIS_WORDS.get(part, part) for part in text.split("; "))


def describe_fields(paths: Iterable[str]) -> list[str]:
    """The kinds of data these paths name, in order of first appearance, each once.

    A path about a person becomes the field's words with what of the person in brackets:
    "gegevens van de cliënt (naam, burgerservicenummer, adres)".
    """
    kinds: dict[str, list[str]] = {}
    for path in paths:
        parts = [part.removesuffix("[]") for part in path.split(".")]
        head = parts[0]
        words = kinds.setdefault(FIELD_WORDS.get(head, head.replace("_", " ")), [])
        if head in _ABOUT_PEOPLE:
            for part in parts[1:]:
                detail = PERSON_FIELDS.get(part)
                if detail is not None:
                    if detail not in words:
                        words.append(detail)
                    break
    return [
        f"{kind} ({', '.join(details)})" if details else kind for kind, details in kinds.items()
    ]


def purpose(activity: str) -> str:
    """The purpose of a processing activity in words; its name when the table uses its own."""
    return PURPOSE_WORDS.get(activity, activity)


def reason(code: str | None) -> str | None:
    """Why, in words; the code itself for a reason that has none yet."""
    if code is None:
        return None
    return REASON_WORDS.get(code, code)
