"""Recipe `cuad_extraction`: contract excerpts in, the task's fields out, from CUAD annotations.

Options (task.yaml data.options): `categories`, mapping every task field to the CUAD category
whose answer and spans give its gold (e.g. governing_law: Governing Law); the field's kind picks
how the answer is normalized. Each contract yields excerpts grown around its annotated spans
(stratum 'present:<field>') and excerpts placed away from every annotated span ('absent'), so
null is learned and tested too. This module knows nothing of splits, files or the data card.
"""

from __future__ import annotations

import random
from typing import Any, Mapping

from harness.data.cuad_layout import Contract, locate
from harness.data.excerpts import Sentences, TokenCounter, Window, excerpt_text, grow
from harness.data.gold import ContractTruth, contract_truth, excerpt_gold
from harness.data.harvest import Candidate, Harvest
from harness.task.records import Record
from harness.task.specs import TaskSpec

ABSENT_TRIES = 8
ABSENT_PER_CONTRACT = 2


def check(task: TaskSpec) -> list[str]:
    """Problems with the recipe's options for this task (empty when usable)."""
    categories = task.data.options.get("categories")
    unknown = sorted(set(task.data.options) - {"categories"})
    problems = [f"data.options: unknown key(s) {unknown} for recipe cuad_extraction (allowed: categories)"] if unknown else []
    if not isinstance(categories, Mapping):
        return problems + ["data.options.categories: map each field to its CUAD category"]
    missing = sorted(set(task.fields) - set(categories))
    extra = sorted(set(categories) - set(task.fields))
    problems += [f"data.options.categories: no category for field(s) {missing}"] if missing else []
    problems += [f"data.options.categories: {extra} are not task fields"] if extra else []
    parties = [f for f, kind in task.fields.items() if kind == "party_set"]
    problems += [f"fields: at most one party_set field, got {parties}"] if len(parties) > 1 else []
    kinds = sorted({k for k in task.fields.values()} - {"party_set", "date", "duration_days", "duration_text", "jurisdiction", "text"})
    return problems + ([f"fields: kind(s) {kinds} have no CUAD answer normalizer"] if kinds else [])


def weights(task: TaskSpec) -> dict[str, float]:
    """Stratum weights: 'absent' gets absent_fraction, the fields but parties share the rest equally."""
    named = [name for name, kind in task.fields.items() if kind != "party_set"]
    share = (1.0 - task.data.absent_fraction) / len(named)
    return {"absent": task.data.absent_fraction, **{f"present:{name}": share for name in named}}


def harvest(task: TaskSpec, contracts: list[Contract], count_tokens: TokenCounter, origin: str) -> Harvest:
    """Candidate excerpts of every contract, with flagged answers and dropped excerpts counted."""
    categories = task.data.options["categories"]
    result = Harvest()
    for contract in contracts:
        truth = contract_truth(contract, task.fields, categories)
        note_flags(truth, result)
        result.absorb(contract_candidates(task, truth, count_tokens, origin))
    return result


def note_flags(truth: ContractTruth, result: Harvest) -> None:
    """Count the contract's answers that cannot be gold values."""
    for field in truth.fields:
        if field.flag:
            result.flag(f"{field.field}: {field.flag}", field.answer or "")
    for entry in truth.unmatched_parties:
        result.flag("parties: answer entry matches no annotated party span", entry)


def anchors(truth: ContractTruth, party_field: str | None) -> list[tuple[str, tuple[int, int]]]:
    """(field, span) to grow excerpts around: every annotated span, and each party's first mention."""
    found = [(field.field, span) for field in truth.fields for span in field.spans]
    for party in truth.parties if party_field else ():
        spots = sorted(loc for form in party.forms for loc in locate(truth.contract.text, form))
        found += [(party_field, spots[0])] if spots else []
    return found


def contract_candidates(task: TaskSpec, truth: ContractTruth, count_tokens: TokenCounter, origin: str) -> Harvest:
    """Present and absent excerpts of one contract."""
    rng = random.Random(f"{task.data.seed}:{truth.contract.id}")
    sentences = Sentences(truth.contract.text, count_tokens)
    party_field = next((name for name, kind in task.fields.items() if kind == "party_set"), None)
    result, seen = Harvest(), set()
    for field, anchor in anchors(truth, party_field):
        window = grow(sentences, anchor, task.data.excerpt_tokens, rng)
        if window is None:
            result.dropped[f"{field}: annotated clause longer than the excerpt budget"] += 1
        elif window not in seen:
            seen.add(window)
            add_candidate(result, truth, window, party_field, origin, anchor_field=field)
    for _ in range(ABSENT_TRIES):
        if sum(c.stratum == "absent" for c in result.candidates) >= ABSENT_PER_CONTRACT:
            break
        window = absent_window(truth, sentences, task.data.excerpt_tokens, rng)
        if window is not None and window not in seen:
            seen.add(window)
            add_candidate(result, truth, window, party_field, origin, anchor_field=None)
    return result


def absent_window(truth: ContractTruth, sentences: Sentences, budget: int, rng: random.Random) -> Window | None:
    """An excerpt grown from a random sentence, or None when it touches an annotated span."""
    index = rng.randrange(len(sentences.bounds)) if sentences.bounds else None
    if index is None:
        return None
    window = grow(sentences, sentences.bounds[index], budget, rng)
    spans = [span for field in truth.fields for span in field.spans]
    return window if window is not None and not any(window.overlaps(a, b) for a, b in spans) else None


def add_candidate(result: Harvest, truth: ContractTruth, window: Window, party_field: str | None,
                  origin: str, anchor_field: str | None) -> None:
    """Add the excerpt as a candidate, or count why it was dropped."""
    gold, reasons = excerpt_gold(truth, window, party_field)
    if reasons:
        result.dropped.update(set(reasons))
        return
    text = excerpt_text(truth.contract.text, window)
    record = Record(f"{truth.contract.id}@{window.start}-{window.end}", truth.contract.id, text, gold, origin)
    result.candidates.append(Candidate(record, stratum(gold, anchor_field, party_field)))


def stratum(gold: Mapping[str, Any], anchor_field: str | None, party_field: str | None) -> str:
    """'absent' when no field but the parties has a value; else 'present:' the anchor's field
    (or the first field with a value when the anchor's is null)."""
    valued = [name for name, value in gold.items() if value is not None and name != party_field]
    if not valued:
        return "absent"
    if anchor_field in valued:
        return f"present:{anchor_field}"
    return f"present:{valued[0]}"
