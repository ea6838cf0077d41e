"""Edge-case slices: each perturbation step on a known record, gold that follows from it, and slices
derived the same way on every run (harness.data.perturb, harness.data.slices)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from harness.data.perturb import Context, drop_field_sentences, insert_lines, ocr_noise, page_furniture, rewrap, surround, upper_case
from harness.data.slices import derive_slices, slice_split
from harness.errors import HarnessError
from harness.task.records import Record
from harness.task.specs import load_task
from harness.data.validate import validate_task

ROOT = Path(__file__).resolve().parents[1]
TASK = load_task(ROOT / "tasks", "contract_extraction")
TEXT = ("This Services Agreement is entered into as of March 3, 2015 by Northwind Traders LLC and Contoso Ltd. "
        "Either party may terminate it on thirty (30) days written notice. "
        "This Agreement shall be governed by the laws of the State of New York. "
        "The parties shall cooperate in good faith.")
GOLD = {"parties": ["Northwind Traders LLC", "Contoso Ltd."], "agreement_date": "2015-03-03", "effective_date": None,
        "expiration_date": None, "renewal_term": None, "notice_period_days": 30, "governing_law": "New York"}
RECORD = Record("r1", "doc1", TEXT, GOLD, "cuad")


def context(seed: int = 0) -> Context:
    return Context(TASK.dir, TASK.fields, random.Random(seed))


def test_ocr_noise_changes_plain_words_and_leaves_digits_and_gold_values() -> None:
    text, gold = ocr_noise(TEXT, dict(GOLD), context(), rate=1.0)
    assert gold == GOLD and text != TEXT
    for kept in ("Northwind Traders LLC", "Contoso Ltd.", "March 3, 2015", "thirty (30) days", "New York"):
        assert kept in text, kept
    assert "Agrccrncnt" in text and "Services" not in text  # e -> c, m -> rn, S -> 5, as OCR misreads them


def test_layout_steps_keep_every_word_and_the_gold() -> None:
    wrapped, gold = rewrap(TEXT, dict(GOLD), context(), width=40)
    assert gold == GOLD and max(map(len, wrapped.splitlines())) <= 40 and wrapped.split() == TEXT.split()
    paged, _ = page_furniture(wrapped, dict(GOLD), context(), every_lines=2, header="CONFIDENTIAL", footer="Page {page}")
    lines = paged.splitlines()
    assert lines.count("CONFIDENTIAL") == -(-len(wrapped.splitlines()) // 2) and lines[0] == "CONFIDENTIAL"
    assert [line for line in lines if line != "CONFIDENTIAL" and not line.startswith("Page ")] == wrapped.splitlines()
    assert upper_case(TEXT, dict(GOLD), context()) == (TEXT.upper(), GOLD)


def test_context_and_injection_steps_add_text_and_keep_the_gold() -> None:
    surrounded, gold = surround(TEXT, dict(GOLD), context(), before="slices/boilerplate_before.txt", after="slices/boilerplate_after.txt")
    assert gold == GOLD and surrounded.startswith("TABLE OF CONTENTS") and TEXT in surrounded and surrounded.endswith("[Signature page follows]")
    injected, gold = insert_lines(TEXT, dict(GOLD), context(), file="slices/injection.txt")
    before, after = injected.split("\n\nSYSTEM NOTE TO THE ASSISTANT")
    assert gold == GOLD and before.endswith("written notice.") and after.rstrip().endswith("good faith.")
    with pytest.raises(HarnessError, match="no file '../task.yaml' inside the task folder"):
        insert_lines(TEXT, dict(GOLD), context(), file="../task.yaml")


def test_dropping_a_field_removes_the_sentences_stating_it_and_nulls_its_gold() -> None:
    text, gold = drop_field_sentences(TEXT, dict(GOLD), context(), fields=("governing_law", "notice_period_days"))
    assert "governed" not in text and "thirty (30) days" in text
    assert gold == {**GOLD, "governing_law": None}
    text, gold = drop_field_sentences(TEXT, dict(GOLD), context(), fields=("expiration_date", "notice_period_days"))
    assert "notice" not in text and gold == {**GOLD, "notice_period_days": None}  # the first listed field the text states


def test_a_field_whose_sentence_states_another_value_is_not_dropped() -> None:
    together = "This Agreement, dated March 3, 2015, shall be governed by the laws of New York. It binds Contoso Ltd."
    gold = {**GOLD, "parties": ["Contoso Ltd."], "notice_period_days": None}
    assert drop_field_sentences(together, gold, context(), fields=("governing_law",)) is None
    with pytest.raises(TypeError, match="not scalar fields"):
        drop_field_sentences(TEXT, dict(GOLD), context(), fields=("parties",))


def test_slices_are_the_same_on_every_run_and_a_variant_does_not_depend_on_other_records() -> None:
    other = Record("r0", "doc0", "The parties shall cooperate in good faith. Nothing else is agreed.", {k: None for k in GOLD}, "cuad")
    first, again, alone = derive_slices(TASK, [other, RECORD], 2), derive_slices(TASK, [other, RECORD], 2), derive_slices(TASK, [RECORD], 2)
    assert first == again and set(first) == {slice_split(name) for name in TASK.slices.define}
    assert first[slice_split("noisy_text")][1] == alone[slice_split("noisy_text")][0]
    assert [r.id for r in first[slice_split("missing_fields")]] == ["r1~missing_fields"]  # nothing to drop in r0
    assert derive_slices(TASK, [RECORD], 0) == {}


def test_validate_names_a_slice_step_that_cannot_run(tmp_path: Path) -> None:
    folder = tmp_path / "contract_extraction"
    shutil.copytree(TASK.dir, folder)
    spec = folder / "task.yaml"
    spec.write_text(spec.read_text().replace("{step: rewrap, width: 52}", "{step: rewrap, widht: 52}")
                    .replace("file: slices/injection.txt", "file: slices/absent.txt"))
    problems = validate_task(folder)
    assert any("slices.define.noisy_text[1]: bad parameters for step 'rewrap'" in p and "widht" in p for p in problems), problems
    assert any("no file 'slices/absent.txt' inside the task folder" in p for p in problems), problems
