"""Values whose key names their kind: `mrn=26789777`, `home_zip=96856`, `patient_age=100`.

When the key says what a value is, the value only has to have that kind's shape: an
8-digit number under `mrn` is a medical record number, while under `seed` it is a seed.
"""
from __future__ import annotations

import re

from medflow.guard.context import KeyContext
from medflow.guard.dates import PLAIN_AGE, birth_year_implies_age_over_89, find_dates

_ID_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 #:/_.-]{3,40}$")
_DIGITS = re.compile(r"\d")
_PHONE_LIKE = re.compile(r"^\+?[\d ()./-]{7,22}(?:\s*(?:x|ext\.?)\s*\d{1,6})?$")
_SSN_LIKE = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_ZIP_LIKE = re.compile(r"^\d{5}(?:-\d{4})?$")
_YEAR = re.compile(r"^(18|19|20)\d\d$")
_IMAGE_VALUE = re.compile(r"(?i)^data:image/|\.(?:jpe?g|png|gif|bmp|tiff?|heic|webp|dcm)$")
_LONG_TOKEN = re.compile(r"^[A-Za-z0-9+/=_-]{16,}$")
# Values that describe data handling rather than hold data ("zip3", "redacted", "none").
NON_VALUES = frozenset({
    "", "none", "null", "nan", "n/a", "na", "true", "false", "yes", "no", "unknown", "redacted",
    "masked", "removed", "dropped", "hashed", "zip3", "zip5", "zip", "county", "city", "state",
    "country", "region", "census_tract", "tract", "street", "address", "0", "1", "-", "*",
    "suppressed", "generalized", "bucketed", "omitted", "[redacted]", "deidentified",
})
ID_KINDS = ("mrn", "account", "health_plan", "license", "vehicle", "device_id", "unique_id")
# Fewest digits an ID of each kind has: research codes like "sub-003" are not MRNs.
MIN_DIGITS = {"mrn": 5, "account": 5, "health_plan": 5, "license": 5, "unique_id": 5,
              "device_id": 4, "vehicle": 3}


def keyed_kind(value: str, ctx: KeyContext) -> str | None:
    """The kind the whole `value` has because of its key, or None."""
    if not ctx.kinds:
        return None
    stripped = value.strip()
    if ctx.config:
        # A hashed or encoded fingerprint is still a biometric identifier; for every other
        # kind a modifier word ("mrn_hash", "age_cap") means the value is not one.
        if "biometric" in ctx.kinds and (_LONG_TOKEN.match(stripped) or digits_in(stripped) >= 3
                                         and _ID_LIKE.match(stripped)):
            return "biometric"
        return None
    if stripped.lower() in NON_VALUES:
        return None
    kinds = ctx.kinds
    digits = len(_DIGITS.findall(stripped))
    if "age" in kinds:
        if PLAIN_AGE.match(stripped):
            return "age"
        if _YEAR.match(stripped) and birth_year_implies_age_over_89(int(stripped)):
            return "age"
    if "date" in kinds and len(stripped) <= 40:
        dates = find_dates(stripped)
        if dates and dates[0].end - dates[0].start >= len(stripped) - 6:
            return "date"  # the value is a date (maybe with a time or a label)
    if "ssn" in kinds and _SSN_LIKE.match(stripped):
        return "ssn"
    if "zip" in kinds and _ZIP_LIKE.match(stripped):
        return "zip"
    if ("phone" in kinds or "fax" in kinds) and _PHONE_LIKE.match(stripped) and 7 <= digits <= 15:
        return "fax" if "fax" in kinds else "phone"
    if "photo" in kinds and (_IMAGE_VALUE.search(stripped) or "photo" in stripped.lower()):
        return "photo"
    if "biometric" in kinds and (digits >= 3 and _ID_LIKE.match(stripped) or _LONG_TOKEN.match(stripped)):
        return "biometric"
    if "address" in kinds and any(c.isalpha() for c in stripped) and len(stripped) >= 3:
        return "address"
    for kind in ID_KINDS:
        if kind in kinds and digits >= MIN_DIGITS[kind] and _ID_LIKE.match(stripped) and len(stripped) >= 4:
            return kind
    return None


def digits_in(text: str) -> int:
    return len(_DIGITS.findall(text))


def id_kind_for_key(ctx: KeyContext) -> str | None:
    """The identifier kind an ID-shaped number under this key has (mrn for a patient key)."""
    if ctx.config:
        return None
    for kind in ID_KINDS + ("ssn", "biometric"):
        if kind in ctx.kinds:
            return kind
    if ctx.person:
        return "mrn"
    return None
