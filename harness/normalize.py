"""Value normalizers: turn the many spellings of a date, duration, jurisdiction, party name or
free-text value into one canonical form, and compare a predicted value with a gold one by field kind.

Every function here is pure and works on one value at a time. A value that cannot be normalized
becomes None — never a guessed default (a bare year is not January 1st of that year). This module
deliberately knows nothing about JSON, schemas, records, set matching of party lists (that is
scoring's job) or how the comparisons are counted into metrics.
"""

from __future__ import annotations

import datetime
import re
import string
from collections.abc import Callable, Mapping
from types import MappingProxyType

from dateutil import parser as date_parser

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
          "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
NUMBER_WORDS: Mapping[str, int] = MappingProxyType(
    {**{word: value for value, word in enumerate(_UNITS)}, **_TENS, "a": 1, "an": 1})
_ORDINAL_UNITS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
                  "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth "
                  "nineteenth").split()
_ORDINALS = {
    **{word: day for day, word in enumerate(_ORDINAL_UNITS, start=1)},
    "twentieth": 20, "thirtieth": 30, "thirty-first": 31,
    **{f"twenty-{word}": 20 + day for day, word in enumerate(_ORDINAL_UNITS[:9], start=1)},
}
_ORDINAL_RE = re.compile(
    r"\b(" + "|".join(sorted((w.replace("-", "[- ]") for w in _ORDINALS), key=len, reverse=True))
    + r")\b")
_DATE_PREFIX_RE = re.compile(r"^(?:dated\s+)?(?:effective\s+)?(?:as\s+of\s+)?(?:this\s+|the\s+)?")
_DAY_OF_RE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:day\s+)?of\s+")
# Two defaults that differ in every date component: a component the text did not supply shows up
# as a difference between the two parses, so the value is rejected instead of invented.
_PROBE_DEFAULTS = (datetime.datetime(1900, 1, 1), datetime.datetime(1904, 2, 2))

DAYS_PER_UNIT: Mapping[str, int] = MappingProxyType(
    {"day": 1, "week": 7, "month": 30, "year": 365})
_UNIT_RE = r"(?:calendar\s+)?(?P<unit>day|week|month|year)s?\b"
_NUMBER_WORD_RE = "|".join(sorted([*NUMBER_WORDS, "hundred"], key=len, reverse=True))
_DIGIT_DURATION_RE = re.compile(r"\(?(?P<num>\d+(?:\.\d+)?)\)?[\s-]*" + _UNIT_RE)
_WORD_DURATION_RE = re.compile(
    r"\b(?P<num>(?:(?:" + _NUMBER_WORD_RE + r")[\s-]+(?:and\s+)?)*(?:" + _NUMBER_WORD_RE
    + r"))[\s-]+" + _UNIT_RE)

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
JURISDICTION_ALIASES: Mapping[str, str] = MappingProxyType({
    **US_STATES, **{name.casefold(): name for name in US_STATES.values()},
    "prc": "China", "people's republic of china": "China", "china": "China",
    "washington dc": "District of Columbia", "washington d c": "District of Columbia",
    "usa": "United States", "us": "United States", "u s": "United States",
    "united states of america": "United States", "uk": "United Kingdom",
})
_JURISDICTION_PREFIX_RE = re.compile(
    r"^(?:(?:governed\s+by|under|the|laws?\s+of|law\s+of|state|commonwealth|province)\s+"
    r"(?:of\s+)?)+")
_JURISDICTION_SUFFIX_RE = re.compile(r"(?:\s+state)?(?:\s+laws?)?$")
_US_COUNTRY_SUFFIX_RE = re.compile(r"\s+(?:usa|u s a|u s|united states(?: of america)?)$")
_JURISDICTION_KEY_RE = re.compile(r"[^\w\s']")  # alias lookup ignores punctuation but apostrophes
_LOWERCASE_WORDS = frozenset({"and", "of", "the"})

CORPORATE_SUFFIXES = frozenset({
    "inc", "incorporated", "corp", "corporation", "llc", "ltd", "limited", "co", "company",
    "plc", "lp", "llp", "sa", "gmbh", "ag", "nv", "bv"})
_QUOTED_ALIAS_RE = re.compile(r"\([^()]*[\"“”'‘’][^()]*\)")
_DESCRIPTOR_RE = re.compile(r",\s+an?\s.*$", re.DOTALL)  # ', a Delaware corporation, having ...'
_PUNCTUATION_RE = re.compile(r"[^\w\s]")
_STRIP_CHARS = string.punctuation + string.whitespace + "“”‘’«»"
PARTY_JACCARD_MIN = 0.8


def normalize_date(text: str | None) -> str | None:
    """ISO 'YYYY-MM-DD' for a full date in any common spelling (US month/day order), else None."""
    if not text or not text.strip():
        return None
    cleaned = _ORDINAL_RE.sub(lambda m: str(_ORDINALS[m.group(1).replace(" ", "-")]),
                              text.strip().casefold())
    cleaned = _DAY_OF_RE.sub(r"\1 ", _DATE_PREFIX_RE.sub("", cleaned))
    try:
        probes = {date_parser.parse(cleaned, default=d).date() for d in _PROBE_DEFAULTS}
    except (ValueError, OverflowError):
        return None
    return probes.pop().isoformat() if len(probes) == 1 else None


def _parse_number_words(words: str) -> int:
    """Value of a run of English number words such as 'one hundred and twenty'; an article
    counts as one only on its own ('a year', but 'a thirty-day period' is 30 days)."""
    tokens = re.split(r"[\s-]+", words)
    if len(tokens) > 1:
        tokens = [token for token in tokens if token not in ("a", "an")]
    total = 0
    for word in tokens:
        if word == "hundred":
            total = max(total, 1) * 100
        elif word != "and":
            total += NUMBER_WORDS[word]
    return total


def normalize_duration_days(text: str | int | float | None) -> int | None:
    """Days in a duration: weeks are 7 days, months 30 days, years 365 days (a convention), except
    that a whole number of years written in months counts as those years ('12 months' = 365 days).

    An int (or integral float, or a bare digit string) already counts days. In 'thirty (30) days'
    the digits win; in '180 days / 6 months' the first duration wins. 'business days' and other
    qualified days are not calendar days, so they are not durations here (None).
    """
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        return int(text) if float(text).is_integer() else None
    cleaned = text.strip().casefold()
    if cleaned.isdigit():
        return int(cleaned)
    matches = [m for m in (_DIGIT_DURATION_RE.search(cleaned), _WORD_DURATION_RE.search(cleaned))
               if m is not None]
    if not matches:
        return None
    first = min(matches, key=lambda m: m.start())
    number = first.group("num")
    amount = float(number) if number[0].isdigit() else _parse_number_words(number)
    unit = first.group("unit")
    if unit == "month" and amount >= 12 and amount % 12 == 0:
        amount, unit = amount / 12, "year"
    return round(amount * DAYS_PER_UNIT[unit])


def _capitalize_jurisdiction(name: str) -> str:
    words = name.split()
    return " ".join(
        word if index and word in _LOWERCASE_WORDS
        else "-".join(part[:1].upper() + part[1:] for part in word.split("-"))
        for index, word in enumerate(words))


def normalize_jurisdiction(text: str | None) -> str | None:
    """Canonical jurisdiction name: boilerplate ('laws of the State of', 'law') stripped,
    US state abbreviations and known aliases mapped, the rest capitalized word by word."""
    if not text or not text.strip():
        return None
    cleaned = " ".join(text.casefold().replace(".", " ").split()).strip(_STRIP_CHARS) + " "
    cleaned = _JURISDICTION_SUFFIX_RE.sub("", _JURISDICTION_PREFIX_RE.sub("", cleaned).strip())
    key = " ".join(_JURISDICTION_KEY_RE.sub(" ", cleaned).split())
    head = _US_COUNTRY_SUFFIX_RE.sub("", key)
    if head in JURISDICTION_ALIASES and JURISDICTION_ALIASES[head] in US_STATES.values():
        return JURISDICTION_ALIASES[head]
    if key in JURISDICTION_ALIASES:
        return JURISDICTION_ALIASES[key]
    return _capitalize_jurisdiction(cleaned) if cleaned else None


def normalize_party_name(text: str) -> str:
    """A party name reduced for tolerant matching: casefolded; quoted defined-term aliases such as
    ("Company"), a trailing descriptor (', a Delaware corporation'), a leading 'the' and trailing
    corporate suffixes dropped; '&' read as 'and'; punctuation removed; spaces collapsed."""
    cleaned = _DESCRIPTOR_RE.sub("", _QUOTED_ALIAS_RE.sub(" ", text.casefold()))
    cleaned = cleaned.replace("&", " and ").replace(".", "")
    tokens = _PUNCTUATION_RE.sub(" ", cleaned).split()
    if tokens and tokens[0] == "the":
        tokens = tokens[1:]
    while len(tokens) > 1 and tokens[-1] in CORPORATE_SUFFIXES:
        tokens = tokens[:-1]
    return " ".join(tokens)


def parties_match(predicted: str, gold: str) -> bool:
    """Whether two party names name the same party.

    After normalize_party_name they match when (1) they are equal; or (2) the token set of the
    shorter one has at least 2 tokens and is contained in the other's ('acme holdings' ~ 'acme
    holdings international'); or (3) the token sets' Jaccard similarity is >= 0.8. Empty names
    never match.
    """
    left, right = normalize_party_name(predicted), normalize_party_name(gold)
    if not left or not right:
        return False
    if left == right:
        return True
    left_tokens, right_tokens = set(left.split()), set(right.split())
    shorter, longer = sorted((left_tokens, right_tokens), key=len)
    if len(shorter) >= 2 and shorter <= longer:
        return True
    return len(left_tokens & right_tokens) / len(left_tokens | right_tokens) >= PARTY_JACCARD_MIN


def normalize_text(text: str | None) -> str | None:
    """Casefolded text with whitespace collapsed and surrounding punctuation stripped; None if empty."""
    if text is None:
        return None
    cleaned = " ".join(text.casefold().split()).strip(_STRIP_CHARS)
    return cleaned or None


def _as_str(normalizer: Callable[[str | None], str | None]) -> Callable[[object], str | None]:
    """Apply a string normalizer; a value of another JSON type (number, list, ...) gives None."""
    return lambda value: normalizer(value) if isinstance(value, str) else None


NORMALIZERS: Mapping[str, Callable[[object], object | None]] = MappingProxyType({
    "date": _as_str(normalize_date),
    "duration_days": lambda value: normalize_duration_days(
        value if isinstance(value, (str, int, float)) else None),
    "duration_text": _as_str(normalize_duration_days),
    "jurisdiction": _as_str(normalize_jurisdiction),
    "text": _as_str(normalize_text),
    "enum": _as_str(normalize_text),
})
"""Scalar field kinds and their normalizers. 'text' and 'enum' share one normalizer and differ
only in what they tell a reader about the field. Set kinds ('party_set') are matched in scoring."""


def compare_values(kind: str, predicted: object, gold: object) -> bool:
    """Whether a non-null predicted value equals a non-null gold value after the kind's normalizer.

    A predicted value that does not normalize never matches. A gold value that does not normalize
    is a data error and raises ValueError (gold data must be checked with NORMALIZERS up front).
    """
    if kind not in NORMALIZERS:
        raise ValueError(f"unknown field kind {kind!r}; allowed: {', '.join(sorted(NORMALIZERS))} "
                         "('party_set' is matched as a set in scoring)")
    normalize = NORMALIZERS[kind]
    gold_value = normalize(gold)
    if gold_value is None:
        raise ValueError(f"gold value {gold!r} cannot be normalized as {kind!r}; "
                         "fix the gold record or the field's kind")
    return normalize(predicted) == gold_value
