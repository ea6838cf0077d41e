"""The frozen configuration of one run, resolved once at the entry point and recorded whole.

Precedence: built-in defaults < task and candidate YAML < command-line flags. The CLI builds a
`RunConfig` (compare, gate, tune-prompt), a `CurveConfig`, a `TrainingConfig` or a `DataConfig`;
nothing downstream reads the environment, re-reads YAML or sees a command-line flag. This module knows the
shape of a run's settings, not how any stage uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.adapter.serving_mode import AdapterServing
from harness.score.cost import DEFAULT_PRICE_USD_PER_HOUR, TokenPrice
from harness.engine.types import EngineSettings
from harness.hardware.precision import PrecisionDecision
from harness.serve.predict import LoadProfile
from harness.task.specs import CandidateSpec, TaskSpec

DEFAULT_EXPERIMENT = "harness"  # the MLflow experiment comparisons are logged to

DEFAULT_CANDIDATES = ("best_prompt", "few_shot", "lora_short", "guided_json")


@dataclass(frozen=True)
class Paths:
    """Where the project's folders are: specs in, caches and reports out."""

    root: Path
    tasks: Path
    candidates: Path
    cache: Path
    reports: Path

    @classmethod
    def under(cls, root: Path, cache: Path | None = None, reports: Path | None = None) -> Paths:
        """The project's folders; caches and reports default to `.cache/` and `reports/` inside it."""
        root = root.resolve()
        return cls(root, root / "tasks", root / "candidates", (cache or root / ".cache").resolve(), (reports or root / "reports").resolve())


@dataclass(frozen=True)
class DataOptions:
    """Which data to build: the task's source or another CUAD-layout folder, or synthetic."""

    source: Path | None = None
    test_from: Path | None = None
    synthetic: bool = False


@dataclass(frozen=True)
class AdapterOptions:
    """Which adapter to test: a given folder, or the cached/trained one for this data and settings."""

    path: Path | None = None
    retrain: bool = False
    serving: tuple[AdapterServing, ...] = (AdapterServing.DYNAMIC, AdapterServing.MERGED)
    verdict_serving: AdapterServing = AdapterServing.MERGED
    liveness_canaries: int = 4
    parity_sample: int = 6


@dataclass(frozen=True)
class RunConfig:
    """Everything one comparison needs, frozen."""

    task: TaskSpec
    candidates: tuple[CandidateSpec, ...]
    paths: Paths
    engine: EngineSettings
    engine_mode: str = "inprocess"
    server_url: str | None = None
    model_dir: Path | None = None
    load: LoadProfile = field(default_factory=LoadProfile)
    data: DataOptions = field(default_factory=DataOptions)
    adapter: AdapterOptions = field(default_factory=AdapterOptions)
    price_usd_per_hour: float = DEFAULT_PRICE_USD_PER_HOUR
    token_price: TokenPrice | None = None
    tracking_uri: str | None = None
    experiment: str = DEFAULT_EXPERIMENT
    resume_run_id: str | None = None
    reuse_baseline: bool = False  # restore the prompt-only candidates' cached batches (the commands set it unless --fresh-baseline)
    seed: int = 13
    slice_records: int | None = None  # test records per edge-case slice (None: the task's slices.records; 0: none)
    precision: PrecisionDecision | None = None  # the run's device/dtype decision (EngineSettings carries the dtype)

    def with_adapter(self, adapter: AdapterOptions, **changes: Any) -> RunConfig:
        """This config with these adapter options; its engine's LoRA support is on only when an adapter candidate is
        served dynamically, since with it on every request, prompt-only ones too, runs through the LoRA layers."""
        dynamic = any(c.adapter for c in self.candidates) and AdapterServing.DYNAMIC in adapter.serving
        return replace(self, adapter=adapter, engine=replace(self.engine, enable_lora=dynamic), **changes)


@dataclass(frozen=True)
class CurveConfig:
    """`harness curve`: the comparison run at each training-set size (nested subsets), smallest first."""

    run: RunConfig
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class DataConfig:
    """`harness data` and the data half of `harness validate`: the task's data, counted in this base model's tokens."""

    task: TaskSpec
    paths: Paths
    data: DataOptions
    model_dir: Path | None = None  # None: the embedded default


@dataclass(frozen=True)
class TrainingConfig:
    """`harness train`: the adapter a comparison with the same data and settings would train."""

    task: TaskSpec
    paths: Paths
    data: DataOptions
    precision: PrecisionDecision
    model_dir: Path | None = None  # None: the embedded default
    retrain: bool = False
    tracking_uri: str | None = None  # None: do not log the training run
