"""Recipe `cuad_clause_type`: one annotated CUAD clause in, its category out.

Options (task.yaml data.options): `categories`, the list of CUAD categories to keep; the task's
single field (kind 'enum') must be a schema enum of exactly those names. Each annotated span of a
kept category becomes a candidate (stratum = its category). A span too short to be a clause, too
long for the excerpt budget, or annotated under two kept categories (one text, two labels) is
dropped and counted. This module knows nothing of splits, files or the data card.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness.data.cuad_layout import OMITTED, Contract
from harness.data.excerpts import TokenCounter
from harness.data.harvest import Candidate, Harvest
from harness.task.normalize import normalize_text
from harness.task.records import Record
from harness.task.specs import TaskSpec

MIN_CLAUSE_WORDS = 4


def check(task: TaskSpec) -> list[str]:
    """Problems with the recipe's options for this task (empty when usable)."""
    categories = task.data.options.get("categories")
    unknown = sorted(set(task.data.options) - {"categories"})
    problems = [f"data.options: unknown key(s) {unknown} for recipe cuad_clause_type (allowed: categories)"] if unknown else []
    if not isinstance(categories, list) or len(categories) < 2 or not all(isinstance(c, str) for c in categories):
        return problems + ["data.options.categories: list at least two CUAD category names"]
    if len(task.fields) != 1 or next(iter(task.fields.values())) != "enum":
        return problems + ["fields: cuad_clause_type needs exactly one field, of kind enum"]
    name = next(iter(task.fields))
    enum = task.schema.get("properties", {}).get(name, {}).get("enum")
    if enum != categories:
        problems.append(f"schema.json: properties.{name}.enum must list exactly data.options.categories, in order")
    if task.data.absent_fraction != 0:
        problems.append("data.absent_fraction: must be 0 (every clause has a category)")
    return problems


def weights(task: TaskSpec) -> dict[str, float]:
    """Every kept category gets an equal share of each split."""
    return {category: 1.0 for category in task.data.options["categories"]}


def clause_text(span: str) -> str:
    """A span as a record's text: pieces of a discontinuous span joined by an ellipsis."""
    return " … ".join(" ".join(piece.split()) for piece in span.split(OMITTED) if piece.strip())


def harvest(task: TaskSpec, contracts: list[Contract], count_tokens: TokenCounter, origin: str) -> Harvest:
    """One candidate per distinct kept clause of every contract."""
    field = next(iter(task.fields))
    result = Harvest()
    for contract in contracts:
        labels: dict[str, set[str]] = defaultdict(set)
        texts: dict[str, str] = {}
        for category in task.data.options["categories"]:
            for span in contract.spans[category]:
                text = clause_text(span)
                key = normalize_text(text) or ""
                labels[key].add(category)
                texts.setdefault(key, text)
        for number, (key, cats) in enumerate(sorted(labels.items())):
            reason = drop_reason(texts[key], cats, count_tokens, task.data.excerpt_tokens)
            if reason:
                result.dropped[reason] += 1
                continue
            category = next(iter(cats))
            gold: dict[str, Any] = {field: category}
            record = Record(f"{contract.id}#{number}", contract.id, texts[key], gold, origin)
            result.candidates.append(Candidate(record, category))
    return result


def drop_reason(text: str, categories: set[str], count_tokens: TokenCounter, budget: int) -> str | None:
    """Why a clause cannot be a record, or None."""
    if len(categories) > 1:
        return "clause annotated under several kept categories"
    if len(text.split()) < MIN_CLAUSE_WORDS:
        return f"clause shorter than {MIN_CLAUSE_WORDS} words"
    if count_tokens(text) > budget:
        return "clause longer than the excerpt budget"
    return None
