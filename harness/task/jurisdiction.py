"""Jurisdiction names: the many ways a contract names its governing law, reduced to one name.

'the laws of the State of New York', 'N.Y.', 'New York law', 'governed by and construed in
accordance with the laws of the State of New York, without regard to its conflicts of law
principles' are all 'New York'; 'English law' is 'England and Wales', 'Swiss law' 'Switzerland'.
Boilerplate around the name (governing verbs, 'laws of', 'State of', a trailing conflicts-of-law
carve-out) is stripped, accents are folded, US state codes and known aliases and demonyms mapped,
and anything else is capitalized word by word. A two-letter code counts as a state only when the
text writes it in capitals ('IN', 'OR', 'ME'; 'in', 'or', 'me' are English words). Pure
functions on one value; this module knows nothing of fields, records or scoring.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

US_STATES: Mapping[str, str] = MappingProxyType({
    "al": "Alabama", "ak": "Alaska", "az": "Arizona", "ar": "Arkansas", "ca": "California",
    "co": "Colorado", "ct": "Connecticut", "de": "Delaware", "fl": "Florida", "ga": "Georgia",
    "hi": "Hawaii", "id": "Idaho", "il": "Illinois", "in": "Indiana", "ia": "Iowa",
    "ks": "Kansas", "ky": "Kentucky", "la": "Louisiana", "me": "Maine", "md": "Maryland",
    "ma": "Massachusetts", "mi": "Michigan", "mn": "Minnesota", "ms": "Mississippi",
    "mo": "Missouri", "mt": "Montana", "ne": "Nebraska", "nv": "Nevada", "nh": "New Hampshire",
    "nj": "New Jersey", "nm": "New Mexico", "ny": "New York", "nc": "North Carolina",
    "nd": "North Dakota", "oh": "Ohio", "ok": "Oklahoma", "or": "Oregon", "pa": "Pennsylvania",
    "ri": "Rhode Island", "sc": "South Carolina", "sd": "South Dakota", "tn": "Tennessee",
    "tx": "Texas", "ut": "Utah", "vt": "Vermont", "va": "Virginia", "wa": "Washington",
    "wv": "West Virginia", "wi": "Wisconsin", "wy": "Wyoming", "dc": "District of Columbia",
})
DEMONYMS: Mapping[str, str] = MappingProxyType({
    "english": "England and Wales", "england": "England and Wales", "swiss": "Switzerland",
    "german": "Germany", "french": "France", "irish": "Ireland", "scottish": "Scotland",
    "scots": "Scotland", "dutch": "Netherlands", "italian": "Italy", "spanish": "Spain",
    "swedish": "Sweden", "danish": "Denmark", "norwegian": "Norway", "finnish": "Finland",
    "belgian": "Belgium", "austrian": "Austria", "japanese": "Japan", "chinese": "China",
    "canadian": "Canada", "australian": "Australia", "israeli": "Israel",
    "singaporean": "Singapore", "mexican": "Mexico", "brazilian": "Brazil", "korean": "South Korea",
})
JURISDICTION_ALIASES: Mapping[str, str] = MappingProxyType({
    **{name.casefold(): name for name in US_STATES.values()}, **DEMONYMS,
    "prc": "China", "people's republic of china": "China", "china": "China",
    "washington dc": "District of Columbia", "usa": "United States", "us": "United States",
    "united states of america": "United States", "uk": "United Kingdom",
    "the netherlands": "Netherlands", "republic of korea": "South Korea",
})
_GOVERNING_RE = re.compile(
    r"^(?:this agreement\s+)?(?:(?:shall|will|is|are)\s+(?:be\s+)?)?(?:governed|construed|interpreted|"
    r"enforced)\b(?:\s+(?:by|and|in accordance with|pursuant to|under|governed|construed|interpreted|"
    r"enforced|exclusively|solely|in all respects))*\s+")
_LAWS_OF_RE = re.compile(r"\blaws?\s+of\b\s*")
_CARVE_OUT_RE = re.compile(
    r"[,;(]?\s*\b(?:without\s+(?:regard|reference|giving\s+effect)|excluding|exclusive\s+of|"
    r"notwithstanding|irrespective|other\s+than|but\s+not|and\s+the\s+federal)\b.*$", re.DOTALL)
_PREFIX_RE = re.compile(
    r"^(?:(?:under|the|law|state|commonwealth|province)\s+(?:of\s+)?)+")
_SUFFIX_RE = re.compile(r"(?:\s+state)?(?:\s+(?:laws?|courts?))?$")
_US_COUNTRY_SUFFIX_RE = re.compile(r"\s+(?:usa|us|united states(?: of america)?)$")
_KEY_RE = re.compile(r"[^\w\s']")  # alias lookup ignores punctuation but apostrophes
_INITIALS_RE = re.compile(r"\b(\w) (?=\w\b)")  # 'n y' -> 'ny', 'u s a' -> 'usa'
_LOWERCASE_WORDS = frozenset({"and", "of", "the"})
_STRIP_CHARS = string.punctuation + string.whitespace + "“”‘’«»"


def fold_accents(text: str) -> str:
    """Text with accents removed ('Société Générale' -> 'Societe Generale'); canonical
    decomposition only, so '²' stays a superscript and never becomes the digit 2."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _capitalize(name: str) -> str:
    return " ".join(
        word if index and word in _LOWERCASE_WORDS
        else "-".join(part[:1].upper() + part[1:] for part in word.split("-"))
        for index, word in enumerate(name.split()))


def _core(text: str) -> str:
    """The jurisdiction part of a governing-law text, casefolded, boilerplate stripped."""
    cleaned = " ".join(fold_accents(text).casefold().split()).strip(_STRIP_CHARS)
    cleaned = _CARVE_OUT_RE.sub("", _GOVERNING_RE.sub("", cleaned))
    laws_of = _LAWS_OF_RE.search(cleaned)
    cleaned = cleaned[laws_of.end():] if laws_of else cleaned
    cleaned = _PREFIX_RE.sub("", cleaned.strip(_STRIP_CHARS)).strip()
    return _SUFFIX_RE.sub("", cleaned).strip(_STRIP_CHARS)


def _state_code(code: str, original: str) -> str | None:
    """The state a two-letter code names, only when the original writes it in capitals."""
    written = re.search(rf"(?<![A-Za-z]){code[0].upper()}\.?\s*{code[1].upper()}(?![A-Za-z])", original)
    return US_STATES[code] if written else None


def normalize_jurisdiction(text: str | None) -> str | None:
    """Canonical jurisdiction name (see the module docstring), or None when nothing is named."""
    if not text or not text.strip():
        return None
    cleaned = _core(text)
    key = _INITIALS_RE.sub(r"\1", " ".join(_KEY_RE.sub(" ", cleaned.replace(".", " ")).split()))
    head = _US_COUNTRY_SUFFIX_RE.sub("", key)
    for candidate in (head, key):
        if candidate in US_STATES:
            state = _state_code(candidate, text)
            if state:
                return state
        elif candidate in JURISDICTION_ALIASES:
            return JURISDICTION_ALIASES[candidate]
    return _capitalize(cleaned) if cleaned else None
