"""Months and working days in Europe/Amsterdam, as the KPIs count them (docs/operations.md).

Working days are Monday to Friday except the Dutch public holidays that close offices:
New Year's Day, Easter Monday, King's Day (27 April, or 26 April when the 27th is a
Sunday), Ascension Day, Whit Monday, Christmas Day and Boxing Day. Good Friday and
Liberation Day (5 May) count as working days: neither is a general day off.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

__all__ = [
    "AMSTERDAM",
    "is_working_day",
    "local_date",
    "month_of",
    "public_holidays",
    "working_days",
]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local_date(at: datetime) -> date:
    """The date of a moment in Europe/Amsterdam (the contract's event date)."""
    return at.astimezone(AMSTERDAM).date()


def month_of(at: datetime) -> str:
    """``YYYY-MM`` of a moment in Europe/Amsterdam."""
    return local_date(at).strftime("%Y-%m")


def _easter(year: int) -> date:
    # The anonymous Gregorian computus (Meeus/Jones/Butcher): a dozen lines of arithmetic,
    # which no dependency of the hub offers.
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def public_holidays(year: int) -> frozenset[date]:
    """The Dutch public holidays of a year that are not working days (see the module's docstring)."""
    easter = _easter(year)
    kings = date(year, 4, 27)
    if kings.weekday() == 6:
        kings = date(year, 4, 26)
    return frozenset(
        {
            date(year, 1, 1),
            easter + timedelta(days=1),
            kings,
            easter + timedelta(days=39),
            easter + timedelta(days=50),
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and day not in public_holidays(day.year)


def working_days(start: datetime, end: datetime) -> int:
    """Working days after the start's date up to and including the end's (Amsterdam dates).

    A report on a Monday answered the next Monday took 5 working days; answered the same
    day, 0.
    """
    first, last = local_date(start), local_date(end)
    count = 0
    day = first + timedelta(days=1)
    while day <= last:
        count += is_working_day(day)
        day += timedelta(days=1)
    return count
