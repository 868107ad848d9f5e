"""Dates in the formats people and systems write them, with their precision.

Whether a date is PHI depends on whom it belongs to (a birth or admission date is, a
training-window boundary is not); that decision is the scanner's. This module only finds
real calendar dates — ISO, compact YYYYMMDD, US and European numeric orders, month names
in English ("Feb. 21, 1971", "09-Aug-1962", "30DEC1940") — and ages over 89.
"""
from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

from medflow.guard.spans import SpanIndex

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12,
}
_MON = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
       r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_NB = r"(?<![0-9])"   # digit boundaries: "_" and letters may touch a date in identifiers
_NA = r"(?![0-9])"
_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"

DATE_PATTERNS: list[tuple[str, re.Pattern]] = [
    # 2019-08-14, 2021/11/12, 1966/12/17, 2019-08-14T07:31
    ("ymd", re.compile(_NB + r"(?P<y>1[89]\d\d|2[01]\d\d)(?P<s>[-/.])(?P<m>0?[1-9]|1[0-2])(?P=s)"
                       r"(?P<d>0?[1-9]|[12]\d|3[01])" + _NA + _TIME)),
    # 19310316 — only counted with context (an 8-digit number may be an identifier)
    ("compact", re.compile(_NB + r"(?P<y>19\d\d|20\d\d)(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])"
                           r"(?:T\d{4,6}Z?)?" + _NA)),
    # 30/08/1955, 01-21-1938, 08.12.1972, 6/16/19, 4/4/01
    ("numeric", re.compile(_NB + r"(?P<a>\d{1,2})(?P<s>[-/.])(?P<b>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})" + _NA)),
    # 09-Aug-1962, 30DEC1940, 26 November 2022, 29 February 2024
    ("d_mon_y", re.compile(_NB + r"(?P<d>[0-3]?\d)(?:st|nd|rd|th)?[-\s.]?" + _MON +
                           r"\.?[-\s.,]?\s?(?P<y>1[89]\d\d|2[01]\d\d|\d{2})" + _NA, re.I)),
    # Feb. 21, 1971 / Apr 17 2023 / November 14, 2025
    ("mon_d_y", re.compile(r"(?<![A-Za-z])" + _MON + r"\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+"
                           r"(?P<y>1[89]\d\d|2[01]\d\d)" + _NA, re.I)),
    # 2021-08, 08/2021, Aug 2021 — month precision, counted only with a strong cue
    ("ym", re.compile(_NB + r"(?P<y>19\d\d|20\d\d)[-/](?P<m>0[1-9]|1[0-2])(?![0-9/-])")),
    ("my", re.compile(_NB + r"(?P<m>0?[1-9]|1[0-2])/(?P<y>19\d\d|20\d\d)" + _NA)),
    ("mon_y", re.compile(r"(?<![A-Za-z])" + _MON + r"\.?,?\s+(?P<y>1[89]\d\d|20\d\d)" + _NA, re.I)),
]


_MONTH_STEMS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_FORMS = frozenset({"d_mon_y", "mon_d_y", "mon_y"})


class DateMatch(NamedTuple):
    start: int
    end: int
    year: int
    precision: str   # "day" or "month"
    form: str        # which pattern matched: "ymd", "compact", "numeric", ...


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _year(text: str) -> int:
    value = int(text)
    if len(text) == 2:  # two-digit years: 00-29 -> 2000s, else 1900s (how EHR exports read)
        return 2000 + value if value < 30 else 1900 + value
    return value


# Every date form has a plausible year or a d/m/y triple; most numbers in ML metadata
# ("0.1", "3e-4", "2.16.0", "9008079118") have neither and skip the eight patterns.
MIGHT_BE_DATE = re.compile(r"(?<!\d)(?:1[89]|2[01])\d\d(?:\d{4})?(?!\d)|\d[-/.]\d\d?[-/.]\d\d"
                           r"|(?<!\d)(?:19|20)\d{6}T")


def find_dates(text: str) -> list[DateMatch]:
    """Every calendar date in `text`, longest first where two overlap."""
    if MIGHT_BE_DATE.search(text) is None:
        return []
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []
    lowered = text.lower()
    has_month = any(month in lowered for month in _MONTH_STEMS)
    for form, pattern in DATE_PATTERNS:
        if form in _MONTH_FORMS and not has_month:
            continue
        earlier = SpanIndex(taken) if taken else None  # what earlier forms already claimed
        for m in pattern.finditer(text):
            start, end = m.span()
            if earlier is not None and earlier.overlaps(start, end):
                continue
            parsed = _parse(form, m)
            if parsed is None:
                continue
            year, precision = parsed
            found.append(DateMatch(start, end, year, precision, form))
            taken.append((start, end))
    found.sort()
    return found


def _parse(form: str, m: re.Match) -> tuple[int, str] | None:
    g = m.groupdict()
    if form in ("ymd", "compact"):
        year = int(g["y"])
        return (year, "day") if _valid(year, int(g["m"]), int(g["d"])) else None
    if form == "numeric":
        a, b, sep, ytext = int(g["a"]), int(g["b"]), g["s"], g["y"]
        if sep == "." and len(ytext) == 2:
            return None  # "1.2.10" is a version, not a date
        year = _year(ytext)
        if _valid(year, a, b) or _valid(year, b, a):
            return year, "day"
        return None
    if form in ("d_mon_y", "mon_d_y"):
        year = _year(g["y"])
        return (year, "day") if _valid(year, _MONTHS[g["mon"].lower()], int(g["d"])) else None
    if form in ("ym", "my", "mon_y"):
        return int(g["y"]), "month"
    return None


# ----------------------------------------------------------------------------- ages
AGE_IN_TEXT = re.compile(
    r"(?<![\d.])(?P<age>9\d|1[0-2]\d)\s?(?:-|\s)?(?:y/?o\b|yrs?\b(?:[- ]old)?|years?[- ]old|year[- ]old|"
    r"-?yo\b)"
    r"|\baged?\s*[:=]?\s*(?P<age2>9\d|1[0-2]\d)(?![\d.])"
    r"|(?<=, )(?P<age3>9\d|1[01]\d)\s?[MF]\b",
    re.I)
PLAIN_AGE = re.compile(r"^\s*(9\d|1[0-2]\d)(?:\.\d+)?\s*(?:y|yr|yrs|years?)?\s*$", re.I)


def age_over_89(match: re.Match) -> bool:
    value = int(match.group("age") or match.group("age2") or match.group("age3"))
    return 90 <= value <= 125


def birth_year_implies_age_over_89(year: int, today: date | None = None) -> bool:
    """A year of birth is an identifier when it makes the person older than 89."""
    current = (today or date.today()).year
    return 1880 <= year <= current - 90
