"""What the key a value is logged under says about the value.

`patient_dob=1962-03-14` and `training_date=2024-03-14` hold the same kind of string; only
the key tells a birth date from a data-window boundary. A key is split into lowercase
words; some words name a person (patient, pt), some name an identifier (mrn, dob, zip),
and some say the key describes configuration rather than data (column, cap, bucket, n),
in which case the identifier words do not apply (`dob_column=dob`, `age_cap=90`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_SPLIT = re.compile(r"[^0-9A-Za-z]+|(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")

# Words that make the value about one person.
PERSON_WORDS = frozenset({
    "patient", "patients", "pt", "pts", "subject", "person", "individual", "member", "members",
    "beneficiary", "decedent", "resident", "mother", "father", "guardian", "donor", "recipient",
    "case", "cases", "victim", "driver", "client", "enrollee", "insured", "subscriber",
})
# Words that name the value's identifier kind. Order matters only for readability.
KIND_WORDS: dict[str, str] = {
    **dict.fromkeys(["dob", "birth", "birthdate", "birthday", "born", "bday"], "date"),
    **dict.fromkeys(["admit", "admitted", "admission", "adm", "discharge", "discharged", "dc",
                     "death", "died", "dod", "deceased", "expired", "visit", "dos", "surgery",
                     "procedure", "appointment", "appt", "delivery", "deathdate"], "date"),
    **dict.fromkeys(["yob"], "age"),
    **dict.fromkeys(["age", "ages", "aged"], "age"),
    **dict.fromkeys(["mrn", "mrns", "mr", "medical", "chart", "emrn", "hospital_number"], "mrn"),
    **dict.fromkeys(["ssn", "ssns", "social", "sin", "ss"], "ssn"),
    **dict.fromkeys(["phone", "phones", "tel", "telephone", "cell", "mobile", "cellphone",
                     "contact"], "phone"),
    **dict.fromkeys(["fax"], "fax"),
    **dict.fromkeys(["email", "mail", "emails"], "email"),
    **dict.fromkeys(["zip", "zipcode", "postal", "postcode", "zip5"], "zip"),
    **dict.fromkeys(["address", "addr", "street", "city", "county", "town", "residence",
                     "neighborhood", "neighbourhood", "precinct", "geocode", "latlon", "lat",
                     "lon", "coords"], "address"),
    **dict.fromkeys(["url", "uri", "link", "href"], "url"),
    **dict.fromkeys(["ip", "ipv4", "ipv6"], "ip"),
    **dict.fromkeys(["account", "acct", "har", "fin", "billing", "invoice"], "account"),
    **dict.fromkeys(["health", "plan", "insurance", "medicare", "medicaid", "mbi", "hicn",
                     "policy", "payer", "beneficiary", "subscriber", "member", "members"],
                    "health_plan"),
    **dict.fromkeys(["license", "licence", "dl", "certificate", "cert", "permit", "passport"],
                    "license"),
    **dict.fromkeys(["vin", "vehicle", "plate", "car"], "vehicle"),
    # not "icd": in clinical ML it is far more often the ICD code system than the implant
    **dict.fromkeys(["serial", "sn", "device", "udi", "imei", "pacemaker", "pump", "implant",
                     "defibrillator", "cgm", "wearable", "hearing"], "device_id"),
    **dict.fromkeys(["fingerprint", "retina", "retinal", "iris", "palm", "vein", "voiceprint",
                     "faceprint", "biometric", "biometrics", "gait"], "biometric"),
    **dict.fromkeys(["photo", "photograph", "face", "facial", "portrait", "headshot", "selfie",
                     "mugshot"], "photo"),
    **dict.fromkeys(["csn", "encounter", "enc", "accession", "specimen", "episode", "uid",
                     "instance", "contact_serial"], "unique_id"),
    **dict.fromkeys(["fullname", "firstname", "lastname", "surname", "forename", "initials",
                     "maiden", "fname", "lname", "givenname", "familyname"], "name"),
}
# "name" alone names a person only with these around it: run_name, model_name, site_name
# and mlflow.runName name things.
_PERSON_NAME_WORDS = frozenset({"name", "names", "full", "first", "last", "middle", "given",
                                "family", "legal", "preferred", "display", "maiden", "sur"})
# Words that turn a key into a description of configuration or an aggregate.
MODIFIER_WORDS = frozenset({
    "column", "columns", "col", "cols", "field", "fields", "feature", "features", "flag", "used",
    "use", "missing", "present", "presence", "included", "include", "level", "bucket",
    "bucketed", "buckets", "bin", "bins", "band", "bands", "cap", "capped", "threshold", "thresh",
    "type", "format", "fmt", "count", "n", "num", "rate", "pct", "percent", "share", "ratio",
    "frac", "fraction", "len", "length", "mask", "masked", "hash", "hashed", "salt", "salted",
    "redaction", "redacted", "redact", "scrubbed", "scrub", "free", "policy", "mode", "strategy",
    "method", "enabled", "is", "has", "window", "cutoff", "min", "max", "mean", "median", "avg",
    "std", "var", "dim", "size", "filter", "regex", "pattern", "detector", "check", "checked",
    "verified", "validated", "bool", "group", "groups", "edges", "over", "under", "limit",
    "lookback", "horizon", "encoding", "encoder", "embedding", "emb", "weight", "weights", "idx",
    "index", "split", "train", "test", "valid", "val", "dtype", "domain", "version",
    "model", "models", "scored", "accuracy", "auc", "loss", "score", "prob", "pred", "label",
    "labels", "distribution", "dist", "histogram", "delta", "diff", "drift",
    "retention", "handling", "geocode_level", "truncated", "truncation", "shift",
})
# Keys naming staff roles: names and e-mail addresses under them are workforce, not patients.
WORKFORCE_WORDS = frozenset({
    "author", "authors", "owner", "owners", "reviewer", "reviewers", "reviewed", "approver",
    "approved", "approval", "signed", "signer", "signoff", "steward", "pi", "investigator",
    "oncall", "on_call", "call", "maintainer", "maintainers", "creator", "created", "user",
    "username", "team", "lead", "sponsor", "developer", "engineer", "scientist", "analyst",
    "submitter", "requester", "assignee", "support", "contributor", "committer", "cmio",
    "clinician", "physician", "attending", "champion", "manager", "admin", "operator",
})
# Keys naming infrastructure: IP addresses and host names under them are servers.
INFRA_WORDS = frozenset({
    "host", "hostname", "server", "worker", "workers", "head", "master", "node", "nodes",
    "tracking", "endpoint", "db", "database", "proxy", "gateway", "cluster", "ray", "dask",
    "spark", "broker", "redis", "kafka", "api", "bind", "listen", "dns", "subnet", "cidr",
    "vpc", "ec2", "instance", "service", "registry", "mirror", "ntp", "smtp",
})


@dataclass(frozen=True, slots=True)
class KeyContext:
    """The meaning of one key, computed once per distinct key (see `key_context`)."""

    words: frozenset[str]
    person: bool          # the value is about one person
    person_name: bool     # the value is a person's name (patient_name, surname, given)
    kinds: frozenset[str]  # identifier kinds the key names
    config: bool          # the key describes configuration/aggregates, not a value of a kind
    workforce: bool       # the value names staff
    infra: bool           # the value names infrastructure

    def names(self, kind: str) -> bool:
        """The key says the value is of this kind (and is not a configuration key)."""
        return kind in self.kinds and not self.config


EMPTY = KeyContext(frozenset(), False, False, frozenset(), False, False, False)


def split_key(key: str) -> list[str]:
    """`patientDOB_v2` -> ["patient", "dob", "v", "2"]."""
    return [w.lower() for w in _SPLIT.split(key) if w]


@lru_cache(maxsize=4096)
def key_context(key: str | None, extra_workforce: frozenset[str] = frozenset()) -> KeyContext:
    if not key:
        return EMPTY
    words = split_key(key)
    wordset = frozenset(words)
    lowered = key.lower()
    kinds = {KIND_WORDS[w] for w in words if w in KIND_WORDS}
    # Two-word kinds that one word alone would misread.
    if wordset & {"name", "names", "given", "family"} and (
            wordset <= _PERSON_NAME_WORDS or wordset & PERSON_WORDS):
        kinds.add("name")
    if len(words) == 1 and words[0] in ("first", "last", "middle", "given", "family"):
        kinds.add("name")  # table columns "first", "last"
    if "date" in wordset and ("birth" in wordset or "service" in wordset):
        kinds.add("date")
    if wordset & {"record", "records"} and wordset & {"medical", "patient", "pt"}:
        kinds.add("mrn")
    if "id" in wordset and wordset & {"patient", "pt", "person", "subject"}:
        kinds.add("mrn")
    if wordset & {"id", "ids", "no", "number", "nbr"} and wordset & {"visit", "admission", "encounter", "enc"}:
        kinds.discard("date")
        kinds.add("unique_id")  # visit_id is an encounter identifier, not a visit date
    if "year" in wordset and "birth" in wordset:
        kinds.discard("date")
        kinds.add("age")
    if wordset & {"plan", "policy"} and not wordset & {"health", "insurance", "member", "medical",
                                                          "medicare", "medicaid", "beneficiary"}:
        kinds.discard("health_plan")  # a training plan, a retry policy
    person = bool(wordset & PERSON_WORDS) or lowered.startswith("pt_")
    # "age_over_89_share", "n_patients": aggregates. A modifier word anywhere wins, except
    # that a key naming a person ("patient_age") keeps its meaning if the modifier is
    # generic ("source_patient" is a patient, "train" in "n_patients_train" is not).
    modifiers = wordset & MODIFIER_WORDS
    config = bool(modifiers) and not (person and modifiers <= {"source", "test", "valid", "val",
                                                              "train", "model", "drop", "dropped",
                                                              "label", "pred", "score", "scored"}
                                      and "n" not in wordset and "num" not in wordset)
    workforce = bool(wordset & (WORKFORCE_WORDS | extra_workforce)) or lowered in extra_workforce
    if workforce and (wordset & {"patient", "pt", "case", "subject", "member"}):
        workforce = False  # "reviewed_case" is the case that was reviewed, not a reviewer
    infra = bool(wordset & INFRA_WORDS)
    # A bare "name" (JSON "name": ..., an MLmodel signature's column names) may name
    # anything; "patient_name", "surname" or a FHIR "given" name a person.
    person_name = "name" in kinds and (person or bool(wordset - {"name", "names"}))
    if "name" in kinds and words[-1:] in (["family"], ["given"]) and len(words) > 1:
        kinds.discard("name")  # model_family, distribution_family
        person_name = False
    return KeyContext(wordset, person, person_name, frozenset(kinds), config, workforce, infra)


# ----------------------------------------------------------------------------- text cues
# Words in free text, just before a value, that say what the value is. Each regex is
# searched in a short window that ends where the candidate starts.
CUE_BEFORE: dict[str, re.Pattern] = {
    "date": re.compile(
        r"(?:\b(?:dob|d\.o\.b\.?|date of birth|birth(?:date|day)?|born|b\.|admit(?:ted)?|admission|"
        r"adm|discharged?|dc|d/c|died|death|deceased|expired|dod|seen|visit(?:ed)?|dos|surgery|"
        r"appt|appointment|delivered|delivery|encounter|presented|arrived)\b\.?[\s:=#-]*(?:on\s+)?)$",
        re.I),
    "mrn": re.compile(r"(?:\b(?:mrn|mr#|mr|medical record(?: number| no\.?)?|chart|pt|patient|"
                      r"subject|record)\b\s*(?:#|no\.?|number|id)?\s*[:=#]?\s*)$", re.I),
    "phone": re.compile(r"(?:\b(?:phone|ph|tel|telephone|cell|mobile|call(?: back)?(?: at)?|"
                        r"contact|f/u|text|sms|whatsapp|home|work|number)\b\.?\s*(?:#|no\.?)?"
                        r"\s*[:=#]?\s*(?:at\s+)?)$", re.I),
    "fax": re.compile(r"(?:\bfax\b\s*(?:#|no\.?|number)?\s*[:=#]?\s*)$", re.I),
    "ssn": re.compile(r"(?:\b(?:ssn|ss#|social(?: security)?(?: number| no\.?)?)\b\s*[:=#]?\s*)$", re.I),
    "zip": re.compile(r"(?:\b(?:zip(?: ?code)?|postal(?: code)?|post ?code|[A-Z]{2})\b\s*[:=#]?\s*)$"),
    "account": re.compile(r"(?:\b(?:account|acct|har|fin|billing)\b\.?\s*(?:#|no\.?|number)?\s*[:=#]?\s*)$", re.I),
}


# "call the patient at 7038902660": the cue verb and the number are a few words apart.
_REACH_AT = re.compile(r"(?:\b(?:call|reach|text|page|phone|contact|dial)\b[^.;\n]{0,24}\bat\s*)$", re.I)


def cue_before(kind: str, text: str, start: int, window: int = 32) -> bool:
    """Whether a cue word for `kind` ends just before `start` in `text`."""
    pattern = CUE_BEFORE[kind]
    if pattern.search(text, max(0, start - window), start) is not None:
        return True
    return kind == "phone" and _REACH_AT.search(text, max(0, start - 40), start) is not None


# Words anywhere in a (short) value that tie the whole string to a patient.
PERSON_CUE = re.compile(r"\b(?:patient|pt|pts|subject|mrn|dob|case|member|decedent)\b|(?<![a-z])pt_", re.I)
# Words right before a name saying it belongs to staff ("reviewed by", "per Dr.").
WORKFORCE_CUE = re.compile(
    r"(?:\b(?:by|per|cc|owner|author|reviewer|approver|steward|signed|pi|contact)\b"
    r"[\s:,]*(?:dr\.?\s*)?)$", re.I)
WORKFORCE_ROLE_AFTER = re.compile(
    r"^\s*(?:,\s*|\(\s*)(?:RN|MD|DO|PhD|NP|PA|PharmD|MPH|MSc|CMIO|CMO|CNO|CIO|PI|MBBS|FACP)\b")
