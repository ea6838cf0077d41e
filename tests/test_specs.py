"""harness.task.specs: strict loading of task.yaml and candidate YAML, on temporary copies and the real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.task.specs import CandidateSpec, DecodingSpec, GateSpec, TaskSpec, load_candidate, load_task, tuned_candidate

ROOT = Path(__file__).resolve().parent.parent
TASKS = ROOT / "tasks"
CANDIDATES = ROOT / "candidates"
TASK_IDS = sorted(p.name for p in TASKS.iterdir() if (p / "task.yaml").is_file())
CANDIDATE_IDS = sorted(p.stem for p in CANDIDATES.glob("*.yaml"))


@pytest.fixture
def tasks_root(tmp_path: Path) -> Path:
    root = tmp_path / "tasks"
    shutil.copytree(TASKS / "contract_extraction", root / "contract_extraction")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def write_candidate(root: Path, name: str, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD_CANDIDATE = "description: d\nprompt: best\nshots: 0\nadapter: false\ndecoding: {temperature: 0.0, max_tokens: 64}\n"


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_every_real_task_loads(task_id: str) -> None:
    task = load_task(TASKS, task_id)
    assert isinstance(task, TaskSpec)
    assert task.id == task_id
    assert task.fields and set(task.fields) <= set(task.schema["properties"])


@pytest.mark.parametrize("candidate_id", CANDIDATE_IDS)
def test_every_real_candidate_loads(candidate_id: str) -> None:
    candidate = load_candidate(CANDIDATES, candidate_id)
    assert isinstance(candidate, CandidateSpec)
    assert candidate.id == candidate_id


def test_real_values_are_typed() -> None:
    task = load_task(TASKS, "contract_extraction")
    assert task.fields["parties"] == "party_set"
    assert task.prompts.variants == ("extract_plain", "extract_schema", "extract_rules")
    assert task.gate.min_effect == 0.05 and task.train.rank == 16
    few_shot = load_candidate(CANDIDATES, "few_shot")
    assert (few_shot.shots, few_shot.shot_selection, few_shot.decoding.max_tokens) == (3, "similar", 200)
    assert load_candidate(CANDIDATES, "guided_json").decoding.guided_json is True
    assert load_candidate(CANDIDATES, "lora_short").adapter is True


@pytest.mark.parametrize("old, new, key_path", [
    ("description:", "descripton: typo\ndescription:", "descripton"),
    ("  seed: 13\n", "  seed: 13\n  sed: 1\n", "sed"),
    ("  alpha: 0.05\n", "  alpha: 0.05\n  alfa: 0.1\n", "alfa"),
    ("  rank: 16\n", "  rank: 16\n  rnak: 8\n", "rnak"),
    ("  adapter: short", "  adapter: short\n  extra: x", "extra"),
])
def test_unknown_task_key_names_file_and_key(tasks_root: Path, old: str, new: str, key_path: str) -> None:
    edit(tasks_root / "contract_extraction" / "task.yaml", old, new)
    with pytest.raises(HarnessError) as caught:
        load_task(tasks_root, "contract_extraction")
    message = str(caught.value)
    assert "task.yaml" in message
    assert f"unknown key(s) ['{key_path}']" in message


@pytest.mark.parametrize("old, new, section", [
    ("  seed: 13\n", "  seed: 13\n  sed: 1\n", "data"),
    ("  alpha: 0.05\n", "  alpha: 0.05\n  alfa: 0.1\n", "gate"),
])
def test_nested_unknown_key_names_its_section(tasks_root: Path, old: str, new: str, section: str) -> None:
    path = tasks_root / "contract_extraction" / "task.yaml"
    edit(path, old, new)
    with pytest.raises(HarnessError) as caught:
        load_task(tasks_root, "contract_extraction")
    assert str(path) in caught.value.where
    assert section in caught.value.where


def test_nested_error_uses_file_colon_field_form(tasks_root: Path) -> None:
    path = tasks_root / "contract_extraction" / "task.yaml"
    edit(path, "  min_effect: 0.05\n", "  min_effect: lots\n")
    with pytest.raises(HarnessError) as caught:
        load_task(tasks_root, "contract_extraction")
    assert str(caught.value).startswith(f"{path}: gate.min_effect")


@pytest.mark.parametrize("old, new, where_suffix, expected", [
    ("  min_effect: 0.05", "  min_effect: lots", "gate.min_effect", "expected float, got 'lots'"),
    ("  min_effect_on: ci_low", "  min_effect_on: lower", "gate.min_effect_on", "expected one of ['point', 'ci_low'], got 'lower'"),
    ("  min_records: 20", "  min_records: many", "gate.min_records", "expected int, got 'many'"),
    ("  rank: 16", "  rank: sixteen", "train.rank", "expected int, got 'sixteen'"),
    ("  rank: 16", "  rank: true", "train.rank", "expected int, got True"),
    ("  seed: 13", "  seed: 1.5", "data.seed", "expected int, got 1.5"),
    ("splits: {train: 64,", "splits: {train: many,", "data.splits.train", "expected int, got 'many'"),
    ("  variants: [extract_plain, extract_schema, extract_rules]", "  variants: extract_plain", "prompts.variants",
     "expected a list, got 'extract_plain'"),
    ("  parties: party_set", "  parties: [party_set]", "fields.parties", "expected str"),
])
def test_wrong_task_type_names_file_and_field(tasks_root: Path, old: str, new: str, where_suffix: str, expected: str) -> None:
    edit(tasks_root / "contract_extraction" / "task.yaml", old, new)
    with pytest.raises(HarnessError) as caught:
        load_task(tasks_root, "contract_extraction")
    assert "task.yaml" in caught.value.where
    assert caught.value.where.endswith(where_suffix)
    assert expected in caught.value.what


@pytest.mark.parametrize("task_id", ["contract_extraction", "clause_type"])
def test_shipped_gate_sections_state_the_defaults(task_id: str) -> None:
    assert load_task(Path(__file__).resolve().parent.parent / "tasks", task_id).gate == GateSpec()


def test_int_is_accepted_for_a_float_field(tasks_root: Path) -> None:
    edit(tasks_root / "contract_extraction" / "task.yaml", "  min_effect: 0.05", "  min_effect: 1")
    gate = load_task(tasks_root, "contract_extraction").gate
    assert gate.min_effect == 1.0 and isinstance(gate.min_effect, float)


def test_unknown_field_kind(tasks_root: Path) -> None:
    edit(tasks_root / "contract_extraction" / "task.yaml", "  governing_law: jurisdiction", "  governing_law: country")
    with pytest.raises(HarnessError) as caught:
        load_task(tasks_root, "contract_extraction")
    message = str(caught.value)
    assert "task.yaml: fields" in message
    assert "governing_law" in message and "country" in message
    assert "jurisdiction" in message  # the fix lists the known kinds


def test_missing_schema_file(tasks_root: Path) -> None:
    (tasks_root / "contract_extraction" / "schema.json").unlink()
    with pytest.raises(HarnessError, match="cannot read the schema") as caught:
        load_task(tasks_root, "contract_extraction")
    assert caught.value.where.endswith("schema.json")


def test_missing_required_section(tasks_root: Path) -> None:
    path = tasks_root / "contract_extraction" / "task.yaml"
    path.write_text("description: d\nschema: schema.json\nfields: {parties: party_set}\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="missing required key") as caught:
        load_task(tasks_root, "contract_extraction")
    assert "task.yaml" in caught.value.where


def test_invalid_yaml_names_the_file_and_line(tasks_root: Path) -> None:
    path = tasks_root / "contract_extraction" / "task.yaml"
    path.write_text("description: [unclosed\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="not valid YAML") as caught:
        load_task(tasks_root, "contract_extraction")
    assert caught.value.where == f"{path}:2"
    assert "\n" not in caught.value.one_line() and "^" not in caught.value.one_line()


def test_unknown_task_lists_known_tasks(tasks_root: Path) -> None:
    shutil.copytree(tasks_root / "contract_extraction", tasks_root / "second_task")
    (tasks_root / "not_a_task").mkdir()
    with pytest.raises(HarnessError) as caught:
        load_task(tasks_root, "contract_extration")
    assert "unknown task 'contract_extration'" in caught.value.what
    assert caught.value.fix == "known tasks: contract_extraction, second_task"


def test_unknown_task_under_missing_root(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as caught:
        load_task(tmp_path / "nowhere", "contract_extraction")
    assert caught.value.fix == "known tasks: none"


def test_candidate_loads_with_defaults(tmp_path: Path) -> None:
    write_candidate(tmp_path, "mine", "description: d\nprompt: extract_plain\n")
    candidate = load_candidate(tmp_path, "mine")
    assert candidate == CandidateSpec("mine", "d", "extract_plain")
    assert candidate.decoding.stop == ()


def test_candidate_stop_list_becomes_tuple(tmp_path: Path) -> None:
    write_candidate(tmp_path, "mine", GOOD_CANDIDATE.replace("max_tokens: 64", "max_tokens: 64, stop: ['}', 'END']"))
    assert load_candidate(tmp_path, "mine").decoding.stop == ("}", "END")


@pytest.mark.parametrize("body, where_suffix, what", [
    (GOOD_CANDIDATE + "shot: 3\n", "mine.yaml", "unknown key(s) ['shot']"),
    (GOOD_CANDIDATE.replace("max_tokens: 64", "max_tokens: 64, top_p: 0.9"), "decoding", "unknown key(s) ['top_p']"),
    (GOOD_CANDIDATE.replace("shots: 0", 'shots: "three"'), "shots", "expected int, got 'three'"),
    (GOOD_CANDIDATE.replace("adapter: false", "adapter: 1"), "adapter", "expected bool, got 1"),
    (GOOD_CANDIDATE.replace("temperature: 0.0", "temperature: hot"), "decoding.temperature", "expected float"),
    (GOOD_CANDIDATE.replace("decoding: {temperature: 0.0, max_tokens: 64}", "decoding: greedy"), "decoding",
     "expected a mapping"),
    ("- a list\n", "mine.yaml", "expected a mapping, got list"),
])
def test_bad_candidate_names_file_and_key(tmp_path: Path, body: str, where_suffix: str, what: str) -> None:
    write_candidate(tmp_path, "mine", body)
    with pytest.raises(HarnessError) as caught:
        load_candidate(tmp_path, "mine")
    assert caught.value.where.endswith(where_suffix)
    assert str(tmp_path / "mine.yaml") in caught.value.where
    assert what in caught.value.what


def test_unknown_shot_selection(tmp_path: Path) -> None:
    write_candidate(tmp_path, "mine", GOOD_CANDIDATE + "shot_selection: best\n")
    with pytest.raises(HarnessError, match="unknown shot_selection 'best'") as caught:
        load_candidate(tmp_path, "mine")
    assert caught.value.where == f"{tmp_path / 'mine.yaml'}: shot_selection"


def test_negative_shots_is_rejected(tmp_path: Path) -> None:
    write_candidate(tmp_path, "mine", GOOD_CANDIDATE.replace("shots: 0", "shots: -1"))
    with pytest.raises(HarnessError):
        load_candidate(tmp_path, "mine")


def test_unknown_candidate_lists_known_ones(tmp_path: Path) -> None:
    write_candidate(tmp_path, "alpha", GOOD_CANDIDATE)
    write_candidate(tmp_path, "beta", GOOD_CANDIDATE)
    with pytest.raises(HarnessError) as caught:
        load_candidate(tmp_path, "gamma")
    assert "unknown candidate 'gamma'" in caught.value.what
    assert caught.value.fix == "known candidates: alpha, beta"


def test_real_unknown_candidate_lists_real_ones() -> None:
    with pytest.raises(HarnessError) as caught:
        load_candidate(CANDIDATES, "nope")
    for candidate_id in CANDIDATE_IDS:
        assert candidate_id in caught.value.fix


def test_the_prompt_search_uses_the_first_zero_shot_unguided_best_recipe_and_never_invents_one() -> None:
    guided = CandidateSpec("guided", "", "best", decoding=DecodingSpec(guided_json=True))
    few = CandidateSpec("few", "", "best", shots=3)
    plain = CandidateSpec("plain", "", "best", decoding=DecodingSpec(max_tokens=64))
    assert tuned_candidate([guided, few, plain, CandidateSpec("other", "", "best")]) is plain
    with pytest.raises(HarnessError, match="no candidate to search the zero-shot prompt with among guided, few"):
        tuned_candidate([guided, few])
