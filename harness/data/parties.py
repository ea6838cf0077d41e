"""Party names from CUAD's Parties answer, checked against the annotated party spans.

The answer lists parties with their defined-term aliases, e.g. 'Birch First Global Investments
Inc. ("Company"); Mount Kowledge Holdings Inc. ("Marketing Affiliate", "MA")'. A party's gold name
is the name without aliases, written as the contract writes it: an entry counts only when it
matches an annotated span string (which also repairs typos in the answer), and an entry that
matches none (a collective alias such as 'Heritage and Premier ("Parties")', a blank '[]') is
counted as unmatched and never enters gold. This module knows nothing of excerpts or splits.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from harness.data.evidence import party_occurs
from harness.task.normalize import normalize_party_name

_ENTRY_SPLIT = re.compile(r";|\n|(?<=\))\s*,\s*")
_ALIAS = re.compile(
    r"\([^()]*(?:[\"“”?]|\b(?:formerly|f/k/a|a/k/a|collectively|individually|together|hereinafter|each)\b)[^()]*\)?"
    r"|[\"“][^\"“”]*[\"”]", re.IGNORECASE)
_TAIL = re.compile(r"[\s,]+(?:d/b/a|dba|doing business as|formerly known as|f/k/a|a/k/a|including|on behalf of|together with|"
                   r"and (?:all of )?its (?:subsidiaries|affiliates))\b.*$", re.IGNORECASE | re.DOTALL)
TYPO_RATIO = 0.8
TYPO_MAX_LENGTH_DIFFERENCE = 2
MAX_NAME_WORDS = 12


@dataclass(frozen=True)
class Party:
    """One party: the ways the contract writes its name, longest first."""

    forms: tuple[str, ...]

    def written_in(self, text: str) -> str | None:
        """The first of this party's forms that occurs in `text`, or None."""
        return next((form for form in self.forms if party_occurs(form, text)), None)


def bare_name(entry: str) -> str | None:
    """A name with aliases and trade-name tails removed; None when nothing name-like is left."""
    name = _TAIL.sub("", _ALIAS.sub(" ", entry))
    name = " ".join(name.split()).strip(" ,;:\"“”'")
    if not re.search(r"\w", name) or any(q in name for q in "\"“”") or len(name.split()) > MAX_NAME_WORDS:
        return None
    return name


def answer_entries(answer: str) -> list[str]:
    """The raw party entries of an answer (one per party, aliases still attached)."""
    return [entry.strip() for entry in _ENTRY_SPLIT.split(answer) if entry.strip()]


def typo_apart(key_a: str, key_b: str) -> bool:
    """Whether two normalized names differ by a small typo ('pifzer' / 'pfizer')."""
    close = abs(len(key_a) - len(key_b)) <= TYPO_MAX_LENGTH_DIFFERENCE
    return close and difflib.SequenceMatcher(None, key_a, key_b).ratio() >= TYPO_RATIO


def span_forms(name: str | None, span_names: set[str]) -> list[str]:
    """The span names that write `name`: those equal to it once normalized or, only when none
    is, those one small typo apart (so 'Beijing X Ltd.' never absorbs 'Nanjing X Ltd.')."""
    key = normalize_party_name(name) if name else ""
    if not key:
        return []
    keyed = {form: normalize_party_name(form) for form in span_names}
    forms = [form for form, other in keyed.items() if other == key]
    forms = forms or [form for form, other in keyed.items() if other and typo_apart(other, key)]
    return sorted(forms, key=lambda form: (-len(form), form))


def parties_from(answer: str | None, spans: tuple[str, ...]) -> tuple[list[Party], list[str]]:
    """(parties whose answer entry matches an annotated span, entries that match none)."""
    if not answer:
        return [], []
    parties, unmatched = [], []
    span_names = {name for name in map(bare_name, spans) if name}
    for entry in answer_entries(answer):
        forms = span_forms(bare_name(entry), span_names)
        if forms and tuple(forms) not in [p.forms for p in parties]:
            parties.append(Party(tuple(forms)))
        else:
            unmatched.append(entry)
    return parties, unmatched
