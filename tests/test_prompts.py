"""harness.task.prompts: strict templates, few-shot turns with gold answers, shot selection, template choice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.task.prompts import build_messages, gold_answer, render_user_message, resolve_template, select_shots
from harness.task.records import Record
from harness.task.specs import CandidateSpec, TaskSpec, load_task

TASKS = Path(__file__).resolve().parent.parent / "tasks"
SCHEMA_ORDER = ["parties", "agreement_date", "effective_date", "expiration_date", "renewal_term", "notice_period_days",
                "governing_law"]


@pytest.fixture
def task(tmp_path: Path) -> TaskSpec:
    shutil.copytree(TASKS / "contract_extraction", tmp_path / "tasks" / "contract_extraction")
    return load_task(tmp_path / "tasks", "contract_extraction")


def gold(**values: object) -> dict:
    """A full gold record (nulls for unstated fields), keys deliberately NOT in schema order."""
    full = {name: None for name in reversed(SCHEMA_ORDER)}
    full.update(values)
    return full


def record(record_id: str, text: str, **values: object) -> Record:
    return Record(record_id, f"doc-{record_id}", text, gold(**values), "synthetic")


def candidate(shots: int = 0, selection: str = "fixed", prompt: str = "extract_plain") -> CandidateSpec:
    return CandidateSpec("cand", "test candidate", prompt, shots=shots, shot_selection=selection)


POOL = [
    record("p0", "Apples and oranges are sold by Acme.", parties=["Acme"]),
    record("p1", "Governed by the laws of the State of Delaware.", governing_law="Delaware"),
    record("p2", "Notice of ninety days is required before renewal.", notice_period_days=90),
    record("p3", "This agreement is dated January 5, 2010.", agreement_date="2010-01-05"),
    record("p4", "Borealis Data LLC shall deliver widgets monthly.", parties=["Borealis Data LLC"]),
]


def test_template_renders_text_field_names_and_schema(task: TaskSpec) -> None:
    (task.dir / "prompts" / "probe.j2").write_text("T={{ text }}|F={{ field_names | join(',') }}|S={{ schema_json | length > 10 }}")
    rendered = render_user_message(task, "probe", "hello")
    assert rendered == f"T=hello|F={','.join(SCHEMA_ORDER)}|S=True"


def test_undefined_variable_raises_naming_the_file(task: TaskSpec) -> None:
    path = task.dir / "prompts" / "broken.j2"
    path.write_text("Extract from {{ text }} using {{ instructions }}.")
    with pytest.raises(HarnessError) as caught:
        render_user_message(task, "broken", "some contract")
    assert caught.value.where == str(path)
    assert "instructions" in caught.value.what


def test_undefined_attribute_raises_too(task: TaskSpec) -> None:
    (task.dir / "prompts" / "attr.j2").write_text("{{ text.title_case_please() }}")
    with pytest.raises(HarnessError, match="template does not render"):
        render_user_message(task, "attr", "x")


def test_missing_template_names_the_path(task: TaskSpec) -> None:
    with pytest.raises(HarnessError, match="prompt template 'nope' not found") as caught:
        render_user_message(task, "nope", "x")
    assert caught.value.where == str(task.dir / "prompts" / "nope.j2")


@pytest.mark.parametrize("name", ["extract_plain", "extract_schema", "extract_rules", "short"])
def test_real_templates_render_the_input(task: TaskSpec, name: str) -> None:
    text = "UNIQUE-INPUT-MARKER contract text"
    assert text in render_user_message(task, name, text)


def test_gold_answer_is_json_in_schema_key_order(task: TaskSpec) -> None:
    answer = gold_answer(task, gold(parties=["Acme Inc."], notice_period_days=90, governing_law="New York"))
    assert list(json.loads(answer)) == SCHEMA_ORDER
    assert answer.startswith('{"parties": ["Acme Inc."], "agreement_date": null')
    assert json.loads(answer)["notice_period_days"] == 90


def test_gold_answer_keeps_non_ascii(task: TaskSpec) -> None:
    assert '"Société Générale"' in gold_answer(task, gold(parties=["Société Générale"]))


def test_few_shot_messages_alternate_and_end_with_the_record(task: TaskSpec) -> None:
    target = record("r1", "The target contract text.")
    messages = build_messages(task, "extract_plain", target, POOL[:2])
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == render_user_message(task, "extract_plain", POOL[0].text)
    assert messages[2]["content"] == render_user_message(task, "extract_plain", POOL[1].text)
    assert messages[1]["content"] == gold_answer(task, dict(POOL[0].gold))
    assert list(json.loads(messages[1]["content"])) == SCHEMA_ORDER
    assert json.loads(messages[3]["content"])["governing_law"] == "Delaware"
    assert messages[-1] == {"role": "user", "content": render_user_message(task, "extract_plain", target.text)}


def test_zero_shot_is_one_user_turn(task: TaskSpec) -> None:
    messages = build_messages(task, "short", record("r1", "text"), [])
    assert messages == [{"role": "user", "content": render_user_message(task, "short", "text")}]


def test_no_shots_selects_nothing() -> None:
    assert select_shots(candidate(0), record("r", "x"), POOL, seed=1) == []


def test_fixed_selection_takes_the_pool_head() -> None:
    assert [r.id for r in select_shots(candidate(3, "fixed"), record("r", "x"), POOL, seed=1)] == ["p0", "p1", "p2"]


def test_random_selection_is_seeded_and_stable() -> None:
    target = record("r", "x")
    first = select_shots(candidate(3, "random"), target, POOL, seed=7)
    again = select_shots(candidate(3, "random"), target, POOL, seed=7)
    assert [r.id for r in first] == [r.id for r in again]
    assert len({r.id for r in first}) == 3 and all(r in POOL for r in first)


def test_random_selection_varies_by_record_and_seed() -> None:
    picks = {tuple(r.id for r in select_shots(candidate(2, "random"), record(f"r{i}", "x"), POOL, seed=3)) for i in range(12)}
    assert len(picks) > 1
    by_seed = {tuple(r.id for r in select_shots(candidate(2, "random"), record("r", "x"), POOL, seed=s)) for s in range(12)}
    assert len(by_seed) > 1


@pytest.mark.parametrize("text, expected", [
    ("Which state law governs: Delaware?", "p1"),
    ("A notice period of ninety days before renewal.", "p2"),
    ("Borealis Data LLC delivers widgets.", "p4"),
    ("Acme sells apples and oranges.", "p0"),
])
def test_similar_selection_picks_the_most_overlapping_record(text: str, expected: str) -> None:
    assert select_shots(candidate(1, "similar"), record("r", text), POOL, seed=0)[0].id == expected


def test_similar_selection_ranks_k_records() -> None:
    chosen = select_shots(candidate(2, "similar"), record("r", "Borealis widgets, Acme apples"), POOL, seed=0)
    assert {r.id for r in chosen} == {"p0", "p4"}


@pytest.mark.parametrize("selection", ["fixed", "random", "similar"])
def test_more_shots_than_pool_raises(selection: str) -> None:
    with pytest.raises(HarnessError, match="asks for 6 shots but the few-shot pool has 5") as caught:
        select_shots(candidate(6, selection), record("r", "x"), POOL, seed=0)
    assert caught.value.where == "candidate cand: shots"


def test_resolve_template(task: TaskSpec) -> None:
    assert resolve_template(candidate(prompt="best"), task, "extract_rules") == "extract_rules"
    assert resolve_template(candidate(prompt="adapter"), task, None) == "short"
    assert resolve_template(candidate(prompt="extract_schema"), task, "extract_rules") == "extract_schema"


def test_resolve_best_without_recorded_winner_raises(task: TaskSpec) -> None:
    with pytest.raises(HarnessError, match="no recorded best prompt") as caught:
        resolve_template(candidate(prompt="best"), task, None)
    assert "tune-prompt" in caught.value.fix
