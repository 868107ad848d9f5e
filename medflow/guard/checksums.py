"""Validity rules that separate real identifiers from look-alike numbers."""
from __future__ import annotations

import ipaddress

_VIN_VALUES = {
    **{str(i): i for i in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10))),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def ssn_is_valid(area: str, group: str, serial: str) -> bool:
    """SSA rules: area not 000, 666 or 9xx (ITINs); group not 00; serial not 0000."""
    return (area != "000" and area != "666" and area[0] != "9"
            and group != "00" and serial != "0000")


def vin_check_digit_ok(vin: str) -> bool:
    """ISO 3779 / 49 CFR 565 check digit in position 9 (North American VINs)."""
    if len(vin) != 17:
        return False
    try:
        total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS))
    except KeyError:  # I, O and Q never appear in a VIN
        return False
    remainder = total % 11
    return vin[8] == ("X" if remainder == 10 else str(remainder))


def ip_is_public(text: str) -> bool:
    """A routable address (a person's device); private, loopback and link-local are infrastructure."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return False
    if ip.version == 4 and (ip.is_reserved or text.startswith("0.")):
        return False
    return True
