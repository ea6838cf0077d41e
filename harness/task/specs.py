"""Frozen specs for tasks, candidates and training, loaded strictly from YAML.

A task is a folder `tasks/<id>/` holding `task.yaml`, `schema.json`, `prompts/*.j2` and a card; a
candidate is `candidates/<id>.yaml`. This module turns those files into frozen dataclasses, rejecting
unknown keys and wrong types with a `HarnessError` that names the file and field. It reads files
but knows nothing of data building, engines or scoring; later stages receive these objects whole,
and the run record stores them whole.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml

from harness.errors import HarnessError

FIELD_KINDS = ("party_set", "date", "duration_days", "duration_text", "jurisdiction", "text", "enum")
PROMPT_ROLES = ("best", "adapter")
PrimaryMetric = Literal["field_f1", "record_exact_rate", "schema_valid_rate", "json_parse_rate"]  # the metrics with a paired test
EffectBasis = Literal["point", "ci_low"]
MIN_EXCERPT_TOKENS = 64  # the smallest excerpt that still holds a typical clause with its context


@dataclass(frozen=True)
class DataSpec:
    """Where a task's records come from and how many of each split to build."""

    recipe: str
    source: str
    seed: int = 13
    excerpt_tokens: int = 320
    splits: Mapping[str, int] = field(default_factory=lambda: {"train": 160, "few_shot_pool": 16, "dev": 24, "test": 40})
    absent_fraction: float = 0.2
    synthetic_mix: float = 0.0
    leakage_max_fraction: float = 0.0
    min_split_fraction: float = 0.5
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateSpec:
    """Thresholds of the verdict: the adapter must beat the strongest prompt-only candidate.

    `min_effect_on` says whether min_effect is met by the primary difference's point estimate or
    by its CI's lower bound (the default: the gain must be at least min_effect with confidence).
    Below `min_records` test records the verdict is not_proven whatever the numbers. The margins
    bound how much worse than the baseline the adapter may be: schema-valid rate and failed-request
    rate in absolute points, p95 latency as a ratio (merged serving is the same model with a
    shorter prompt, so it should not be slower by more than a small factor). `slice_margin`, when
    set, is the robustness check: on no edge-case slice may the adapter's primary metric be below
    the baseline's by more than the margin, or below it significantly (Holm across slices).
    `regression_margin`, when set, is the regression check: the adapter may pass at most that share
    fewer general-capability probe items than the base model, and not significantly fewer.
    """

    primary_metric: PrimaryMetric = "field_f1"
    min_effect: float = 0.05
    min_effect_on: EffectBasis = "ci_low"
    alpha: float = 0.05
    min_records: int = 20
    schema_valid_margin: float = 0.02
    failure_rate_margin: float = 0.02
    latency_p95_ratio_margin: float = 1.5
    cost_ceiling_usd_per_1k: float | None = None
    slice_margin: float | None = None
    regression_margin: float | None = None


@dataclass(frozen=True)
class SlicesSpec:
    """Edge-case slices of the test split (harness.data.slices): per slice name, the perturbation steps
    (harness.data.perturb) applied in order, each `{step: <name>, <parameter>: <value>, ...}`; `records`
    is how many test records each slice perturbs (0: no slices)."""

    records: int = 0
    seed: int = 0
    define: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainSpec:
    """LoRA/QLoRA settings for `harness train`; defaults fit the embedded model on a 2-core CPU."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 3e-4
    lr_schedule: str = "cosine"
    warmup_ratio: float = 0.05
    batch_size: int = 4
    grad_accum: int = 1
    max_seq_tokens: int = 768
    seed: int = 13
    quantization: str = "none"
    eval_every_steps: int = 20
    early_stopping_patience: int | None = None
    train_limit: int | None = None


@dataclass(frozen=True)
class PromptSpec:
    """Template names: the zero-shot variants (tune-prompt picks one) and the adapter's short prompt."""

    variants: tuple[str, ...]
    adapter: str


@dataclass(frozen=True)
class TaskSpec:
    """Everything that defines a task; `dir` is its folder and `id` the folder's name."""

    id: str
    dir: Path
    description: str
    schema: Mapping[str, Any]
    fields: Mapping[str, str]
    prompts: PromptSpec
    data: DataSpec
    gate: GateSpec = field(default_factory=GateSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    slices: SlicesSpec = field(default_factory=SlicesSpec)


@dataclass(frozen=True)
class DecodingSpec:
    """Sampling settings of one candidate; guided_json constrains output to the task schema."""

    temperature: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    guided_json: bool = False


@dataclass(frozen=True)
class CandidateSpec:
    """A recipe: which prompt (a role or a template name), how many shots, adapter or not, decoding."""

    id: str
    description: str
    prompt: str
    shots: int = 0
    shot_selection: str = "fixed"
    adapter: bool = False
    decoding: DecodingSpec = field(default_factory=DecodingSpec)


def tuned_candidate(candidates: Sequence[CandidateSpec]) -> CandidateSpec:
    """The recipe whose decoding the prompt search uses: the first zero-shot, unguided `best` one.

    A comparison always searches the zero-shot prompt on dev (its winner is the prompt-only
    baseline's prompt), so a candidate list without such a recipe is a user error, not a search run
    with settings nobody wrote down.
    """
    for candidate in candidates:
        if candidate.prompt == "best" and candidate.shots == 0 and not candidate.decoding.guided_json:
            return candidate
    raise HarnessError(f"no candidate to search the zero-shot prompt with among {', '.join(c.id for c in candidates)}", "--candidates",
                       "add a zero-shot, unguided `prompt: best` candidate such as best_prompt (its decoding is the search's)")


def merged_label(candidate_id: str) -> str:
    """The label of an adapter candidate served merged into a copy of the base."""
    return f"{candidate_id}@merged"


def build(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if not isinstance(raw, Mapping):
        raise HarnessError(f"expected a mapping, got {type(raw).__name__}", where)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise HarnessError(f"unknown key(s) {unknown}", where, f"allowed keys: {sorted(known)}")
    values = {key: coerce(hints[key], value, child(where, key)) for key, value in raw.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise HarnessError(f"missing required key: {exc}", where) from None


def child(where: str, key: str) -> str:
    """`file: field.path` — the first key after a file name follows ': ', deeper ones a dot."""
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


def coerce(hint: Any, value: Any, where: str) -> Any:
    """Check `value` against a type hint, converting lists to tuples and mappings to dataclasses."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return coerce(next(a for a in args if a is not type(None)), value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise HarnessError(f"expected a list, got {value!r}", where)
        return tuple(coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (collections.abc.Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise HarnessError(f"expected a mapping, got {value!r}", where)
        return {str(k): coerce(args[1], v, child(where, str(k))) if args else v for k, v in value.items()}
    if hint is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise HarnessError(f"expected one of {list(args)}, got {value!r}", where)
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise HarnessError(f"expected {hint.__name__}, got {value!r}", where)
    return value


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, naming the file in any error."""
    if not path.is_file():
        raise HarnessError("file not found", str(path))
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise HarnessError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", str(path), "save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise HarnessError(yaml_problem(exc), yaml_place(path, exc), "fix the YAML syntax there") from None


def yaml_place(path: Path, exc: yaml.YAMLError) -> str:
    """`file:line` of a YAML error (the file alone when the parser gave no position)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"{path}:{mark.line + 1}" if mark is not None else str(path)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's complaint in one line, without its multi-line excerpt and caret."""
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    words = "; ".join(p for p in parts if p) or str(exc).splitlines()[0]
    return f"not valid YAML: {words}"


def load_task(tasks_root: Path, task_id: str) -> TaskSpec:
    """Load `tasks_root/<task_id>/task.yaml` and its schema into a TaskSpec."""
    task_dir = tasks_root / task_id
    if not (task_dir / "task.yaml").is_file():
        known = sorted(p.name for p in tasks_root.iterdir() if (p / "task.yaml").is_file()) if tasks_root.is_dir() else []
        raise HarnessError(f"unknown task '{task_id}'", str(tasks_root), f"known tasks: {', '.join(known) or 'none'}")
    where = str(task_dir / "task.yaml")
    raw = read_yaml(task_dir / "task.yaml")
    if not isinstance(raw, Mapping) or "schema" not in raw:
        raise HarnessError("missing key 'schema' (the JSON Schema file name)", where)
    schema_file = task_dir / str(raw["schema"])
    try:
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"cannot read the schema: {exc}", str(schema_file)) from None
    body = {k: v for k, v in raw.items() if k != "schema"}
    spec = build(_TaskFile, body, where)
    bad = {name: kind for name, kind in spec.fields.items() if kind not in FIELD_KINDS}
    if bad:
        raise HarnessError(f"unknown field kind(s) {bad}", f"{where}: fields", f"use one of {FIELD_KINDS}")
    if spec.data.excerpt_tokens < MIN_EXCERPT_TOKENS:
        raise HarnessError(f"must be at least {MIN_EXCERPT_TOKENS} tokens to hold a clause, got {spec.data.excerpt_tokens}",
                           f"{where}: data.excerpt_tokens", f"set it to {MIN_EXCERPT_TOKENS} or more")
    if spec.slices.records < 0:
        raise HarnessError(f"must be 0 (no slices) or more, got {spec.slices.records}", f"{where}: slices.records")
    return TaskSpec(task_id, task_dir, spec.description, schema, spec.fields, spec.prompts, spec.data, spec.gate, spec.train,
                    spec.slices)


@dataclass(frozen=True)
class _TaskFile:
    """The keys task.yaml may hold besides `schema`."""

    description: str
    fields: Mapping[str, str]
    prompts: PromptSpec
    data: DataSpec
    gate: GateSpec = field(default_factory=GateSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    slices: SlicesSpec = field(default_factory=SlicesSpec)


def load_candidate(candidates_root: Path, candidate_id: str) -> CandidateSpec:
    """Load `candidates_root/<candidate_id>.yaml` into a CandidateSpec."""
    path = candidates_root / f"{candidate_id}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in candidates_root.glob("*.yaml"))
        raise HarnessError(f"unknown candidate '{candidate_id}'", str(candidates_root), f"known candidates: {', '.join(known)}")
    raw = read_yaml(path)
    if isinstance(raw, Mapping) and "id" in raw:
        raise HarnessError("unknown key(s) ['id']", str(path), "a candidate's id is its file stem; remove the key")
    spec = build(CandidateSpec, {**raw, "id": candidate_id} if isinstance(raw, Mapping) else raw, str(path))
    if spec.shot_selection not in ("fixed", "random", "similar"):
        raise HarnessError(f"unknown shot_selection '{spec.shot_selection}'", f"{path}: shot_selection", "use fixed, random or similar")
    bounds = [("shots", spec.shots >= 0), ("decoding.max_tokens", spec.decoding.max_tokens >= 1),
              ("decoding.temperature", spec.decoding.temperature >= 0)]
    for name, ok in bounds:
        if not ok:
            raise HarnessError("must not be negative (max_tokens at least 1)", f"{path}: {name}")
    return spec


def to_dict(spec: Any) -> Any:
    """A JSON-ready copy of a spec (paths as strings), for the run record."""
    if dataclasses.is_dataclass(spec):
        return {f.name: to_dict(getattr(spec, f.name)) for f in dataclasses.fields(spec)}
    if isinstance(spec, Mapping):
        return {str(k): to_dict(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [to_dict(v) for v in spec]
    return str(spec) if isinstance(spec, Path) else spec
