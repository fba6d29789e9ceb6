"""Level 2: the rules inside one 305/307 (spec iwmo.md section 3); any failure gives 0001.

All rules run and every failure is reported (``hub iwmo inbound`` lists them); the retour
says only 0001 in its Header.
"""

from __future__ import annotations

from datetime import date

from hub.envelope import is_bsn
from hub.iwmo.codes import RETOUR_REJECTED, Finding, IwmoCode
from hub.iwmo.model import CareItem, CareMessage

__all__ = ["document_findings", "years_before"]

_CLIENT = "/Bericht/Client"
_UNKNOWN_BIRTH = date(1900, 1, 1)
_MAX_AGE_YEARS = 120


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 29 February falls back to 28 February.

    Before year 1 (a Dagtekening in the first 120 years AD is a valid Datum) it is
    ``date.min``: no date is earlier.
    """
    if day.year - years < date.min.year:
        return date.min
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _date_use_agrees(birth: date, date_use: str | None) -> bool:
    # CS139: the parts DatumGebruik marks unknown are filled with 01 (day, month) or 1900.
    if date_use == "1":
        return birth.day == 1
    if date_use == "2":
        return birth.day == 1 and birth.month == 1
    if date_use == "3":
        return birth == _UNKNOWN_BIRTH
    return True


def _finding(code: IwmoCode, path: str) -> Finding:
    return Finding(code, path, RETOUR_REJECTED)


def document_findings(message: CareMessage) -> list[Finding]:
    """Every level-2 failure of ``message``: CS002, TR134, TR002, CS139, CS058, TR018, TR101."""
    findings: list[Finding] = []
    client = message.client
    dagtekening = message.header.dagtekening
    birth_path = f"{_CLIENT}/Geboortedatum/Datum"
    if not is_bsn(client.bsn):
        findings.append(_finding(IwmoCode.BSN_INVALID, f"{_CLIENT}/Bsn"))
    if client.birth_date > dagtekening:
        findings.append(_finding(IwmoCode.DATE_AFTER_DAGTEKENING, birth_path))
    unknown = client.birth_date == _UNKNOWN_BIRTH and client.date_use == "3"
    if not unknown and client.birth_date < years_before(dagtekening, _MAX_AGE_YEARS):
        findings.append(_finding(IwmoCode.BIRTH_DATE_TOO_EARLY, birth_path))
    if not _date_use_agrees(client.birth_date, client.date_use):
        findings.append(
            _finding(IwmoCode.DATE_USE_MISMATCH, f"{_CLIENT}/Geboortedatum/DatumGebruik")
        )
    seen: set[tuple[object, ...]] = set()
    for item in message.items:
        findings += _item_findings(item, message.is_start, dagtekening)
        key = item.key("")  # one client per message: the Bsn is the same for every item
        if key in seen:
            findings.append(_finding(IwmoCode.KEY_REPEATED, item.path))
        seen.add(key)
    return findings


def _item_findings(item: CareItem, is_start: bool, dagtekening: date) -> list[Finding]:
    findings: list[Finding] = []
    if item.status not in ("1", "3"):
        findings.append(_finding(IwmoCode.STATUS_NOT_ALLOWED, f"{item.path}/StatusAanlevering"))
    if item.end is not None and item.end < item.begin:
        findings.append(_finding(IwmoCode.STOP_BEFORE_START, f"{item.path}/Einddatum"))
    reported = item.begin if is_start else item.end
    if reported is not None and reported > dagtekening:
        name = "Begindatum" if is_start else "Einddatum"
        findings.append(_finding(IwmoCode.DATE_AFTER_DAGTEKENING, f"{item.path}/{name}"))
    return findings
