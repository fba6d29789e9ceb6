"""Levels 2-4 of a 305/307 and the answer: retourcodes, findings, events, what to store."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from hub.iwmo import CareAnswer, CareMessage, ProductRef, answer_care_message, read_inbound
from hub.iwmo.rules import years_before
from hub.privacy import Pseudonymiser

from .iwmo_helpers import CLIENT_BSN, PROVIDER_AGB, MemoryState, assignment, context, document

START1 = "/Bericht/Client/StartProducten/StartProduct[1]"
STOP1 = "/Bericht/Client/StopProducten/StopProduct[1]"


def message(name: str, *edits: tuple[str, str]) -> CareMessage:
    text = document(name).decode()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    read = read_inbound(text.encode(), sender_agb=PROVIDER_AGB, max_bytes=1 << 20)
    assert isinstance(read, CareMessage)
    return read


def answer(state: MemoryState, name: str, *edits: tuple[str, str], keep: bool = True) -> CareAnswer:
    result = answer_care_message(message(name, *edits), state, context())
    if keep:
        state.store(result.receipt, result.deliveries if result.accepted else {})
    return result


def errors(result: CareAnswer) -> list[dict[str, str]]:
    return [finding.as_dict() for finding in result.findings]


# --- approval ------------------------------------------------------------------------------


def test_approved_305_publishes_one_event_per_start(state: MemoryState) -> None:
    """An approved 305: Header-only retour without codes, two care.started in document order."""
    result = answer(state, "wmo305.xml")
    assert result.accepted
    assert result.retourcodes == {}
    assert b"RetourCodes" not in result.retour
    assert b"<Client>" not in result.retour
    assert [event["data"] for event in result.events] == [
        {
            "assignment_number": "26000311",
            "provider_agb": "73730001",
            "product": {"category": "03", "code": "03B12"},
            "started_on": "2026-10-01",
            "delivery_status": "new",
        },
        {
            "assignment_number": "26000312",
            "provider_agb": "73730001",
            "product": {"category": "06", "code": "06A01"},
            "started_on": "2026-10-02",
            "delivery_status": "new",
        },
    ]
    assert [event["subject"] for event in result.events] == ["26000311", "26000312"]
    assert {event["time"] for event in result.events} == {"2026-11-29T10:15:00+01:00"}
    assert set(result.deliveries) == {"26000311", "26000312"}


def test_replay_returns_the_stored_retour(state: MemoryState) -> None:
    """The same bytes again: the stored retour, nothing published, nothing to store."""
    first = answer(state, "wmo305.xml")
    again = answer_care_message(message("wmo305.xml"), state, context("2026-12-03T09:00:00+01:00"))
    assert again.replayed
    assert again.retour == first.retour
    assert again.events == ()
    assert again.receipt is None


def test_other_bytes_under_a_used_identificatie(state: MemoryState) -> None:
    """Other bytes under a used Identificatie: Header-only retour 9056."""
    answer(state, "wmo305.xml")
    result = answer(state, "wmo305.xml", ("<Geslacht>2</Geslacht>", "<Geslacht>1</Geslacht>"))
    assert result.retourcodes == {"Header": ("9056",)}
    assert errors(result) == [
        {
            "code": "IDENTIFICATIE_USED",
            "path": "/Bericht/Header/BerichtIdentificatie/Identificatie",
            "retourcode": "9056",
        }
    ]
    assert b"<Client>" not in result.retour


def test_a_rejected_resend_under_a_used_identificatie_leaves_the_first_replayable(
    state: MemoryState,
) -> None:
    """Other bytes that fail before the 9056 check store nothing: the first message's resend is still a replay."""
    first = answer(state, "wmo305.xml")
    broken = answer_care_message(
        message(
            "wmo305.xml",
            (
                "<StatusAanlevering>1</StatusAanlevering>",
                "<StatusAanlevering>2</StatusAanlevering>",
            ),
        ),
        state,
        context(),
    )
    assert not broken.accepted
    assert broken.receipt_to_keep is None
    state.store(broken.receipt_to_keep, {})

    again = answer_care_message(message("wmo305.xml"), state, context("2026-12-03T09:00:00+01:00"))

    assert again.replayed
    assert again.retour == first.retour


def test_the_same_bytes_after_their_retour_expired_get_9056(state: MemoryState) -> None:
    """The same bytes once the stored retour is gone: 9056, not a second approval."""
    first = answer(state, "wmo305.xml")
    key = (PROVIDER_AGB, 418, "TZ-305-0017")
    state.receipts[key] = replace(state.receipts[key], retour=None)
    state.records.clear()  # nothing else would refuse the starts again
    result = answer(state, "wmo305.xml", keep=False)
    assert first.accepted
    assert (result.accepted, result.replayed, result.events) == (False, False, ())
    assert result.retourcodes == {"Header": ("9056",)}
    assert [f.code.value for f in result.findings] == ["IDENTIFICATIE_USED"]
    assert result.receipt_to_keep is None


# --- level 2 -------------------------------------------------------------------------------


def test_a_dagtekening_in_the_first_120_years_is_answered(state: MemoryState) -> None:
    """A Dagtekening of year 0100 (a valid Datum) gets its 0001 retour, not an exception."""
    result = answer(
        state,
        "wmo305.xml",
        (
            "<ns2:Dagtekening>2026-10-05</ns2:Dagtekening>",
            "<ns2:Dagtekening>0100-10-05</ns2:Dagtekening>",
        ),
    )
    assert result.retourcodes == {"Header": ("0001",)}
    assert [(f.code.value, f.path) for f in result.findings] == [
        ("DATE_AFTER_DAGTEKENING", "/Bericht/Client/Geboortedatum/Datum"),
        ("DATE_AFTER_DAGTEKENING", f"{START1}/Begindatum"),
        ("DATE_AFTER_DAGTEKENING", "/Bericht/Client/StartProducten/StartProduct[2]/Begindatum"),
    ]
    assert years_before(date(1, 1, 1), 120) == date.min


@pytest.mark.parametrize(
    ("edits", "code", "path"),
    [
        ((("<Bsn>999900031</Bsn>", "<Bsn>999900032</Bsn>"),), "BSN_INVALID", "/Bericht/Client/Bsn"),
        (
            (
                (
                    "<StatusAanlevering>1</StatusAanlevering>",
                    "<StatusAanlevering>2</StatusAanlevering>",
                ),
            ),
            "STATUS_NOT_ALLOWED",
            f"{START1}/StatusAanlevering",
        ),
        (
            (("<Begindatum>2026-10-01</Begindatum>", "<Begindatum>2026-10-06</Begindatum>"),),
            "DATE_AFTER_DAGTEKENING",
            f"{START1}/Begindatum",
        ),
        (
            (("<ns2:Datum>1948-07-01</ns2:Datum>", "<ns2:Datum>2026-10-06</ns2:Datum>"),),
            "DATE_AFTER_DAGTEKENING",
            "/Bericht/Client/Geboortedatum/Datum",
        ),
        (
            (("<ns2:Datum>1948-07-01</ns2:Datum>", "<ns2:Datum>1906-10-04</ns2:Datum>"),),
            "BIRTH_DATE_TOO_EARLY",
            "/Bericht/Client/Geboortedatum/Datum",
        ),
        (
            (
                (
                    "<ns2:Datum>1948-07-01</ns2:Datum>",
                    "<ns2:Datum>1948-07-01</ns2:Datum><ns2:DatumGebruik>2</ns2:DatumGebruik>",
                ),
            ),
            "DATE_USE_MISMATCH",
            "/Bericht/Client/Geboortedatum/DatumGebruik",
        ),
        (
            (
                (
                    "<ToewijzingNummer>26000312</ToewijzingNummer>",
                    "<ToewijzingNummer>26000311</ToewijzingNummer>",
                ),
                ("<ns2:Categorie>06</ns2:Categorie>", "<ns2:Categorie>03</ns2:Categorie>"),
                ("<ns2:Code>06A01</ns2:Code>", "<ns2:Code>03B12</ns2:Code>"),
                ("<Begindatum>2026-10-02</Begindatum>", "<Begindatum>2026-10-01</Begindatum>"),
            ),
            "KEY_REPEATED",
            "/Bericht/Client/StartProducten/StartProduct[2]",
        ),
    ],
)
def test_level_2_rules(
    state: MemoryState, edits: tuple[tuple[str, str], ...], code: str, path: str
) -> None:
    """A rule inside the document: Header-only retour 0001, no event, nothing stored."""
    result = answer(state, "wmo305.xml", *edits)
    assert not result.accepted
    assert result.retourcodes == {"Header": ("0001",)}
    assert errors(result) == [{"code": code, "path": path, "retourcode": "0001"}]
    assert result.events == ()
    assert result.deliveries == {}
    assert b"<RetourCode>0001</RetourCode>" in result.retour
    assert b"XsltVersie" not in result.retour


def test_unknown_birth_date_is_not_too_early(state: MemoryState) -> None:
    """1900-01-01 with DatumGebruik 3 (unknown) passes TR002 and CS139."""
    edit = (
        "<ns2:Datum>1948-07-01</ns2:Datum>",
        "<ns2:Datum>1900-01-01</ns2:Datum><ns2:DatumGebruik>3</ns2:DatumGebruik>",
    )
    assert answer(state, "wmo305.xml", edit).accepted


def test_stop_before_start(state: MemoryState) -> None:
    """TR018: a stop's Einddatum before its Begindatum."""
    edit = ("<w:Einddatum>2026-11-20</w:Einddatum>", "<w:Einddatum>2026-09-30</w:Einddatum>")
    result = answer(state, "wmo307.xml", edit)
    assert errors(result) == [
        {"code": "STOP_BEFORE_START", "path": f"{STOP1}/Einddatum", "retourcode": "0001"}
    ]


# --- levels 3-4 ----------------------------------------------------------------------------


def test_header_rules(state: MemoryState) -> None:
    """8848 (Dagtekening after today) and S300 (another municipality) answer Header-only."""
    future = (
        "<ns2:Dagtekening>2026-10-05</ns2:Dagtekening>",
        "<ns2:Dagtekening>2026-11-30</ns2:Dagtekening>",
    )
    fresh = ("TZ-305-0017", "TZ-305-0030")  # the first answer used TZ-305-0017
    assert answer(state, "wmo305.xml", future).retourcodes == {"Header": ("8848",)}
    other = ("<Ontvanger>0193</Ontvanger>", "<Ontvanger>0363</Ontvanger>")
    result = answer(state, "wmo305.xml", other, fresh)
    assert result.retourcodes == {"Header": ("S300",)}
    assert errors(result)[0]["path"] == "/Bericht/Header/Ontvanger"


def rejected(result: CareAnswer, code: str, path: str, retourcode: str) -> None:
    assert not result.accepted
    assert errors(result) == [{"code": code, "path": path, "retourcode": retourcode}]
    assert result.retourcodes["Header"] == ("0200",)
    assert result.retourcodes["Client"] == ("0200",)
    assert result.events == ()
    assert result.deliveries == {}


@pytest.mark.parametrize(
    ("facts", "code", "path"),
    [
        (None, "ASSIGNMENT_UNKNOWN", f"{START1}/ToewijzingNummer"),
        (assignment(provider_agb="73730002"), "ASSIGNMENT_UNKNOWN", f"{START1}/ToewijzingNummer"),
        (assignment(status="withdrawn"), "ASSIGNMENT_WITHDRAWN", f"{START1}/ToewijzingNummer"),
        (assignment(clients=frozenset({"other"})), "ASSIGNMENT_UNKNOWN", "/Bericht/Client/Bsn"),
        (assignment(law="jeugdwet"), "CATEGORY_LAW_MISMATCH", f"{START1}/Product/Categorie"),
        (assignment(product=ProductRef("03", "03B13")), "PRODUCT_MISMATCH", f"{START1}/Product"),
        (
            assignment(period_start=date(2026, 8, 1)),
            "DATE_OUTSIDE_PERIOD",
            f"{START1}/ToewijzingIngangsdatum",
        ),
        (
            assignment(period_end=date(2026, 9, 30)),
            "DATE_OUTSIDE_PERIOD",
            f"{START1}/Begindatum",
        ),
    ],
)
def test_9019(state: MemoryState, facts: object, code: str, path: str) -> None:
    """TR019 and the hub's reasons for it: each is 9019 on the item, 0200 elsewhere."""
    if facts is None:
        del state.assignments[26000311]
    else:
        state.assignments[26000311] = facts  # type: ignore[assignment]
    result = answer(state, "wmo305.xml")
    rejected(result, code, path, "9019")
    assert result.retourcodes == {
        "Header": ("0200",),
        "Client": ("0200",),
        "StartProduct[1]": ("9019",),
        "StartProduct[2]": ("0200",),
    }


def test_full_retour_echoes_the_client_with_codes_last(state: MemoryState) -> None:
    """A rejected item: the Client is echoed unchanged, RetourCodes last in each class."""
    del state.assignments[26000312]
    result = answer(state, "wmo305.xml")
    text = result.retour.decode()
    assert "<Bsn>999900031</Bsn>" in text
    assert "<bs:Voorletters>JH</bs:Voorletters>" in text
    assert text.count("<RetourCodes>") == 4
    client_tail = "    <RetourCodes>\r\n      <RetourCode>0200</RetourCode>\r\n    </RetourCodes>\r\n  </Client>"
    assert client_tail in text
    assert (
        "<StatusAanlevering>1</StatusAanlevering>\r\n        <RetourCodes>\r\n"
        "          <RetourCode>9019</RetourCode>" in text
    )


def test_budget_assignment_matches_on_category_alone(state: MemoryState) -> None:
    """A budget assignment (301 without Code) accepts a Product without Code."""
    state.assignments[26000312] = assignment(
        "26000312", product=ProductRef("06", "06A01"), budget=True
    )
    edit = ("<ns2:Code>06A01</ns2:Code>", "")
    result = answer(state, "wmo305.xml", edit)
    assert result.accepted
    assert result.events[1]["data"]["product"] == {"category": "06", "code": "06A01"}


def test_volume_assignment_needs_the_code(state: MemoryState) -> None:
    """A non-budget assignment refuses a Product without Code (PRODUCT_MISMATCH)."""
    result = answer(state, "wmo305.xml", ("<ns2:Code>06A01</ns2:Code>", ""))
    assert errors(result) == [
        {
            "code": "PRODUCT_MISMATCH",
            "path": "/Bericht/Client/StartProducten/StartProduct[2]/Product",
            "retourcode": "9019",
        }
    ]


def test_start_twice_and_another_start(state: MemoryState) -> None:
    """9074: the same start again; 9326: another start while one is current."""
    assert answer(state, "wmo305.xml").accepted
    ident = ("TZ-305-0017", "TZ-305-0019")
    result = answer(state, "wmo305.xml", ident)
    assert result.retourcodes["StartProduct[1]"] == ("9074",)
    assert errors(result)[0]["code"] == "CARE_ALREADY_STARTED"
    other = ("<Begindatum>2026-10-01</Begindatum>", "<Begindatum>2026-10-04</Begindatum>")
    result = answer(state, "wmo305.xml", ("TZ-305-0017", "TZ-305-0020"), other)
    assert result.retourcodes["StartProduct[1]"] == ("9326",)
    assert errors(result)[0]["code"] == "OTHER_CARE_CURRENT"


def test_stop_rules(state: MemoryState) -> None:
    """9069 without a start; then start, stop; 9074 the same stop again; 9415 another stop."""
    result = answer(state, "wmo307.xml")
    rejected(result, "CARE_NOT_STARTED", STOP1, "9069")
    state.receipts.clear()
    assert answer(state, "wmo305.xml").accepted
    stop = answer(state, "wmo307.xml")
    assert stop.accepted
    assert stop.events[0]["data"] == {
        "assignment_number": "26000311",
        "provider_agb": "73730001",
        "product": {"category": "03", "code": "03B12"},
        "stopped_on": "2026-11-20",
        "reason": "02",
        "delivery_status": "new",
    }
    again = answer(state, "wmo307.xml", ("TZ-307-0004", "TZ-307-0005"))
    rejected(again, "CARE_ALREADY_STOPPED", STOP1, "9074")
    other = answer(
        state,
        "wmo307.xml",
        ("TZ-307-0004", "TZ-307-0006"),
        ("<w:Einddatum>2026-11-20</w:Einddatum>", "<w:Einddatum>2026-11-21</w:Einddatum>"),
    )
    rejected(other, "CARE_STOPPED_OTHERWISE", STOP1, "9415")


def test_temporary_stop_allows_another(state: MemoryState) -> None:
    """After a stop with reason 20 another stop of the same start is accepted (no 9415)."""
    assert answer(state, "wmo305.xml").accepted
    reason = (
        "<w:RedenBeeindiging>02</w:RedenBeeindiging>",
        "<w:RedenBeeindiging>20</w:RedenBeeindiging>",
    )
    assert answer(state, "wmo307.xml", reason).accepted
    later = answer(
        state,
        "wmo307.xml",
        ("TZ-307-0004", "TZ-307-0007"),
        ("<w:Einddatum>2026-11-20</w:Einddatum>", "<w:Einddatum>2026-11-22</w:Einddatum>"),
    )
    assert later.accepted


def test_delete_rules(state: MemoryState) -> None:
    """9063: a delete without its new; 9071: deleting a start that has a current stop."""
    delete = (
        "<StatusAanlevering>1</StatusAanlevering>",
        "<StatusAanlevering>3</StatusAanlevering>",
    )
    result = answer(state, "wmo305.xml", delete)
    rejected(result, "DELETE_WITHOUT_NEW", START1, "9063")
    state.receipts.clear()
    assert answer(state, "wmo305.xml").accepted
    assert answer(state, "wmo307.xml").accepted
    result = answer(state, "wmo305-correction.xml")
    rejected(result, "START_HAS_STOP", START1, "9071")


def test_delete_and_replacement_travel_together(state: MemoryState) -> None:
    """IV008: a delete and its replacement in one 305, checked in document order."""
    assert answer(state, "wmo305.xml").accepted
    result = answer(state, "wmo305-correction.xml")
    assert result.accepted
    assert [event["data"]["delivery_status"] for event in result.events] == ["deleted", "new"]
    assert [event["data"]["started_on"] for event in result.events] == ["2026-10-01", "2026-10-06"]
    assert [start["deleted"] for start in result.deliveries["26000311"]["starts"]] == [True, False]


def test_replacement_before_delete_is_refused(state: MemoryState) -> None:
    """Order matters: the new start before the delete still meets a current start (9326)."""
    assert answer(state, "wmo305.xml").accepted
    delete = "<Begindatum>2026-10-01</Begindatum>\n        <StatusAanlevering>3</StatusAanlevering>"
    new = "<Begindatum>2026-10-06</Begindatum>\n        <StatusAanlevering>1</StatusAanlevering>"
    text = document("wmo305-correction.xml").decode()
    swapped = text.replace(delete, "@").replace(new, delete).replace("@", new)
    read = read_inbound(swapped.encode(), sender_agb=PROVIDER_AGB, max_bytes=1 << 20)
    assert isinstance(read, CareMessage)
    result = answer_care_message(read, state, context())
    assert result.retourcodes["StartProduct[1]"] == ("9326",)
    assert result.retourcodes["StartProduct[2]"] == ("0200",)


def test_failed_answer_changes_no_state(state: MemoryState) -> None:
    """A rejected message leaves the kept care records as they were."""
    del state.assignments[26000312]
    result = answer(state, "wmo305.xml")
    assert not result.accepted
    assert state.records == {}


def test_dagtekening_retour_is_the_amsterdam_date(state: MemoryState) -> None:
    """DagtekeningRetour is the processing date in Europe/Amsterdam, not UTC."""
    late = answer_care_message(message("wmo305.xml"), state, context("2026-11-29T23:30:00+00:00"))
    assert b"<DagtekeningRetour>2026-11-30</DagtekeningRetour>" in late.retour


# --- pseudonym key rotation ----------------------------------------------------------------

OLD_KEY = Pseudonymiser(b"iwmo-test-old-pseudonym-secret-01", key_id="k1")
NEW_KEY = Pseudonymiser(b"iwmo-test-new-pseudonym-secret-02", key_id="k2")
ROTATED = Pseudonymiser(
    b"iwmo-test-new-pseudonym-secret-02",
    key_id="k2",
    previous={"k1": b"iwmo-test-old-pseudonym-secret-01"},
)


def _under(
    pseudonymise: Pseudonymiser, state: MemoryState, name: str, *edits: tuple[str, str]
) -> CareAnswer:
    result = answer_care_message(
        message(name, *edits), state, replace(context(), pseudonymise=pseudonymise)
    )
    state.store(result.receipt, result.deliveries if result.accepted else {})
    return result


def test_care_started_before_a_key_rotation_is_stopped_after_it() -> None:
    """Assignments and a start recorded under the old key's pseudonym match a 307 checked
    after the rotation (the old key kept); with the old key dropped, the client is unknown."""
    state = MemoryState(
        assignments={
            26000311: assignment(clients=frozenset({OLD_KEY(CLIENT_BSN)})),
            26000312: assignment(
                "26000312",
                product=ProductRef("06", "06A01"),
                clients=frozenset({OLD_KEY(CLIENT_BSN)}),
            ),
        }
    )
    assert _under(OLD_KEY, state, "wmo305.xml").accepted
    assert state.records["26000311"]["starts"][0]["client"] == OLD_KEY(CLIENT_BSN)
    dropped = MemoryState(assignments=state.assignments, records=dict(state.records))
    stop = _under(ROTATED, state, "wmo307.xml")
    assert stop.accepted, errors(stop)
    assert [event["data"]["stopped_on"] for event in stop.events] == ["2026-11-20"]
    rejected(
        _under(NEW_KEY, dropped, "wmo307.xml"), "ASSIGNMENT_UNKNOWN", "/Bericht/Client/Bsn", "9019"
    )
