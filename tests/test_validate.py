"""harness.data.validate over every task folder, and over broken copies of one."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from harness.data.build import build_task_data
from harness.task.records import Record, read_records, write_records
from harness.task.specs import load_task
from harness.data.validate import validate_task

TASKS = Path(__file__).resolve().parent.parent / "tasks"
TASK_DIRS = sorted(p for p in TASKS.iterdir() if (p / "task.yaml").is_file())


@pytest.mark.parametrize("task_dir", TASK_DIRS, ids=[p.name for p in TASK_DIRS])
def test_every_task_folder_is_valid(task_dir: Path) -> None:
    assert validate_task(task_dir) == []


@pytest.fixture
def task_copy(tmp_path: Path) -> Path:
    target = tmp_path / "tasks" / "contract_extraction"
    shutil.copytree(TASKS / "contract_extraction", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize("file, old, new, expected", [
    ("task.yaml", "  seed: 13\n", "  seed: 13\n  sed: 1\n", "unknown key(s) ['sed']"),
    ("schema.json", '"type": "object"', '"type": "objekt"', "not a valid JSON Schema"),
    ("schema.json", '"governing_law": {', '"law": {', "differ from task.yaml fields"),
    ("prompts/short.j2", "{{ text }}", "{{ txt }}", "does not render"),
    ("prompts/short.j2", "{{ text }}", "{{ field_names }}", "never shows the input"),
    ("task.yaml", "adapter: short", "adapter: shorter", "does not exist"),
    ("task.yaml", "recipe: cuad_extraction", "recipe: cuad_magic", "unknown recipe 'cuad_magic'"),
    ("task.yaml", "      governing_law: Governing Law\n", "", "no category for field(s) ['governing_law']"),
    ("README.md", "## Licence and attribution", "## Licensing", "missing section(s) ['licence']"),
])
def test_broken_task_folders_are_reported(task_copy: Path, file: str, old: str, new: str, expected: str) -> None:
    edit(task_copy / file, old, new)
    problems = validate_task(task_copy)
    assert any(expected in problem for problem in problems), problems


@pytest.fixture
def built(task_copy: Path, cuad_dir: Path, tmp_path: Path) -> Path:
    small = {"train": 6, "few_shot_pool": 2, "dev": 2, "test": 3}
    task = load_task(task_copy.parent, task_copy.name)
    task = dataclasses.replace(task, data=dataclasses.replace(task.data, splits=small, excerpt_tokens=120))
    build_task_data(task, tmp_path / "data", lambda text: len(text.split()), source=cuad_dir)
    assert validate_task(task_copy, tmp_path / "data") == []
    return tmp_path / "data"


def rewrite(path: Path, change) -> None:
    write_records(path, [change(record) for record in read_records(path)])


def test_invalid_gold_is_reported(task_copy: Path, built: Path) -> None:
    rewrite(built / "dev.jsonl", lambda r: Record(r.id, r.source_id, r.text, {**r.gold, "notice_period_days": "90"}, r.origin))
    assert any("gold does not validate" in p for p in validate_task(task_copy, built))


def test_shared_documents_duplicate_ids_and_edits_are_reported(task_copy: Path, built: Path) -> None:
    train = read_records(built / "train.jsonl")
    write_records(built / "test.jsonl", read_records(built / "test.jsonl") + [train[0]])
    problems = validate_task(task_copy, built)
    assert any("share source documents" in p for p in problems)
    assert any("ids not unique" in p for p in problems)
    assert any("0.250 of records duplicate training-side text" in p for p in problems)
    assert any("differs from the hash in data_card.json" in p for p in problems)


def test_missing_split_file_is_reported(task_copy: Path, built: Path) -> None:
    (built / "few_shot_pool.jsonl").unlink()
    assert any("few_shot_pool.jsonl" in p and "not found" in p for p in validate_task(task_copy, built))


def test_card_hashes_are_checked(task_copy: Path, built: Path) -> None:
    card = json.loads((built / "data_card.json").read_text())
    card["hashes"]["dev"] = "0" * 64
    (built / "data_card.json").write_text(json.dumps(card))
    assert validate_task(task_copy, built) == [f"{built / 'dev.jsonl'}: content differs from the hash in data_card.json (edited after the build?)"]
