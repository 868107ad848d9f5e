"""The person-names dictionary, read from the Faker package installed with MedFlow.

Faker ships first and last names for ~80 locales as plain Python data (US census and
SSA names for en_US, and the same kind of lists for other countries, including the
Japanese, Chinese and Korean scripts). Reading them needs no network and no model, takes
~0.2 s once per process and ~10 MB. Faker's generators are never used: only its lists.
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
import unicodedata
from dataclasses import dataclass

from medflow.guard.name_lexicon import WEAK_WORDS

_FIRST_ATTRS = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
                "first_romanized_names", "first_kana_names", "first_names_unisex")
_LAST_ATTRS = ("last_names", "last_names_male", "last_names_female", "last_names_nonbinary",
               "last_romanized_names", "last_kana_names", "last_names_unisex")


@dataclass(frozen=True, slots=True)
class NamesDictionary:
    first: frozenset[str]     # lowercase given names, accented and accent-free forms
    last: frozenset[str]      # lowercase family names
    strong_first: frozenset[str]  # given names that are not also common words
    any: frozenset[str]       # first | last
    cjk_first: frozenset[str]  # given names written in Han, kana or Hangul
    cjk_last: frozenset[str]
    # The US census/SSA lists alone: run-together identifiers ("nicolegarcia") are split
    # only against these, since the long tail of world names also splits English words.
    us_first: frozenset[str]
    us_last: frozenset[str]


def strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _entries(provider: type, attrs: tuple[str, ...]):
    for attr in attrs:
        values = getattr(provider, attr, None)
        if not isinstance(values, (dict, tuple, list, set, frozenset)):
            continue  # some providers compute these as properties
        for value in values:  # dicts (name -> weight), tuples, or tuples of spellings
            for spelling in value if isinstance(value, tuple) else (value,):
                if isinstance(spelling, str) and spelling:
                    yield spelling


def _is_cjk(word: str) -> bool:  # Han, kana and Hangul: names are run together, not spaced
    return any(0x3040 <= ord(c) <= 0x9FFF or 0xAC00 <= ord(c) <= 0xD7A3 for c in word)


def _add(target: set[str], cjk: set[str], name: str) -> None:
    lowered = name.lower()
    if lowered.isascii() and lowered.isalpha():  # the common case, kept cheap
        target.add(lowered)
        return
    lowered = lowered.strip()
    if _is_cjk(lowered):
        cjk.add(lowered)
        target.add(lowered)
        return
    # "Jean-Paul", "de la Cruz": the parts are what the tokenizer sees.
    for part in lowered.replace("-", " ").split():
        if len(part) >= 2 and all(c.isalpha() or unicodedata.category(c)[0] == "M" for c in part):
            target.add(part)
            if not part.isascii():
                target.add(strip_accents(part))


def _load() -> NamesDictionary:
    try:
        import faker.providers.person as person_providers
    except ImportError as e:  # a packaging error, not a runtime condition to tolerate
        raise RuntimeError("the PHI guard needs the 'faker' package for its names dictionary; "
                           "reinstall MedFlow with its dependencies") from e
    first: set[str] = set()
    last: set[str] = set()
    cjk_first: set[str] = set()
    cjk_last: set[str] = set()
    for module_info in pkgutil.iter_modules(person_providers.__path__):
        module = importlib.import_module(f"{person_providers.__name__}.{module_info.name}")
        provider = getattr(module, "Provider", None)
        if provider is None:
            continue
        for name in _entries(provider, _FIRST_ATTRS):
            _add(first, cjk_first, name)
        for name in _entries(provider, _LAST_ATTRS):
            _add(last, cjk_last, name)
    from faker.providers.person.en_US import Provider as USProvider

    us_first = frozenset(n.lower() for n in _entries(USProvider, _FIRST_ATTRS))
    us_last = frozenset(n.lower() for n in _entries(USProvider, _LAST_ATTRS))
    strong_first = frozenset(n for n in first if n not in WEAK_WORDS and (len(n) >= 3 or _is_cjk(n)))
    return NamesDictionary(frozenset(first), frozenset(last), strong_first,
                           frozenset(first | last), frozenset(cjk_first), frozenset(cjk_last),
                            us_first - WEAK_WORDS, us_last)


_lock = threading.Lock()
_dictionary: NamesDictionary | None = None


def names_dictionary() -> NamesDictionary:
    """The dictionary, loaded on first use and shared by all threads."""
    global _dictionary
    if _dictionary is None:
        with _lock:
            if _dictionary is None:
                _dictionary = _load()
    return _dictionary
