"""Person-name detection: dictionary tokens arranged the way people write names.

A name is reported when the tokens of a string form one of the shapes names take in
ML metadata — "First Last", "Last, First", "LAST^FIRST" (HL7/DICOM), "Dr. Last",
"J. Last", snake/kebab identifiers ("eric_ray", "case-review-jennifer-booker"), run-together
identifiers ("nicolegarcia") — and the dictionary backs it. A lone word is a name only
when the context says a person is meant (a `patient` key, a "name" column, "pt" before
it). Names that follow staff cues ("reviewed by", "per Dr.", ", RN") are not reported:
they are workforce, not patients.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from medflow.guard.context import WORKFORCE_CUE, WORKFORCE_ROLE_AFTER
from medflow.guard.name_lexicon import PARTICLES, TITLES, US_STATES, WEAK_WORDS
from medflow.guard.names_dictionary import NamesDictionary, names_dictionary

# Letters, plus the combining vowel signs of Indic and Southeast Asian scripts, which
# Python's \w does not count as word characters ("चण्डा" is one word, not three).
_MARKS = "\u0300-\u036f\u0900-\u0dff\u0e00-\u0e7f\u1000-\u109f"
_WORD = re.compile(rf"(?:[^\W\d_]|[{_MARKS}])+(?:['’](?:[^\W\d_]|[{_MARKS}])+)*")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_CAMEL_PREFIXES = ("mc", "mac", "de", "la", "le", "van", "di", "da", "o")
_INITIAL = re.compile(r"(?<![A-Za-z])[A-Z]\.")  # "J. Harris": a surname after it may be a common word


def _script(word: str) -> str:
    code = ord(word[0])
    if 0xAC00 <= code <= 0xD7A3:
        return "hangul"
    if 0x3040 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
        return "cjk"
    return "latin"


class Token(NamedTuple):
    start: int
    end: int
    text: str
    low: str
    shape: str   # "title", "upper", "lower", "initial", "mixed", "cjk", "hangul"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for match in _WORD.finditer(text):
        word = match.group()
        start = match.start()
        parts = [word]
        if not word.islower() and not word.isupper() and _CAMEL.search(word):
            low = word.lower()
            if not low.startswith(_CAMEL_PREFIXES) or len(_CAMEL.split(word)) > 2:
                parts = _CAMEL.split(word)
        offset = start
        for part in parts:
            tokens.append(Token(offset, offset + len(part), part, part.lower(), _shape(part)))
            offset += len(part)
    return tokens


def _shape(word: str) -> str:
    script = _script(word)
    if script != "latin":
        return script
    if word.islower():
        return "lower"
    if len(word) == 1:
        return "initial"
    if word.upper() == word.lower():
        return "uncased"  # Devanagari, Arabic, Thai...: no capitals to go by
    if word.isupper():
        return "upper"
    if word[0].isupper():
        return "title"
    return "mixed"


def _cased(token: Token) -> bool:
    return token.shape in ("title", "upper", "cjk", "hangul", "uncased")


# How strongly the context says a person is meant: the value is a person (a `patient` key,
# a "name" column) or a person is mentioned nearby ("patient" in the same identifier).
PERSON_NONE, PERSON_NEARBY, PERSON_VALUE = 0, 1, 2


class NameFinder:
    """Finds name spans in one string, given how strongly the context points at a person."""

    def __init__(self, dictionary: NamesDictionary | None = None):
        self.d = dictionary or names_dictionary()

    # ------------------------------------------------------------------ token tests
    def is_first(self, low: str) -> bool:
        return low in self.d.first

    def is_last(self, low: str) -> bool:
        return low in self.d.last

    def known(self, low: str) -> bool:
        return low in self.d.any

    def weak(self, token: Token) -> bool:
        return token.low in WEAK_WORDS or (len(token.low) <= 2 and token.shape not in ("cjk", "hangul"))

    def weak_word(self, low: str) -> bool:
        return low in WEAK_WORDS or len(low) <= 2

    def pair(self, a: Token, b: Token) -> bool:
        """Two adjacent tokens read as first+last or last+first."""
        if a.shape in ("initial",) or b.shape in ("initial",):
            return False
        if not ((self.is_first(a.low) and self.is_last(b.low)) or
                (self.is_last(a.low) and self.is_first(b.low))):
            return False
        return not (self.weak(a) and self.weak(b))

    def run_together(self, low: str) -> bool:
        """'nicolegarcia' = strong first name + last name, when the word itself is no name."""
        if not 7 <= len(low) <= 30 or not low.isascii() or not low.isalpha() or low in self.d.any:
            return False
        first, last = self.d.us_first, self.d.us_last
        for i in range(4, len(low) - 3):
            if low[:i] in first and low[i:] in last:
                return True
        return False

    def initial_surname(self, low: str, relaxed: bool) -> bool:
        """'jsanchez', 'eberry': an initial run into a surname (only with person context).

        Relaxed (the value is a person) accepts short and common surnames ("sgay", "rkim").
        """
        tail = low[1:]
        if not (4 <= len(low) <= 14 and low.isascii() and low.isalpha() and tail in self.d.last):
            return False
        if low in self.d.any or low in WEAK_WORDS:
            return False
        return relaxed or (len(tail) >= 4 and tail not in WEAK_WORDS)

    def cjk_name(self, low: str, person: bool) -> bool:
        if not 2 <= len(low) <= 4:
            return False
        first, last = self.d.cjk_first, self.d.cjk_last
        for i in range(1, len(low)):
            head, tail = low[:i], low[i:]
            if (head in last and tail in first) or (head in first and tail in last):
                return True
        return person and (low[0] in last or low[:2] in last)

    # ------------------------------------------------------------------ the scan
    def _worth_tokenizing(self, text: str) -> bool:
        """Cheap pre-check: most ML strings contain no word a name rule could start from."""
        if "^" in text or _INITIAL.search(text):
            return True
        known, titles = self.d.any, TITLES
        for word in _WORD.findall(text):
            low = word.lower()
            if (low in known and low not in WEAK_WORDS) or low in titles or not word.isascii():
                return True
            if len(word) >= 8 and word.islower() and self.run_together(low):
                return True
            if not (word.islower() or word.isupper() or word.istitle()):
                return True  # camelCase: its parts may be names
        return False

    def find(self, text: str, *, person: int = PERSON_NONE) -> list[tuple[int, int]]:
        if person < PERSON_VALUE and not self._worth_tokenizing(text):
            return []
        tokens = tokenize(text)
        if not tokens:
            return []
        spans: list[tuple[int, int]] = []
        n = len(tokens)
        i = 0
        while i < n:
            span = self._match_at(text, tokens, i, person)
            if span is None:
                i += 1
                continue
            start_index, end_index = span
            start, end = tokens[start_index].start, tokens[end_index].end
            if not self._staff(text, start, end):
                spans.append((start, end))
            i = end_index + 1
        return spans

    def _staff(self, text: str, start: int, end: int) -> bool:
        return (WORKFORCE_CUE.search(text, max(0, start - 24), start) is not None
                or WORKFORCE_ROLE_AFTER.match(text, end) is not None)

    def _sep(self, text: str, a: Token, b: Token) -> str:
        return text[a.end:b.start]

    def _match_at(self, text: str, toks: list[Token], i: int, person: int) -> tuple[int, int] | None:
        t = toks[i]
        n = len(toks)
        nxt = toks[i + 1] if i + 1 < n else None
        sep = self._sep(text, t, nxt) if nxt else ""

        # Dr. Last / Mr Hull / mr_davis / Dr. 영철 김
        if t.low in TITLES and nxt is not None and sep in (". ", " ", ".", "_", "-", ".\u00a0"):
            if _cased(nxt) and (nxt.shape in ("cjk", "hangul") or not self.weak(nxt) or self.known(nxt.low)):
                return i, self._extend_cased(text, toks, i + 1)
            if nxt.shape == "lower" and self.is_last(nxt.low) and not self.weak(nxt):
                return i, i + 1
        # LAST^FIRST (HL7 v2 / DICOM person name)
        if nxt is not None and sep == "^" and len(t.low) >= 1 and len(nxt.low) >= 1:
            end = i + 1
            while end + 1 < n and self._sep(text, toks[end], toks[end + 1]) == "^":
                end += 1
            return i, end
        # Last, First [M.]
        if nxt is not None and sep in (", ", ",") and _cased(t) and _cased(nxt):
            if t.shape in ("cjk", "hangul") and nxt.shape in ("cjk", "hangul"):
                if len(t.low) <= 2 and len(nxt.low) <= 3:
                    return i, i + 1
            elif self.is_first(nxt.low) and (self.is_last(t.low) or self.is_first(t.low) or person >= PERSON_NEARBY) \
                    and not (self.weak(t) and self.weak(nxt)) and len(nxt.low) >= 2:
                return i, self._middle_initial(text, toks, i + 1)
            elif person >= PERSON_NEARBY and self.is_last(t.low) and nxt.shape == "title" and not self.weak(t):
                return i, i + 1
            elif nxt.low in self.d.strong_first and not self.weak(t) and len(t.low) >= 3 \
                    and t.text.upper() not in US_STATES:
                return i, self._middle_initial(text, toks, i + 1)  # "O'Brien, Patrick": rare surname
        # J. Last / J.R. Last
        if (t.shape == "initial" and (t.text.isupper() or t.text.upper() == t.text.lower())
                or t.shape in ("cjk", "hangul") and len(t.low) == 1) and nxt is not None and sep in (". ", "."):
            j = i + 1
            if toks[j].shape == "initial" and j + 1 < n and self._sep(text, toks[j], toks[j + 1]) in (". ", "."):
                j += 1
            cand = toks[j]
            if (cand.shape in ("title", "upper") and len(cand.low) >= 2 or cand.shape in ("cjk", "hangul", "uncased")) \
                    and (self.known(cand.low) or cand.shape in ("cjk", "hangul", "uncased")) \
                    and (i == 0 or text[toks[i - 1].end:t.start].strip(" ") not in (".",)):
                return i, j
        if nxt is not None and t.shape != "initial":
            # First [M.] Last, Last First, first_last, First de la Last
            if sep in (" ", "_", "-", "  ", ".") or sep == "\t":
                if sep == "." and not (t.shape == nxt.shape == "lower"):
                    pass
                elif sep == "-" and t.shape == nxt.shape == "title":
                    pass  # "Mann-Whitney", "Kaplan-Meier": eponyms, not first+last
                elif self.pair(t, nxt) and self._same_case(t, nxt):
                    end = self._middle_initial(text, toks, i + 1)
                    if end + 1 < n and self._sep(text, toks[end], toks[end + 1]) == " " and \
                            _cased(toks[end + 1]) and self.is_last(toks[end + 1].low) and _cased(t):
                        end += 1  # "Mary Ann Smith": a second given name, then the surname
                    return i, end
                elif nxt.shape == "initial" and i + 2 < n and self._sep(text, nxt, toks[i + 2]) in (". ", " ") \
                        and self.is_first(t.low) and self.is_last(toks[i + 2].low) and _cased(t):
                    return i, i + 2
                elif nxt.low in PARTICLES and i + 2 < n and self.is_first(t.low) \
                        and (person >= PERSON_NEARBY or not self.weak(t)) and len(toks[i + 2].low) >= 3 \
                        and (self.is_last(toks[i + 2].low) or _cased(toks[i + 2])):
                    return i, i + 2
                elif person >= PERSON_NEARBY and _cased(t) and _cased(nxt) \
                        and (self.known(t.low) or self.known(nxt.low)) \
                        and not (self.weak(t) or self.weak(nxt)):
                    return i, i + 1
            # 은경 이 (Hangul given name + family name)
            if t.shape == nxt.shape == "hangul" and sep == " " and \
                    ((t.low in self.d.cjk_first and nxt.low in self.d.cjk_last) or
                     (t.low in self.d.cjk_last and nxt.low in self.d.cjk_first) or person >= PERSON_NEARBY):
                return i, i + 1
        if t.shape in ("cjk", "hangul"):
            if self.cjk_name(t.low, person >= PERSON_NEARBY) or \
                    (person >= PERSON_VALUE and t.shape == "hangul" and 2 <= len(t.low) <= 4):
                return i, i
            return None
        if t.shape == "lower" and self.run_together(t.low):
            return i, i
        if person >= PERSON_VALUE:
            if t.shape == "lower" and self.initial_surname(t.low, relaxed=True):
                return i, i
            if self.known(t.low) and not self.weak(t) and len(t.low) >= 3 and t.low not in TITLES:
                return i, i
        return None

    def _same_case(self, a: Token, b: Token) -> bool:
        # "Melinda Harrison", "KNIGHT SARAH", "eric_ray", "Hicks MONICA"; not "sepsis Jordan"
        if a.shape == "lower" or b.shape == "lower":
            return a.shape == b.shape
        return True

    def _extend_cased(self, text: str, toks: list[Token], j: int) -> int:
        """From a cased token after a title, take up to two more name tokens (given, middle)."""
        end = j
        for k in range(j + 1, min(j + 3, len(toks))):
            sep = self._sep(text, toks[k - 1], toks[k])
            if sep not in (" ", ". ") or not (_cased(toks[k]) or toks[k].shape == "initial"):
                break
            if toks[k].shape == "title" and not self.known(toks[k].low):
                break
            end = k
        return end

    def _middle_initial(self, text: str, toks: list[Token], j: int) -> int:
        if j + 1 < len(toks) and toks[j + 1].shape == "initial" and \
                self._sep(text, toks[j], toks[j + 1]) == " " and text[toks[j + 1].end:toks[j + 1].end + 1] == ".":
            return j + 1
        return j


# Loaded at import (~0.5 s, once per process) so no request pays for it.
_finder = NameFinder()


def name_finder() -> NameFinder:
    return _finder


def find_names(text: str, *, person: int = PERSON_NONE) -> list[tuple[int, int]]:
    """Spans of person names in `text` (see the module docstring for the shapes)."""
    return name_finder().find(text, person=person)
