"""Building task data: tiny CUAD-layout fixtures, the synthetic source, and one real CUAD build."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conftest import write_cuad
from harness.data import build as build_module
from harness.data.build import build_task_data
from harness.data.splits import SPLITS
from harness.errors import HarnessError
from harness.task.records import read_records
from harness.task.specs import TaskSpec, load_task
from harness.data.validate import validate_task

TASKS = Path(__file__).resolve().parent.parent / "tasks"
REAL_CUAD = TASKS.parent.parent / "shared" / "data" / "cuad"
SMALL = {"train": 8, "few_shot_pool": 2, "dev": 3, "test": 4}


def words(text: str) -> int:
    return len(text.split())


def small_task(task_id: str = "contract_extraction", **data: object) -> TaskSpec:
    task = load_task(TASKS, task_id)
    values = {"splits": SMALL, "excerpt_tokens": 120, **data}
    return dataclasses.replace(task, data=dataclasses.replace(task.data, **values))


def test_build_writes_disjoint_valid_splits(cuad_dir: Path, tmp_path: Path) -> None:
    built = build_task_data(small_task(), tmp_path / "out", words, source=cuad_dir)
    assert {name: len(built.splits[name]) for name in SPLITS} == SMALL
    documents = {name: {r.source_id for r in built.splits[name]} for name in SPLITS}
    assert not (documents["train"] | documents["few_shot_pool"]) & (documents["dev"] | documents["test"])
    validator = Draft202012Validator(small_task().schema)
    for name in SPLITS:
        assert read_records(tmp_path / "out" / f"{name}.jsonl") == list(built.splits[name])
        assert all(validator.is_valid(dict(r.gold)) and words(r.text) <= 120 for r in built.splits[name])
    assert built.origins["test"] == {"folder:cuad": 4}
    assert validate_task(TASKS / "contract_extraction", tmp_path / "out") == []


def test_gold_holds_only_values_stated_in_the_excerpt(cuad_dir: Path, tmp_path: Path) -> None:
    built = build_task_data(small_task(), tmp_path / "out", words, source=cuad_dir)
    records = [r for name in SPLITS for r in built.splits[name]]
    for record in records:
        gold = record.gold
        assert (gold["governing_law"] is not None) == ("governed by the laws" in record.text)
        assert gold["expiration_date"] is None or "ends on December 31" in record.text
        assert gold["notice_period_days"] in (None, 90)
        assert all(name in record.text for name in gold["parties"] or [])
    assert any(all(v is None for k, v in r.gold.items() if k != "parties") for r in records)


def test_perpetual_expiration_is_flagged_and_counted(cuad_dir: Path, tmp_path: Path) -> None:
    card = build_task_data(small_task(), tmp_path / "out", words, source=cuad_dir).card
    assert card["flagged_answers"]["expiration_date: not a date value"]["count"] == 8
    assert "perpetual" in card["flagged_answers"]["expiration_date: not a date value"]["examples"]
    assert card["dropped_excerpts"]["expiration_date: not a date value"] > 0
    markdown = (tmp_path / "out" / "data_card.md").read_text(encoding="utf-8")
    assert "expiration_date: not a date value: 8" in markdown and "REAL" in markdown


def test_same_inputs_give_byte_identical_files(cuad_dir: Path, tmp_path: Path) -> None:
    for out in ("a", "b"):
        build_task_data(small_task(), tmp_path / out, words, source=cuad_dir)
    for name in [*(f"{s}.jsonl" for s in SPLITS), "data_card.json", "data_card.md"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = build_task_data(small_task(seed=14), tmp_path / "c", words, source=cuad_dir)
    assert other.hashes != json.loads((tmp_path / "a" / "data_card.json").read_text())["hashes"]


def test_test_split_from_another_folder(cuad_dir: Path, tmp_path: Path) -> None:
    held = write_cuad(tmp_path / "held", range(30, 36), prefix="HELD")
    built = build_task_data(small_task(), tmp_path / "out", words, source=cuad_dir, test_from=held)
    assert {r.source_id.split("_")[0] for r in built.splits["test"]} == {"HELD"}
    assert built.origins["test"] == {"folder:held": 4}
    assert all(r.source_id.startswith("CONTRACT") for name in ("train", "dev") for r in built.splits[name])
    assert built.card["sources"]["test_from"] == str(held)


def test_missing_folder_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as error:
        build_task_data(small_task(), tmp_path / "out", words, source=tmp_path / "nowhere")
    assert "--synthetic" in error.value.one_line() and "nowhere" in error.value.one_line()


def test_synthetic_source_is_labelled_everywhere(tmp_path: Path) -> None:
    built = build_task_data(small_task(excerpt_tokens=320), tmp_path / "out", words, synthetic=True)
    assert all(built.origins[name] == {"synthetic": SMALL[name]} for name in SPLITS)
    assert not any(s["real"] for s in built.card["splits"].values())
    assert "SYNTHETIC" in (tmp_path / "out" / "data_card.md").read_text(encoding="utf-8")
    assert validate_task(TASKS / "contract_extraction", tmp_path / "out") == []


def test_synthetic_mix_adds_labelled_train_records_only(cuad_dir: Path, tmp_path: Path) -> None:
    built = build_task_data(small_task(synthetic_mix=0.5), tmp_path / "out", words, source=cuad_dir)
    assert built.origins["train"] == {"folder:cuad": 8, "synthetic": 4}
    assert all("synthetic" not in built.origins[name] for name in ("few_shot_pool", "dev", "test"))
    assert "train: contains 4 SYNTHETIC records" in built.card["warnings"]


def test_clause_type_builds_from_the_same_layout(cuad_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task = small_task("clause_type", splits={"train": 6, "few_shot_pool": 2, "dev": 2, "test": 2})
    task = dataclasses.replace(task, data=dataclasses.replace(task.data, options={"categories": ["Insurance", "Audit Rights"]}))
    task = dataclasses.replace(task, schema={**task.schema, "properties": {"category": {"enum": ["Insurance", "Audit Rights"]}}})
    with pytest.raises(HarnessError, match=r"too few usable records: \{'dev': '0 of 2', 'test': '0 of 2'\}"):
        build_task_data(task, tmp_path / "refused", words, source=cuad_dir)  # every dev/test clause duplicates a training one
    assert not (tmp_path / "refused").exists()
    monkeypatch.setattr(build_module, "check_shortfall", lambda task, records: None)
    built = build_task_data(task, tmp_path / "out", words, source=cuad_dir)
    assert {r.gold["category"] for r in built.splits["train"]} == {"Insurance", "Audit Rights"}
    assert built.card["filtered_records"]["test"]  # identical boilerplate clauses: test duplicates dropped
    with pytest.raises(HarnessError, match="synthetic generator"):
        build_task_data(task, tmp_path / "syn", words, synthetic=True)


@pytest.mark.skipif(not REAL_CUAD.is_dir(), reason="the CUAD v1 release is not at shared/data/cuad")
@pytest.mark.parametrize("task_id", ["contract_extraction", "clause_type"])
def test_real_cuad_build_at_default_sizes(task_id: str, tmp_path: Path) -> None:
    task = load_task(TASKS, task_id)
    built = build_task_data(task, tmp_path / "a", words)
    assert {name: len(built.splits[name]) for name in SPLITS} == dict(task.data.splits)
    assert all(s["real"] for s in built.card["splits"].values())
    assert validate_task(TASKS / task_id, tmp_path / "a") == []
    if task_id == "contract_extraction":
        presence = built.card["splits"]["test"]["field_presence"]
        assert all(rate > 0 for rate in presence.values())
        build_task_data(task, tmp_path / "b", words)
        assert (tmp_path / "a" / "test.jsonl").read_bytes() == (tmp_path / "b" / "test.jsonl").read_bytes()
        assert (tmp_path / "a" / "data_card.json").read_bytes() == (tmp_path / "b" / "data_card.json").read_bytes()
