"""Frozen specs for tasks, candidates and training, loaded strictly from YAML.

A task is a folder `tasks/<id>/` holding `task.yaml`, `schema.json`, `prompts/*.j2` and a card; a
candidate is `candidates/<id>.yaml`. This module turns those files into frozen dataclasses, rejecting
unknown keys and wrong types with a `HarnessError` that names the file and field. It reads files
but knows nothing of data building, engines or scoring; later stages receive these objects whole,
and the run record stores them whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from harness.errors import HarnessError
from harness.task.strict_yaml import build, read_yaml

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
