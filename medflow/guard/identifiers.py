"""One small detector per Safe Harbor identifier that has a recognisable written form.

Each detector yields `Candidate`s: a span, a kind, and whether the form alone is proof
(`certain`: a valid SSN written 123-45-6789, a phone number with separators, a labelled
MRN) or the span only becomes a finding with support from context (`certain=False`: a
bare 10-digit number, a letter-prefixed ID) — the scanner decides those. Regexes are
compiled once; detectors that need a digit, "@" or "://" are skipped by the scanner when
the string has none.
"""
from __future__ import annotations

import re
from typing import Iterator, NamedTuple

from medflow.guard.checksums import ip_is_public, ssn_is_valid, vin_check_digit_ok
from medflow.guard.name_lexicon import US_STATES


class Candidate(NamedTuple):
    start: int
    end: int
    kind: str
    certain: bool


# ----------------------------------------------------------------------------- SSN
SSN_FORMATTED = re.compile(r"(?<!\d)(?<!\d-)(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
NINE_DIGITS = re.compile(r"(?<![\d.,-])(\d{3})(\d{2})(\d{4})(?![\d.,-])")


def ssn(text: str) -> Iterator[Candidate]:
    for m in SSN_FORMATTED.finditer(text):
        if ssn_is_valid(m.group(1), m.group(3), m.group(4)):
            yield Candidate(m.start(), m.end(), "ssn", True)


# ----------------------------------------------------------------------------- phone / fax
PHONE_FORMATTED = re.compile(
    r"(?<![\w+/.])(?:\+?1[-. ]?)?(?:\(\d{3}\)[ ]?|\d{3}[-. /])\d{3}[-. ]\d{4}"
    r"(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,6})?(?![\d.-]?\d)")
PHONE_E164 = re.compile(r"(?<![\w+])\+(?:1\d{10}|[2-9]\d{9,13})(?!\d)")
PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])\+[2-9]\d{0,2}(?:[ .-]\d{1,5}){2,5}(?![\d])")
BARE_PHONE = re.compile(r"(?<![\d.,+-])1?[2-9]\d{9}(?![\d.,])")
FAX_CUE = re.compile(r"\bfax\b", re.I)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|#)\s?\d{1,6}$")


def phone(text: str, cue_text: str) -> Iterator[Candidate]:
    patterns = (PHONE_FORMATTED, PHONE_E164, PHONE_INTERNATIONAL) if "+" in text else (PHONE_FORMATTED,)
    for pattern in patterns:
        for m in pattern.finditer(text):
            digits = sum(c.isdigit() for c in _EXTENSION.sub("", m.group()))
            if 10 <= digits <= 15:
                kind = "fax" if FAX_CUE.search(cue_text, max(0, m.start() - 24), m.start()) else "phone"
                yield Candidate(m.start(), m.end(), kind, True)


# ----------------------------------------------------------------------------- email
# Bounded repeats (RFC 5321 lengths) keep a long run of text before an "@" linear.
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
                   r"\.[A-Za-z]{2,24}(?![\w-])")
ROLE_MAILBOXES = frozenset({
    "support", "help", "helpdesk", "info", "admin", "noreply", "no-reply", "donotreply", "git",
    "team", "ops", "mlops", "ml", "data", "datascience", "platform", "alerts", "security",
    "privacy", "compliance", "it", "notifications", "service", "bot", "ci", "builds", "devops",
    "sre", "oncall", "research", "contact", "hipaa", "irb", "registry", "office", "dept", "lab",
})
_ROLE_SPLIT = re.compile(r"[-._+]")
_AT = re.compile("@")


def email(text: str) -> Iterator[Candidate]:
    # Match only around each "@": a regex pass over a long text would retry the local
    # part at every position.
    cursor = 0
    for at in _AT.finditer(text):
        if at.start() < cursor:
            continue
        m = EMAIL.search(text, max(cursor, at.start() - 64), min(len(text), at.start() + 400))
        if m is None or m.start() > at.start():
            continue
        cursor = m.end()
        local = m.group().split("@", 1)[0].lower()
        if local in ROLE_MAILBOXES or any(p in ROLE_MAILBOXES for p in _ROLE_SPLIT.split(local)):
            continue  # a team mailbox names no one
        if text[max(0, m.start() - 7):m.start()].lower().endswith(("/users/", "/home/")):
            continue  # a workspace folder (Databricks /Users/<login>/): workforce
        yield Candidate(m.start(), m.end(), "email", True)


# ----------------------------------------------------------------------------- URL
URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s\"'<>\]\)]+|\bwww\.[a-z0-9-]+\.[^\s\"'<>\]\)]+")
PATIENT_URL = re.compile(
    r"(?i)(?:/|[?&;])(?:patients?|pt|pts|mrn|chart|charts|records?|members?|persons?|encounters?|"
    r"visits?|subjects?|pid|patient_?id|subject_?id|person_?id|member_?id)(?:/|=|\?[a-z_]{1,12}=)"
    r"(?:[a-z]{0,3}[-_]?\d{4,}|[a-z]+[-_.][a-z]+(?:[/?#]|$))")


def url(text: str, person_context: bool) -> Iterator[Candidate]:
    for m in URL.finditer(text):
        value = m.group().rstrip(".,;:!?")
        if person_context or PATIENT_URL.search(value):
            yield Candidate(m.start(), m.start() + len(value), "url", True)


# ----------------------------------------------------------------------------- IP
IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})(?::[0-9A-Fa-f]{1,4}){0,6}(?![\w:])")


def ip(text: str) -> Iterator[Candidate]:
    for m in IPV4.finditer(text) if text.count(".") >= 3 else ():
        before = text[max(0, m.start() - 2):m.start()]
        if before.endswith(("v", "==", "=v", "@")):
            continue  # a version pin or a package version, not an address
        if ip_is_public(m.group()):
            yield Candidate(m.start(), m.end(), "ip", True)
    if text.count(":") >= 3:
        for m in IPV6.finditer(text):
            value = m.group()
            if value.count(":") >= 4 or "::" in value:
                if ip_is_public(value):
                    yield Candidate(m.start(), m.end(), "ip", True)


# ----------------------------------------------------------------------------- labelled IDs
# A label followed by an ID: the label makes the kind certain. (?<![A-Za-z]) instead of \b
# so identifiers like "readmit_pred_MRN22535512" match.
_ID = r"(?P<id>[A-Z]{0,4}[-]?\d[\dA-Z-]{4,18}\d)"
LABELLED: list[tuple[str, re.Pattern]] = [
    ("mrn", re.compile(r"(?i)(?<![A-Za-z])(?:mrn|mr#|mr|medical[ _]record(?:[ _](?:number|no\.?|#))?)"
                       r"[ \t_:#=-]*#?[ \t]*(?P<id>[A-Z]{0,3}\d{5,12})(?!\d)")),
    ("account", re.compile(r"(?i)(?<![A-Za-z])(?:har|fin|acct|account|billing[ _]account)(?-i:(?![a-z]))"
                           r"(?:[ _]*(?:no\.?|number|#))?[ \t_:#=-]*(?:har[ \t]*)?(?P<id>[A-Z]{0,3}\d[\d-]{5,16}\d)(?!\d)")),
    ("health_plan", re.compile(r"(?i)(?<![A-Za-z])(?:medicare|medicaid|mbi|hicn|member|mbr|subscriber|policy|"
                               r"insurance|health[ _]plan|mcd|mcr|uhc|aetna|bcbs|cigna|humana|kp|anthem)"
                               r"(?:[ _]*(?:id|no\.?|number|#))?[ \t_:#=-]*(?P<id>[A-Z0-9]{0,4}-?[0-9][A-Z0-9-]{4,16}[0-9A-Z])(?![A-Za-z0-9])")),
    ("license", re.compile(r"(?i)(?<![A-Za-z])(?:drivers?'?s?[ _]licen[cs]e|licen[cs]e|dl|lic\.?)(?-i:(?![a-z]))"
                           r"(?:[ _]*(?:no\.?|number|#))?[ \t_:#=-]*(?:[A-Z]{2}[ \t-]+)?(?:dl[ \t-]+)?"
                           r"(?P<id>[A-Z]{0,2}\d{5,12})(?!\d)")),
    ("license", re.compile(r"(?i)(?<![A-Za-z])(?:birth|death)?[ _]?certificate(?:[ _]*(?:no\.?|number|#))?"
                           r"[ \t_:#=-]*(?P<id>[A-Z0-9][A-Z0-9-]{4,20}\d)")),
    ("license", re.compile(r"(?<![A-Za-z0-9])(?P<id>(?:BC|DC)-(?:19|20)\d\d-\d{5,10})(?!\d)")),
    ("device_id", re.compile(r"(?i)(?<![A-Za-z])(?:s/n|sn|serial(?:[ _]*(?:no\.?|number|#))?)(?-i:(?![a-z]))[ \t_:#=-]*"
                             r"(?P<id>[A-Z0-9][A-Z0-9-]{4,24})")),
    ("unique_id", re.compile(r"(?i)(?<![A-Za-z])(?:csn|encounter|enc|visit|accession|acc|specimen|episode)(?-i:(?![a-z]))"
                             r"(?:[ _]*(?:id|no\.?|number|#))?[ \t_:#=-]*"
                             r"(?P<id>[A-Z]{0,3}-?(?:19|20)\d\d-\d{4,}|[A-Z]{0,3}\d{6,14})(?!\d)")),
    ("vehicle", re.compile(r"(?i)(?<![A-Za-z])(?:licen[cs]e[ _]plate|plate|vehicle|veh|vin)(?:[ _]*(?:no\.?|number|#))?"
                           r"[ \t_:#=-]*(?:[A-Z]{2}[ \t]+)?(?P<id>[A-Z0-9]{1,4}[- ]?[A-Z0-9]{2,13})(?![A-Za-z0-9])")),
    ("vehicle", re.compile(r"(?<![A-Za-z])[A-Z]{2}[ \t]+plate[ \t]+(?P<id>[A-Z0-9]{1,4}[- ]?[A-Z0-9]{1,5})(?![A-Za-z0-9])")),
    ("biometric", re.compile(r"(?i)(?<![A-Za-z])(?:finger[ _-]?print|retina[l]?|iris|palm[ _-]?(?:vein|print)?|"
                             r"voice[ _-]?print|face[ _-]?print|biometric)s?(?:[ _-]*(?:scan|template|code|hash|id|"
                             r"sample|signature|vector|embedding))*[ \t]*[:=#]?[ \t]*(?P<id>[A-Za-z0-9+/=_-]{6,})")),
]


# The words that must appear for each labelled pattern to match: checked with plain
# substring tests first, because running every labelled regex over every string is slow.
LABEL_WORDS: list[tuple[tuple[str, ...], re.Pattern]] = [
    (("mr",), LABELLED[0][1]),
    (("har", "fin", "acct", "account"), LABELLED[1][1]),
    (("medic", "mbi", "hicn", "member", "mbr", "subscriber", "policy", "insurance", "plan", "mcd",
      "mcr", "uhc", "aetna", "bcbs", "cigna", "humana", "kp", "anthem"), LABELLED[2][1]),
    (("licen", "dl", "lic"), LABELLED[3][1]),
    (("certificate",), LABELLED[4][1]),
    (("bc-", "dc-"), LABELLED[5][1]),
    (("s/n", "sn", "serial"), LABELLED[6][1]),
    (("csn", "enc", "visit", "acc", "specimen", "episode"), LABELLED[7][1]),
    (("plate", "vehicle", "veh", "vin"), LABELLED[8][1]),
    (("plate",), LABELLED[9][1]),
    (("finger", "retina", "iris", "palm", "voice", "face", "biometric"), LABELLED[10][1]),
]
_KIND_OF = {id(pattern): kind for kind, pattern in LABELLED}


_ANY_LABEL = re.compile("|".join(sorted({re.escape(w) for words, _ in LABEL_WORDS for w in words},
                                          key=len, reverse=True)))


def labelled(text: str, lowered: str) -> Iterator[Candidate]:
    if _ANY_LABEL.search(lowered) is None:
        return
    for words, pattern in LABEL_WORDS:
        if not any(word in lowered for word in words):
            continue
        kind = _KIND_OF[id(pattern)]
        for m in pattern.finditer(text):
            value = m.group("id")
            if sum(c.isdigit() for c in value) < 3:
                continue
            yield Candidate(m.start("id"), m.end("id"), kind, True)


# ----------------------------------------------------------------------------- forms alone
MBI = re.compile(r"(?<![A-Za-z0-9])[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]"
                 r"[AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d{2}(?![A-Za-z0-9])")
VIN = re.compile(r"(?<![A-Za-z0-9])[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])")
DICOM_UID = re.compile(r"(?<![\d.])[12](?:\.\d+){5,}(?![\d]|\.\d)")
HEX_GROUPS = re.compile(r"(?<![A-Za-z0-9-])[0-9A-F]{4}(?:-[0-9A-F]{4}){2,3}(?![A-Za-z0-9-])")
DEVICE_CUE = re.compile(r"(?i)pacemaker|pump|implant|defibrillator|\bicd\b|\bcgm\b|neurostimulator|"
                        r"monitor|sensor|stent|hearing aid|device|serial|wearable|glucometer")
DEVICE_ID_AFTER_CUE = re.compile(r"(?i)(?:pacemaker|pump|implant|defibrillator|icd|cgm|neurostimulator|"
                                 r"stent|device|monitor)[^.;\n]{0,16}?[(#:= ]\s*(?P<id>[A-Z0-9][A-Z0-9-]{5,20})")
UDI = re.compile(r"\(01\)\d{14}(?:\(\d{2}\)[\w-]+)*")
PHOTO = re.compile(r"(?i)\bfull[ -]?face\b|\bfacial (?:photo|image|photograph)|\bface (?:photo|image|crop|picture)|"
                   r"\bhead ?shot|\bmug ?shot|\bpatient (?:photo|picture|selfie)|\bportrait photo")
DATA_IMAGE = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]{16,}")


_DEVICE_WORDS = ("pacemaker", "pump", "implant", "defibrillator", "icd", "cgm", "stimulator", "monitor",
                 "sensor", "stent", "hearing", "device", "serial", "wearable", "glucometer")


def forms(text: str, lowered: str) -> Iterator[Candidate]:
    if "." in text:
        for m in DICOM_UID.finditer(text):
            if len(m.group()) >= 26:
                yield Candidate(m.start(), m.end(), "unique_id", True)
    if lowered == text:
        return  # every form below has capital letters
    for m in MBI.finditer(text):
        yield Candidate(m.start(), m.end(), "health_plan", True)
    for m in VIN.finditer(text):
        value = m.group()
        letters = sum(c.isalpha() for c in value)
        if 2 <= letters <= 14 and vin_check_digit_ok(value):
            yield Candidate(m.start(), m.end(), "vehicle", True)
    if not any(word in lowered for word in _DEVICE_WORDS):
        return
    for m in HEX_GROUPS.finditer(text):
        yield Candidate(m.start(), m.end(), "device_id", True)
    for m in DEVICE_ID_AFTER_CUE.finditer(text):
        value = m.group("id")
        digits = sum(c.isdigit() for c in value)
        if digits >= 3 and (not value.isdigit() or len(value) >= 8):
            yield Candidate(m.start("id"), m.end("id"), "device_id", True)


def udi(text: str) -> Iterator[Candidate]:
    for m in UDI.finditer(text):
        yield Candidate(m.start(), m.end(), "device_id", True)


def photo(text: str) -> Iterator[Candidate]:
    for m in PHOTO.finditer(text):
        yield Candidate(m.start(), m.end(), "photo", True)


# ----------------------------------------------------------------------------- geography
_SUFFIX_WORDS = (
    # USPS Publication 28 suffixes, less the words that follow numbers in ML text too
    # ("5 point", "3 way", "2 run").
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct place pl terrace ter "
    "inlet garden stream tunnel station points pines port ports radial ramp rue shoal spurs "
    "squares streets trafficway underpass vlg villages ville vis vista vly wells anex arcade "
    "bayou beach bend bluff bluffs bottom branch brook brooks burg burgs camp canyon cape "
    "cliff cliffs club common commons corner corners course courts coves creek curve divide "
    "estate expressways extensions ford fords forest freeways gardens gateway glens greens "
    "groves harbors haven highways hollow inlet islands junctions keys knolls lakes land "
    "lanes lights loaf locks mall manors meadows mews mill mission motorway mount mountains "
    "orchard overpass park parks parkways passage pike pine plains plaza port prairie "
    "circle cir highway hwy parkway pkwy expressway expy freeway fwy way square sq trail trl mews "
    "junction jct spur summit plains plain stravenue stra trace route rte crossing xing alley aly "
    "bypass causeway cove creek crescent crest dale estates extension falls ferry fields flats forge "
    "fork forks gardens gateway glen grove harbor haven heights hills hollow island isle knoll "
    "knolls lake lakes landing lodge manor meadow meadows mill mills motorway mountain neck orchard "
    "pike pines plaza plz prairie ranch rapids ridge shoal shoals shore shores skyway springs "
    "throughway turnpike valley viaduct views village ville vista walk")
# Street names are capitalised ("717 Robert Expressway"): matching case-sensitively keeps
# "5 epochs each way" out.
_SUFFIXES = "|".join(sorted({f for w in _SUFFIX_WORDS.split() for f in (w.capitalize(), w.upper())},
                            key=len, reverse=True))
STREET = re.compile(
    r"(?<![\w.,])\d{1,6}[A-Z]?\s+(?:(?:[NSEW]|North|South|East|West)\.?\s+)?"
    r"(?:[A-Z][A-Za-z'’.-]*\s+){1,3}(?:" + _SUFFIXES + r")\b\.?"
    r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#|Fl\.?|Floor|Bldg\.?|Room|Rm\.?)\s*[A-Za-z0-9-]+)?")
PO_BOX = re.compile(r"(?i)\bP\.?\s?O\.?\s*Box\s+\d+")
STATE_ZIP = re.compile(r"(?<![A-Za-z])([A-Z]{2})[ \t]+(\d{5}(?:-\d{4})?)(?![\d-])")
ZIP_LABELLED = re.compile(r"(?i)(?<![A-Za-z])(?:zip(?:[ _]?code)?|postal(?:[ _]?code)?|post[ _]?code)[ \t:#=]*(\d{5}(?:-\d{4})?)(?!\d)")
LIVES_IN = re.compile(r"(?i)\b(?:lives|living|resides|residing|resident|moved)\s+(?:in|at|of|to)\s+"
                      r"(?P<place>(?:\d{1,6}\s)?[A-Z][A-Za-z.'-]+(?:\s[A-Z][A-Za-z.'-]+){0,2}(?:,?\s[A-Z]{2})?(?:\s\d{5})?)")


def geography(text: str, lowered: str) -> Iterator[Candidate]:
    for m in STREET.finditer(text):
        yield Candidate(m.start(), m.end(), "address", True)
    if "box" in lowered:
        for m in PO_BOX.finditer(text):
            yield Candidate(m.start(), m.end(), "address", True)
    for m in STATE_ZIP.finditer(text):
        if m.group(1) in US_STATES:
            yield Candidate(m.start(2), m.end(2), "zip", True)
    if "zip" in lowered or "post" in lowered:
        for m in ZIP_LABELLED.finditer(text):
            yield Candidate(m.start(1), m.end(1), "zip", True)
    if "live" in lowered or "resid" in lowered or "moved" in lowered or "living" in lowered:
        for m in LIVES_IN.finditer(text):
            yield Candidate(m.start("place"), m.end("place"), "address", True)
