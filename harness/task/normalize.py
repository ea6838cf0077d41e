"""Value normalizers: turn the many spellings of a date, duration, jurisdiction, party name or
free-text value into one canonical form, and compare a predicted value with a gold one by field kind.

Every function here is pure, works on one value at a time and never raises on model output,
whatever its text or JSON type: a value that cannot be normalized becomes None — never a guessed
default (a bare year is not January 1st of that year). Accents are folded everywhere. This module
deliberately knows nothing about JSON, schemas, records, set matching of party lists (that is
scoring's job) or how the comparisons are counted into metrics; jurisdictions live in
harness.task.jurisdiction.
"""

from __future__ import annotations

import datetime
import math
import re
import string
from collections.abc import Callable, Mapping
from types import MappingProxyType

from dateutil import parser as date_parser

from harness.task.jurisdiction import fold_accents, normalize_jurisdiction

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
_UNIT_NAMES = {"day": "day", "week": "week", "wk": "week", "month": "month", "mo": "month",
               "year": "year", "yr": "year"}
_UNIT_RE = r"(?:calendar\s+)?(?P<unit>day|week|wk|month|mo|year|yr)s?\b\.?"
_NUMBER_WORD_RE = "|".join(sorted([*NUMBER_WORDS, "hundred"], key=len, reverse=True))
_WORDS_RUN = r"(?:(?:" + _NUMBER_WORD_RE + r")[\s-]+(?:and\s+)?)*(?:" + _NUMBER_WORD_RE + r")"
_DURATION_RE = re.compile(
    r"(?:\(?(?<![\w.])(?P<digits>[0-9]{1,6}(?:\.[0-9]{1,3})?)\)?|\b(?P<words>" + _WORDS_RUN
    + r"))[\s-]*" + _UNIT_RE)
_SPELLED_BEFORE_DIGITS_RE = re.compile(r"\b" + _WORDS_RUN + r"\s*(?=\(\s*[0-9])")
_JOINER_RE = re.compile(r"\s*(?:,\s*)?(?:and\s+|plus\s+)?")
_FREQUENCY_DAYS = (
    (re.compile(r"\b(?:annual|annually|yearly|per\s+annum|each\s+year|every\s+year)\b"), 365),
    (re.compile(r"\b(?:quarterly|each\s+quarter|every\s+quarter)\b"), 90),
    (re.compile(r"\b(?:monthly|each\s+month|every\s+month)\b"), 30),
    (re.compile(r"\b(?:weekly|each\s+week|every\s+week)\b"), 7),
)
MAX_DURATION_DAYS = 365 * 1000  # a longer 'duration' is not a contract term: None
_NUMBER_CAP = 10 ** 9  # 'hundred hundred ...' stops growing here (then exceeds MAX_DURATION_DAYS)
_PARENTHETICAL_RE = re.compile(r"\([^()]*\)")

CORPORATE_SUFFIXES: Mapping[str, str] = MappingProxyType({
    "inc": "corporation", "incorporated": "corporation", "corp": "corporation",
    "corporation": "corporation", "llc": "llc", "ltd": "limited", "limited": "limited",
    "co": "company", "company": "company", "plc": "plc", "lp": "lp", "llp": "llp", "sa": "sa",
    "gmbh": "gmbh", "ag": "ag", "nv": "nv", "bv": "bv"})
"""Trailing legal-form words dropped from party names, each with its kind: two names with
different stated kinds ('Acme LLC', 'Acme Inc.') are different parties."""
_QUALIFIERS = frozenset({"of", "for", "in", "at", "de", "du", "des", "del"})
_QUOTED_ALIAS_RE = re.compile(r"\([^()]*[\"“”'‘’][^()]*\)")
_DESCRIPTOR_RE = re.compile(r",\s+an?\s.*$", re.DOTALL)  # ', a Delaware corporation, having ...'
_PUNCTUATION_RE = re.compile(r"[^\w\s]")
_STRIP_CHARS = string.punctuation + string.whitespace + "“”‘’«»"
PARTY_JACCARD_MIN = 0.8


def normalize_date(text: str | None) -> str | None:
    """ISO 'YYYY-MM-DD' for a full date in any common spelling (US month/day order), else None.
    A parenthetical ('(the "Effective Date")') is not part of the date."""
    if not text or not text.strip():
        return None
    cleaned = _PARENTHETICAL_RE.sub(" ", fold_accents(text)).strip().casefold()
    cleaned = _ORDINAL_RE.sub(lambda m: str(_ORDINALS[m.group(1).replace(" ", "-")]), cleaned)
    cleaned = _DAY_OF_RE.sub(r"\1 ", _DATE_PREFIX_RE.sub("", cleaned))
    try:
        probes = {date_parser.parse(cleaned, default=d).date() for d in _PROBE_DEFAULTS}
    except (ValueError, OverflowError, TypeError, ArithmeticError):
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
            total = min(max(total, 1) * 100, _NUMBER_CAP)
        elif word != "and":
            total += NUMBER_WORDS[word]
    return total


def _terms(cleaned: str) -> list[tuple[float, str]]:
    """The (amount, unit) terms of the first duration, with the ones joined to it by 'and' or a
    comma in decreasing units ('two years and six months'); a '/' or 'or' starts another duration."""
    terms: list[tuple[float, str]] = []
    end = None
    for match in _DURATION_RE.finditer(cleaned):
        unit = _UNIT_NAMES[match.group("unit")]
        joined = end is not None and _JOINER_RE.fullmatch(cleaned, end, match.start()) is not None
        if terms and not (joined and DAYS_PER_UNIT[unit] < DAYS_PER_UNIT[terms[-1][1]]):
            break
        digits = match.group("digits")
        terms.append((float(digits) if digits else _parse_number_words(match.group("words")), unit))
        end = match.end()
    return terms


def _days(terms: list[tuple[float, str]]) -> int:
    """Days of summed terms: weeks 7, days 1; months and years go through months so that 18
    months = 1.5 years = 540 days, while a whole number of years is 365 days each."""
    months = sum(amount * (12 if unit == "year" else 1) for amount, unit in terms if unit in ("month", "year"))
    other = sum(amount * DAYS_PER_UNIT[unit] for amount, unit in terms if unit in ("day", "week"))
    whole_years = months % 12 == 0
    return round(other + (months / 12 * 365 if whole_years else months * 30))


def normalize_duration_days(text: str | int | float | None) -> int | None:
    """Days in a duration: weeks are 7 days, months 30 days, years 365 days (a convention); a whole
    number of years written in months counts as those years ('12 months' = 365 days), and a
    fraction of a year counts in months ('1.5 years' = '18 months' = 540 days).

    An int (or integral float, or a bare digit string) already counts days. In 'thirty (30) days'
    the digits win; in '180 days / 6 months' the first duration wins; 'two years and six months'
    is 30 months. 'annual'/'annually' is one year (likewise quarterly, monthly, weekly) when no
    number is given. 'business days' and other qualified days are not calendar days (None), nor is
    anything longer than 1,000 years.
    """
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        integral = isinstance(text, int) or (math.isfinite(text) and float(text).is_integer())
        return int(text) if integral and 0 <= text <= MAX_DURATION_DAYS else None
    cleaned = fold_accents(text).strip().casefold()
    if re.fullmatch(r"[0-9]{1,7}", cleaned):
        days = int(cleaned)
    else:
        terms = _terms(_SPELLED_BEFORE_DIGITS_RE.sub("", cleaned))
        frequency = next((d for pattern, d in _FREQUENCY_DAYS if pattern.search(cleaned)), None)
        days = _days(terms) if terms else frequency
    return days if days is not None and days <= MAX_DURATION_DAYS else None


def _party_tokens(text: str) -> tuple[list[str], set[str]]:
    """(name tokens without legal-form suffixes, the kinds of the suffixes dropped)."""
    cleaned = _DESCRIPTOR_RE.sub("", _QUOTED_ALIAS_RE.sub(" ", fold_accents(text).casefold()))
    cleaned = cleaned.replace("&", " and ").replace(".", "")
    tokens = _PUNCTUATION_RE.sub(" ", cleaned).split()
    if tokens and tokens[0] == "the":
        tokens = tokens[1:]
    kinds: set[str] = set()
    while len(tokens) > 1 and tokens[-1] in CORPORATE_SUFFIXES:
        kinds.add(CORPORATE_SUFFIXES[tokens.pop()])
    return tokens, kinds


def normalize_party_name(text: str) -> str:
    """A party name reduced for tolerant matching: accents folded, casefolded; quoted defined-term
    aliases such as ("Company"), a trailing descriptor (', a Delaware corporation'), a leading 'the'
    and trailing corporate suffixes dropped; '&' read as 'and'; punctuation removed; spaces collapsed."""
    return " ".join(_party_tokens(text)[0])


def parties_match(predicted: str, gold: str) -> bool:
    """Whether two party names name the same party.

    Names whose stated legal forms differ in kind ('Acme LLC', 'Acme Inc.') never match. Otherwise,
    after normalize_party_name they match when (1) they are equal; or (2) the token set of the
    shorter one has at least 2 tokens and is contained in the other's, unless the longer one adds a
    qualifier such as 'of Omaha' ('acme holdings' ~ 'acme holdings international', but 'first
    national bank' is not 'first national bank of omaha'); or (3) the token sets' Jaccard
    similarity is >= 0.8. Empty names never match.
    """
    (left, left_kinds), (right, right_kinds) = _party_tokens(predicted), _party_tokens(gold)
    if not left or not right or (left_kinds and right_kinds and not left_kinds & right_kinds):
        return False
    if left == right:
        return True
    left_tokens, right_tokens = set(left), set(right)
    shorter, longer = sorted((left_tokens, right_tokens), key=len)
    if len(shorter) >= 2 and shorter <= longer and not (longer - shorter) & _QUALIFIERS:
        return True
    return len(left_tokens & right_tokens) / len(left_tokens | right_tokens) >= PARTY_JACCARD_MIN


def normalize_text(text: str | None) -> str | None:
    """Casefolded, accent-folded text with whitespace collapsed and surrounding punctuation
    stripped; None if empty."""
    if text is None:
        return None
    cleaned = " ".join(fold_accents(text).casefold().split()).strip(_STRIP_CHARS)
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
