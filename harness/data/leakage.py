"""Exact and near-duplicate text between training-side and evaluation-side records.

Two texts are exact duplicates when equal after harness.task.normalize.normalize_text, and near
duplicates when the Jaccard similarity of their word 5-gram sets reaches NEAR_DUPLICATE_JACCARD
(boilerplate clauses copied between contracts, one contract filed twice). This module measures;
it does not decide what to do about a duplicate (build drops leaked evaluation candidates,
validation fails above the task's threshold).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from harness.task.normalize import normalize_text
from harness.task.records import Record

SHINGLE_WORDS = 5
NEAR_DUPLICATE_JACCARD = 0.8


@dataclass(frozen=True)
class Match:
    """An evaluation record that duplicates a training-side record."""

    record_id: str
    training_id: str
    kind: str  # 'exact' or 'near'
    jaccard: float


def shingles(text: str) -> frozenset[str]:
    """Word 5-grams of the normalized text (the whole text when shorter)."""
    words = (normalize_text(text) or "").split()
    if len(words) <= SHINGLE_WORDS:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1))


class TrainingIndex:
    """Training-side texts indexed by shingle, to find an evaluation text's closest match fast."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = list(records)
        self.exact = {normalize_text(r.text): r.id for r in self.records}
        self.sets = [shingles(r.text) for r in self.records]
        self.postings: dict[str, list[int]] = {}
        for index, grams in enumerate(self.sets):
            for gram in grams:
                self.postings.setdefault(gram, []).append(index)

    def match(self, record: Record) -> Match | None:
        """The duplicate of `record` on the training side, if any."""
        exact = self.exact.get(normalize_text(record.text))
        if exact is not None:
            return Match(record.id, exact, "exact", 1.0)
        grams = shingles(record.text)
        shared = Counter(i for gram in grams for i in self.postings.get(gram, ()))
        best = max(((n / len(grams | self.sets[i]), i) for i, n in shared.items()), default=(0.0, -1))
        if best[0] >= NEAR_DUPLICATE_JACCARD:
            return Match(record.id, self.records[best[1]].id, "near", round(best[0], 4))
        return None


def leakage(training: Sequence[Record], evaluation: Sequence[Record]) -> list[Match]:
    """Every evaluation record that duplicates a training-side record."""
    index = TrainingIndex(training)
    return [match for match in map(index.match, evaluation) if match is not None]
