"""What a scan reports: where an identifier was seen and of which kind — never the value."""
from __future__ import annotations

from dataclasses import dataclass

# The fixed set of kind names. One per HIPAA Safe Harbor identifier (45 CFR 164.514(b)(2)),
# with geography split into street address and ZIP, and dates split from ages over 89.
KIND_DESCRIPTIONS: dict[str, str] = {
    "name": "a person's name",
    "address": "a street address or place of residence",
    "zip": "a 5-digit ZIP code",
    "date": "a date tied to a person (birth, admission, discharge, death, visit)",
    "age": "an age over 89",
    "phone": "a telephone number",
    "fax": "a fax number",
    "email": "an email address",
    "ssn": "a Social Security number",
    "mrn": "a medical record number",
    "health_plan": "a health plan beneficiary number",
    "account": "an account number",
    "license": "a certificate or licence number",
    "vehicle": "a vehicle identifier (VIN or licence plate)",
    "device_id": "a device identifier or serial number",
    "url": "a web address pointing at a patient record",
    "ip": "an IP address",
    "biometric": "a biometric identifier",
    "photo": "a full-face photograph",
    "unique_id": "a unique identifying number (encounter, visit, accession, study UID)",
}
KINDS = frozenset(KIND_DESCRIPTIONS)


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected identifier: the field it was written to, its kind and its span.

    Deliberately holds no text: a Finding can be logged, put in an audit record or an
    error message without leaking the value it points at. `location` is a position
    ("row 3, column 2", "cell 4, line 2") computed by the scanner, never copied input.
    """

    field: str
    kind: str
    start: int
    end: int
    location: str = ""

    def shifted(self, offset: int, field: str | None = None, location: str | None = None) -> "Finding":
        """The same finding with offsets moved into an enclosing text."""
        return Finding(field if field is not None else self.field, self.kind,
                       self.start + offset, self.end + offset,
                       location if location is not None else self.location)
