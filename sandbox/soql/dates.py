"""SOQL date literals (TODAY, LAST_N_DAYS:n, THIS_QUARTER, ...) as half-open day ranges [start, end).

Relative to the store's clock, in the org's time zone, which the sandbox fixes at UTC; weeks start on
Sunday (the en_US locale) and the fiscal year is the calendar year (the default org setting).
"""

from __future__ import annotations

from datetime import date, timedelta

DayRange = tuple[date, date]

_UNITS = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")


def _unit_start(day: date, unit: str) -> date:
    if unit == "DAY":
        return day
    if unit == "WEEK":
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if unit == "MONTH":
        return day.replace(day=1)
    if unit == "QUARTER":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _shift(start: date, unit: str, n: int) -> date:
    """The start of the unit `n` units after the one starting at `start` (n may be negative)."""
    if unit == "DAY":
        return start + timedelta(days=n)
    if unit == "WEEK":
        return start + timedelta(weeks=n)
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit] * n
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _unit_of(word: str) -> str:
    word = word.replace("FISCAL_", "").rstrip("S")
    if word.endswith("_DAY"):  # LAST_90_DAYS
        return "DAY"
    if word not in _UNITS:
        raise ValueError(word)
    return word


def date_range(keyword: str, n: int | None, today: date) -> DayRange:
    """The days a date literal covers, as [start, end). Raises ValueError for an unknown keyword."""
    kw = keyword.upper()
    if kw == "TODAY":
        return today, today + timedelta(days=1)
    if kw == "YESTERDAY":
        return today - timedelta(days=1), today
    if kw == "TOMORROW":
        return today + timedelta(days=1), today + timedelta(days=2)
    if kw == "LAST_90_DAYS":
        n, kw = 90, "LAST_N_DAYS"
    elif kw == "NEXT_90_DAYS":
        n, kw = 90, "NEXT_N_DAYS"
    if n is None:
        # THIS_X / LAST_X / NEXT_X: one whole unit
        direction, _, rest = kw.partition("_")
        unit = _unit_of(rest)
        start = _shift(_unit_start(today, unit), unit, {"THIS": 0, "LAST": -1, "NEXT": 1}[direction])
        return start, _shift(start, unit, 1)
    if kw.startswith("N_") and kw.endswith("_AGO"):
        unit = _unit_of(kw[2:-4])
        start = _shift(_unit_start(today, unit), unit, -n)
        return start, _shift(start, unit, 1)
    direction, _, rest = kw.partition("_N_")
    unit = _unit_of(rest)
    current = _unit_start(today, unit)
    if direction == "LAST":
        if unit == "DAY":
            # LAST_N_DAYS:n counts back n days and includes today
            return today - timedelta(days=n), today + timedelta(days=1)
        return _shift(current, unit, -n), current
    if direction == "NEXT":
        following = _shift(current, unit, 1)
        return following, _shift(following, unit, n)
    raise ValueError(keyword)
