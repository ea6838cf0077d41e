"""Gold values of one contract's fields, and of an excerpt of it.

For each task field, CUAD's answer becomes a value in the schema's type (via harness.task.normalize):
an ISO date, days of notice, a jurisdiction's name, text. An answer that cannot be one (a partial
date '[]/[]/2020', 'perpetual' as a date, two values 'x; y') is flagged with its reason, never
guessed. An excerpt's gold for a field is the value only when an annotated span of that field
lies in the excerpt and the value is stated inside it; a field annotated elsewhere is null here.
An excerpt whose gold would be uncertain gets a drop reason instead. Parties are named throughout
a contract, so their gold is every party whose name the excerpt writes. This module knows
nothing of splits, tokens or files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from harness.data.cuad_layout import Contract, annotated_ranges
from harness.data.evidence import date_mentions, durations_stated, party_occurs, value_stated
from harness.data.excerpts import Window
from harness.data.parties import Party, bare_name, parties_from
from harness.task.normalize import normalize_date, normalize_duration_days, normalize_jurisdiction

_NORMALIZERS: Mapping[str, Callable[[str], Any]] = {
    "date": normalize_date,
    "duration_days": normalize_duration_days,
    "duration_text": lambda answer: answer,
    "jurisdiction": lambda answer: answer if normalize_jurisdiction(answer) else None,
    "text": lambda answer: answer,
}


@dataclass(frozen=True)
class FieldTruth:
    """One field of one contract: its gold value (or why there is none) and where it is annotated."""

    field: str
    kind: str
    answer: str | None
    value: Any
    flag: str | None
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ContractTruth:
    """Every field of one contract, plus its parties and the answer entries that named no party."""

    contract: Contract
    fields: tuple[FieldTruth, ...]
    parties: tuple[Party, ...]
    unmatched_parties: tuple[str, ...]


def normalized_answer(kind: str, answer: str | None) -> tuple[Any, str | None]:
    """(value, flag) for a CUAD answer: flag says why the answer cannot be a gold value."""
    if answer is None:
        return None, None
    if ";" in answer.strip().rstrip(";"):
        return None, "several values in one answer"
    value = _NORMALIZERS[kind](" ".join(answer.split()).rstrip(";"))
    if value is None:
        return None, f"not a {kind.replace('_', ' ')} value"
    if kind == "duration_text" and normalize_duration_days(value) is None:
        return None, "names no duration"
    return value, None


def contract_truth(contract: Contract, fields: Mapping[str, str], categories: Mapping[str, str]) -> ContractTruth:
    """Derive every field of `contract`; `fields` maps name to kind, `categories` name to CUAD category."""
    truths, parties, unmatched = [], (), ()
    for name, kind in fields.items():
        category = categories[name]
        if kind == "party_set":
            found, missing = parties_from(contract.answers[category], contract.spans[category])
            parties, unmatched = tuple(found), tuple(missing)
            continue
        answer = contract.answers[category]
        value, flag = normalized_answer(kind, answer)
        spans = annotated_ranges(contract.text, contract.spans[category])
        truths.append(FieldTruth(name, kind, answer, value, flag, spans))
    return ContractTruth(contract, tuple(truths), parties, unmatched)


def field_gold(truth: FieldTruth, text: str, window: Window) -> tuple[Any, str | None]:
    """(gold value in this excerpt, drop reason): null when no span of the field is in it, and
    null when its clause derives the date ('five years after the Effective Date') without
    writing any date and the excerpt writes the gold date nowhere else (reason 'derived')."""
    inside = [(max(a, window.start), min(b, window.end)) for a, b in truth.spans if window.overlaps(a, b)]
    if not inside:
        return None, None
    segment = " … ".join(text[a:b] for a, b in inside)
    if truth.flag:
        return None, f"{truth.field}: {truth.flag}"
    if truth.value is None:
        states = date_mentions(segment) if truth.kind == "date" else durations_stated(segment)
        return None, (f"{truth.field}: annotated clause states a value but has no answer" if states else None)
    if value_stated(truth.kind, truth.value, segment):
        return truth.value, None
    if any(window.overlaps(a, b) and not window.holds(a, b) for a, b in truth.spans):
        return None, f"{truth.field}: annotated clause cut at the excerpt's edge"
    if truth.kind == "date" and derived_date(truth.value, segment, text[window.start:window.end]):
        return None, None
    return None, f"{truth.field}: value not stated in its annotated clause"


def derived_date(iso: str, segment: str, excerpt: str) -> bool:
    """Whether a clause derives a date rather than writing it: the clause writes no date and not
    the gold year, and the excerpt writes the gold date nowhere."""
    written = {value for _, _, value in date_mentions(excerpt)}
    return not date_mentions(segment) and iso[:4] not in segment and iso not in written


def restated_date(truth: ContractTruth, text: str, window: Window) -> str | None:
    """A drop reason when the excerpt writes one of the contract's gold dates outside every
    annotated date span: the label of that mention is unknown."""
    dated = [t for t in truth.fields if t.kind == "date"]
    values = {t.value for t in dated if t.value}
    spans = [span for t in dated for span in t.spans]
    for start, end, iso in date_mentions(text[window.start:window.end]):
        start, end = start + window.start, end + window.start
        if iso in values and not any(a <= start and end <= b for a, b in spans):
            return "a gold date is restated outside its annotated clause"
    return None


def excerpt_gold(truth: ContractTruth, window: Window, party_field: str | None) -> tuple[dict[str, Any], list[str]]:
    """(gold of the excerpt, drop reasons); any reason means the excerpt is not a record."""
    text = truth.contract.text
    gold: dict[str, Any] = {}
    reasons = [reason for reason in [restated_date(truth, text, window)] if reason]
    if party_field is not None:
        excerpt = text[window.start:window.end]
        names = dict.fromkeys(filter(None, (party.written_in(excerpt) for party in truth.parties)))
        gold[party_field] = list(names) or None
        unknown = [n for n in map(bare_name, truth.unmatched_parties) if n and party_occurs(n, excerpt)]
        reasons += [f"{party_field}: names a party the answer lists but no span writes"] if unknown else []
    for field_truth in truth.fields:
        gold[field_truth.field], reason = field_gold(field_truth, text, window)
        reasons += [reason] if reason else []
    return gold, reasons
