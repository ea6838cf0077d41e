"""Splits by document, stratified selection, leakage, excerpts, noise filter, synthetic generator."""

from __future__ import annotations

import random
from pathlib import Path

from harness.data.excerpts import Sentences, excerpt_text, grow
from harness.data.filtering import filter_candidates
from harness.data.harvest import Candidate
from harness.data.leakage import leakage
from harness.data.splits import assign_documents, select, shares
from harness.data.synthetic import synthetic_harvest
from harness.task.records import Record
from harness.task.specs import load_task

TASKS = Path(__file__).resolve().parent.parent / "tasks"


def record(rid: str, source: str, text: str = "x", gold: dict | None = None) -> Record:
    return Record(rid, source, text, gold or {}, "cuad")


def test_shares_use_largest_remainder() -> None:
    assert shares(10, {"a": 0.2, "b": 0.4, "c": 0.4}) == {"a": 2, "b": 4, "c": 4}
    assert shares(7, {"a": 1, "b": 1}) == {"a": 4, "b": 3}
    assert shares(0, {"a": 1}) == {"a": 0}


def test_documents_are_dealt_once_in_proportion_and_by_seed() -> None:
    ids = [f"doc{i:03d}" for i in range(100)]
    sizes = {"train": 160, "few_shot_pool": 16, "dev": 24, "test": 40}
    dealt = assign_documents(ids, sizes, seed=13)
    assert sorted(i for group in dealt.values() for i in group) == ids
    assert {k: len(v) for k, v in dealt.items()} == {"train": 67, "few_shot_pool": 7, "dev": 10, "test": 16}
    assert dealt == assign_documents(list(reversed(ids)), sizes, seed=13)
    assert dealt != assign_documents(ids, sizes, seed=14)
    assert all(len(v) == 1 for v in assign_documents(ids[:4], sizes, seed=1).values())


def test_select_fills_strata_round_robin_across_documents() -> None:
    candidates = [Candidate(record(f"d{d}-{k}", f"d{d}"), "absent" if k == 0 else "present") for d in range(5) for k in range(3)]
    chosen = select(candidates, 5, {"absent": 0.2, "present": 0.8}, seed=1, split="dev")
    assert len(chosen) == 5 and chosen == sorted(chosen, key=lambda r: r.id)
    assert sum(r.id.endswith("-0") for r in chosen) == 1
    assert len({r.source_id for r in chosen}) >= 4
    few = select(candidates[:3], 5, {"absent": 0.5, "present": 0.5}, seed=1, split="dev")
    assert len(few) == 3


def test_leakage_finds_exact_and_near_duplicates() -> None:
    base = "the licensee shall pay the licensor a royalty of five percent of net sales every quarter without set off"
    training = [record("t1", "a", base)]
    evaluation = [record("e1", "b", base.upper() + "  "), record("e2", "c", base + " again"), record("e3", "d", "something else entirely here")]
    matches = leakage(training, evaluation)
    assert [(m.record_id, m.kind) for m in matches] == [("e1", "exact"), ("e2", "near")]


def test_excerpts_grow_on_sentence_boundaries_within_budget() -> None:
    text = "Intro one two. " + " ".join(f"Sentence {i} has five words." for i in range(20)) + "\nTail line"
    sentences = Sentences(text, lambda s: len(s.split()))
    anchor = (text.index("Sentence 10"), text.index("Sentence 10") + 5)
    window = grow(sentences, anchor, 23, random.Random(0))
    piece = excerpt_text(text, window)
    assert "Sentence 10 has five words." in piece and len(piece.split()) <= 23
    assert piece.startswith("Sentence") and piece.endswith("words.")
    assert grow(sentences, anchor, 3, random.Random(0)) is None


def test_noise_filter_drops_invalid_and_unstated_gold() -> None:
    task = load_task(TASKS, "contract_extraction")
    empty = dict.fromkeys(task.fields)
    good = Candidate(record("a", "a", "governed by the laws of Texas", {**empty, "governing_law": "Texas"}), "present")
    unstated = Candidate(record("b", "b", "governed by the laws of Texas", {**empty, "governing_law": "Ohio"}), "present")
    invalid = Candidate(record("c", "c", "x", {**empty, "notice_period_days": "ninety"}), "present")
    kept, dropped = filter_candidates([good, unstated, invalid], task.schema, task.fields)
    assert kept == [good]
    assert dropped == {"governing_law: value not stated in the text": 1, "gold does not validate at notice_period_days: type": 1}


def test_synthetic_generator_is_deterministic_varied_and_labelled() -> None:
    task = load_task(TASKS, "contract_extraction")
    words = lambda s: len(s.split())  # noqa: E731
    first = synthetic_harvest(task, "train", 60, words)
    assert first.candidates == synthetic_harvest(task, "train", 60, words).candidates
    records = [c.record for c in first.candidates]
    assert all(r.origin == "synthetic" and words(r.text) <= task.data.excerpt_tokens for r in records)
    assert {c.stratum for c in first.candidates} >= {"absent", "present:governing_law", "present:notice_period_days"}
    assert len({r.gold["agreement_date"] for r in records if r.gold["agreement_date"]}) > 5
    kept, _ = filter_candidates(first.candidates, task.schema, task.fields)
    assert len(kept) >= 50
