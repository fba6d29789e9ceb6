"""Months and working days in Europe/Amsterdam, as the Veilig Thuis response is measured."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hub.kpi.calendar import is_working_day, month_of, public_holidays, working_days


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_month_is_amsterdams_not_utcs() -> None:
    """23:30 UTC on 31 March is already April in Amsterdam."""
    assert month_of(_at("2025-03-31T23:30:00+00:00")) == "2025-04"
    assert month_of(_at("2025-03-31T21:30:00+00:00")) == "2025-03"


def test_the_dutch_public_holidays_of_2025() -> None:
    """New Year, Easter Monday, King's Day, Ascension, Whit Monday and Christmas; not Good Friday or 5 May."""
    assert public_holidays(2025) == {
        date(2025, 1, 1),
        date(2025, 4, 21),
        date(2025, 4, 26),  # 27 April 2025 is a Sunday
        date(2025, 5, 29),
        date(2025, 6, 9),
        date(2025, 12, 25),
        date(2025, 12, 26),
    }
    assert is_working_day(date(2025, 4, 18))  # Good Friday
    assert is_working_day(date(2025, 5, 5))  # Liberation Day


@pytest.mark.parametrize(
    ("year", "easter_monday"),
    [(2024, date(2024, 4, 1)), (2026, date(2026, 4, 6)), (2027, date(2027, 3, 29))],
)
def test_easter_monday_is_found_for_other_years(year: int, easter_monday: date) -> None:
    """The computus gives the known Easter Mondays."""
    assert easter_monday in public_holidays(year)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2025-03-03T10:00:00+01:00", "2025-03-03T17:00:00+01:00", 0),  # same day
        ("2025-03-03T10:00:00+01:00", "2025-03-10T09:00:00+01:00", 5),  # Monday to Monday
        ("2025-03-07T16:00:00+01:00", "2025-03-10T09:00:00+01:00", 1),  # Friday to Monday
        ("2025-03-08T12:00:00+01:00", "2025-03-09T12:00:00+01:00", 0),  # a weekend
        ("2025-04-17T10:00:00+02:00", "2025-04-24T10:00:00+02:00", 4),  # over Easter Monday
        ("2025-12-24T10:00:00+01:00", "2025-12-29T10:00:00+01:00", 1),  # over Christmas
    ],
)
def test_working_days_count_after_the_start_date_up_to_the_end_date(
    start: str, end: str, days: int
) -> None:
    """Monday to Friday without public holidays, from the day after the start to the end's day."""
    assert working_days(_at(start), _at(end)) == days
