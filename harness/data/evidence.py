"""Whether a gold value is stated in a piece of text, by field kind.

Gold for an excerpt may only hold values the excerpt states, so every gold value is checked here:
a date by finding date mentions and normalizing each (harness.task.normalize.normalize_date), a
duration by normalizing the words before each time unit, a jurisdiction or party name by finding
its words, free text by finding it or the duration it names. This module finds evidence; it does
not decide which field a mention belongs to (gold does) and never invents a value.
"""

from __future__ import annotations

import re
from typing import Any

from harness.task.normalize import normalize_date, normalize_duration_days, normalize_party_name

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_ORDINAL_WORD = (r"(?:(?:twenty|thirty)[- ]?)?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
                 r"tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|"
                 r"eighteenth|nineteenth)|twentieth|thirtieth")
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL_WORD})"
DATE_PATTERN = re.compile(
    rf"(?<![A-Za-z0-9])(?:(?:{_DAY})[ \t]+(?:day\s+)?(?:of\s+)?)?(?P<month>{_MONTH})\.?,?\s+(?:{_DAY}\s*,?\s*)?\d{{4}}\b"
    r"|(?<![A-Za-z0-9])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b"
    r"|(?<![A-Za-z0-9])\d{4}-\d{2}-\d{2}\b",
    re.IGNORECASE)
_UNIT = re.compile(r"\b(?:calendar\s+)?(?:day|week|month|year)s?\b", re.IGNORECASE)
_WORDS_BEFORE_UNIT = 6
STATED_KINDS = ("party_set", "date", "duration_days", "duration_text", "jurisdiction", "text")


def date_mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, ISO date) of every full date written in `text`; partial dates are skipped. A
    day-first match that does not normalize ('1 May 3, 2016' after a page number) is retried from
    its month."""
    found = []
    for match in DATE_PATTERN.finditer(text):
        start = match.start()
        iso = normalize_date(match.group(0))
        if iso is None and match.group("month") and match.start("month") > start:
            start = match.start("month")
            iso = normalize_date(text[start:match.end()])
        if iso is not None:
            found.append((start, match.end(), iso))
    return found


def durations_stated(text: str) -> set[int]:
    """Days of every duration written in `text` ('thirty (30) days', 'one year', '6 months')."""
    days = set()
    for unit in _UNIT.finditer(text):
        head = text[max(0, unit.start() - 60):unit.end()]
        starts = [0, *(m.end() for m in re.finditer(r"\s+", head))]
        for start in starts[-_WORDS_BEFORE_UNIT - 1:]:
            value = normalize_duration_days(head[start:])
            if value is not None:
                days.add(value)
    return days


def words_occur(phrase: str, text: str) -> bool:
    """Whether `phrase` occurs in `text` as whole words, ignoring case and spacing."""
    words = phrase.split()
    if not words:
        return False
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(word) for word in words) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def party_occurs(name: str, text: str) -> bool:
    """Whether a party name occurs in `text` (as written, or as its normalized words)."""
    if words_occur(name, text):
        return True
    key = normalize_party_name(name)
    return bool(key) and f" {key} " in f" {normalize_party_name_text(text)} "


def normalize_party_name_text(text: str) -> str:
    """Running text reduced the way normalize_party_name reduces a name (case, '.', punctuation)."""
    cleaned = text.casefold().replace("&", " and ").replace(".", "")
    return " ".join(re.sub(r"[^\w\s]", " ", cleaned).split())


def value_stated(kind: str, value: Any, text: str) -> bool:
    """Whether the (non-null) gold `value` of a field of `kind` is stated in `text`."""
    if kind == "date":
        return any(iso == value for _, _, iso in date_mentions(text))
    if kind == "duration_days":
        return value in durations_stated(text)
    if kind == "jurisdiction":
        return all(words_occur(part, text) for part in re.split(r"\s*,\s*", value) if part)
    if kind == "party_set":
        return all(party_occurs(name, text) for name in value)
    if kind == "duration_text":
        days = normalize_duration_days(value)
        return words_occur(value, text) or (days is not None and days in durations_stated(text))
    if kind == "text":
        return words_occur(value, text)
    raise ValueError(f"kind {kind!r} is a label, not a value stated in text; stated kinds: {STATED_KINDS}")
