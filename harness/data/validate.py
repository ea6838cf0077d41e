"""`harness validate <task>`: everything that must hold for a task folder to be usable.

Checks, each reported as one line naming the file and field: task.yaml parses with no unknown
keys; schema.json is a valid JSON Schema whose properties are exactly the task's fields; the data
recipe exists and accepts its options; every prompt template named in task.yaml exists and
renders with StrictUndefined from exactly `text`, `field_names` and `schema_json`, and uses
`text`; the README (task card) has its required sections; every edge-case slice names known steps
with parameters they accept and files inside the task folder. Given a built data folder it also
checks: every gold record validates and normalizes by field kind, ids are unique, train and
few-shot records share no source document with dev or test, leakage stays within the task's
threshold, the card's hashes match the files, and the gold of every slice variant of the test
records validates too. This module reports; it fixes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from harness.data.leakage import leakage
from harness.data.slices import apply_steps, derive_slices
from harness.data.recipes import RECIPES
from harness.data.splits import SPLITS
from harness.errors import HarnessError
from harness.task.normalize import NORMALIZERS
from harness.task.records import Record, read_records, records_hash
from harness.task.specs import TaskSpec, load_task

TEMPLATE_PROBE = "<<the record's input text>>"
CARD_SECTIONS = ("source", "licence", "what counts as correct", "known label caveats")


def validate_task(task_dir: Path, data_dir: Path | None = None) -> list[str]:
    """Every problem with the task folder (and its built data, when given); empty means valid."""
    try:
        task = load_task(task_dir.parent, task_dir.name)
    except HarnessError as exc:
        return [exc.one_line()]
    return spec_problems(task) + (data_problems(task, data_dir) if data_dir is not None else [])


def spec_problems(task: TaskSpec) -> list[str]:
    """The checks that need no built data: schema, recipe, templates, card."""
    return schema_problems(task) + recipe_problems(task) + template_problems(task) + card_problems(task) + slice_problems(task)


def slice_problems(task: TaskSpec) -> list[str]:
    """Each slice's steps run once on a probe record: unknown steps, bad parameters and missing files show here."""
    probe = Record("probe", "probe", "This Agreement is made between the parties. It continues for one year.",
                   {name: None for name in task.fields}, "probe")
    problems = []
    for name, steps in task.slices.define.items():
        try:
            apply_steps(task, name, steps, probe)
        except HarnessError as exc:
            problems.append(exc.one_line())
    return problems


def slice_data_problems(task: TaskSpec, data_dir: Path, test: list[Record]) -> list[str]:
    """Every slice variant of the test records has gold that validates (a slice its steps make nothing of is
    not a problem of the task: the run records it with a note)."""
    if slice_problems(task):
        return []  # reported by the spec checks; no variant can be made
    return [p for variants in derive_slices(task, test, len(test)).values() for r in variants
            for p in gold_problems(task, data_dir / "test.jsonl", r)]


def schema_problems(task: TaskSpec) -> list[str]:
    where = f"{task.dir / 'schema.json'}"
    try:
        Draft202012Validator.check_schema(task.schema)
    except SchemaError as exc:
        return [f"{where}: not a valid JSON Schema: {exc.message}"]
    properties = set(task.schema.get("properties", {}))
    if properties != set(task.fields):
        return [f"{where}: properties {sorted(properties)} differ from task.yaml fields {sorted(task.fields)}"]
    return []


def recipe_problems(task: TaskSpec) -> list[str]:
    where = f"{task.dir / 'task.yaml'}"
    if task.data.recipe not in RECIPES:
        return [f"{where}: data.recipe: unknown recipe '{task.data.recipe}' (use one of {sorted(RECIPES)})"]
    return [f"{where}: {problem}" for problem in RECIPES[task.data.recipe].check(task)]


def render_variables(task: TaskSpec, text: str) -> dict[str, Any]:
    """Exactly the variables a prompt template may use."""
    return {"text": text, "field_names": list(task.fields), "schema_json": json.dumps(task.schema, indent=2)}


def template_problems(task: TaskSpec, names: tuple[str, ...] = ()) -> list[str]:
    """Templates (the task's, or `names`) that are missing, fail to render strictly, or never show the input."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(task.dir / "prompts"),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    problems = []
    for name in dict.fromkeys(names or [*task.prompts.variants, task.prompts.adapter]):
        where = f"{task.dir / 'prompts' / (name + '.j2')}"
        try:
            rendered = environment.get_template(f"{name}.j2").render(**render_variables(task, TEMPLATE_PROBE))
        except jinja2.TemplateNotFound:
            problems.append(f"{where}: template named in task.yaml prompts does not exist")
            continue
        except jinja2.TemplateError as exc:
            problems.append(f"{where}: does not render: {exc}")
            continue
        if TEMPLATE_PROBE not in rendered:
            problems.append(f"{where}: never shows the input (use {{{{ text }}}})")
    return problems


def card_problems(task: TaskSpec) -> list[str]:
    readme = task.dir / "README.md"
    if not readme.is_file():
        return [f"{readme}: the task card is missing"]
    headings = {line.lstrip("#").strip().casefold() for line in readme.read_text(encoding="utf-8").splitlines() if line.startswith("#")}
    missing = [s for s in CARD_SECTIONS if not any(h.startswith(s) for h in headings)]
    return [f"{readme}: missing section(s) {missing} (headings starting with these words)"] if missing else []


def data_problems(task: TaskSpec, data_dir: Path) -> list[str]:
    """Checks of built records: gold, ids, documents, leakage, hashes."""
    try:
        splits = {name: read_records(data_dir / f"{name}.jsonl") for name in SPLITS}
    except HarnessError as exc:
        return [exc.one_line()]
    problems = [p for name, records in splits.items() for r in records for p in gold_problems(task, data_dir / f"{name}.jsonl", r)]
    ids = [r.id for records in splits.values() for r in records]
    duplicated = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    problems += [f"{data_dir}: record ids not unique: {duplicated[:5]}"] if duplicated else []
    training = splits["train"] + splits["few_shot_pool"]
    shared = {r.source_id for r in training} & {r.source_id for name in ("dev", "test") for r in splits[name]}
    problems += [f"{data_dir}: train/few-shot and dev/test share source documents {sorted(shared)[:5]}"] if shared else []
    for name in ("dev", "test"):
        fraction = len(leakage(training, splits[name])) / len(splits[name]) if splits[name] else 0.0
        if fraction > task.data.leakage_max_fraction:
            problems.append(f"{data_dir / (name + '.jsonl')}: {fraction:.3f} of records duplicate training-side text "
                            f"(data.leakage_max_fraction is {task.data.leakage_max_fraction})")
    return problems + hash_problems(data_dir, splits) + slice_data_problems(task, data_dir, splits["test"])


def gold_problems(task: TaskSpec, path: Path, record: Record) -> list[str]:
    where = f"{path}: {record.id}"
    errors = sorted(Draft202012Validator(task.schema).iter_errors(dict(record.gold)), key=lambda e: list(e.absolute_path))
    if errors:
        return [f"{where}: gold does not validate: {errors[0].message}"]
    bad = [name for name, kind in task.fields.items() if record.gold.get(name) is not None and kind in NORMALIZERS
           and NORMALIZERS[kind](record.gold[name]) is None]
    return [f"{where}: gold value(s) of {bad} do not normalize by their field kind"] if bad else []


def hash_problems(data_dir: Path, splits: dict[str, list[Record]]) -> list[str]:
    card_path = data_dir / "data_card.json"
    if not card_path.is_file():
        return [f"{card_path}: missing (rebuild the data)"]
    hashes = json.loads(card_path.read_text(encoding="utf-8")).get("hashes", {})
    return [f"{data_dir / (name + '.jsonl')}: content differs from the hash in data_card.json (edited after the build?)"
            for name, records in splits.items() if hashes.get(name) != records_hash(records)]
