"""Provide the adapter under test: a folder the user gives, or the cached/trained one for this task.

Training examples are the task's train (and dev) records rendered with the adapter's short prompt,
the same prompt the adapter candidate is served with; the answer is the gold JSON. The training
library keys the adapter by base model, data, template and settings, so a comparison reuses an
adapter only when all of those match. While a run uses a stored adapter it holds that adapter's
shared use lock (`serving_adapter`), so another run's `--retrain` cannot replace the folder under it.
This module knows nothing of engines or scoring.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from harness.errors import HarnessError
from harness.hardware.precision import PrecisionDecision
from harness.task.prompts import build_messages, gold_answer, template_source
from harness.task.records import Record
from harness.task.specs import TaskSpec, TrainSpec
from harness.training.adapter_store import adapter_in_use, read_manifest
from harness.training.examples import TrainingExample
from harness.training.train import TrainJob, train_adapter


@dataclass(frozen=True)
class AdapterInfo:
    """The adapter folder, its key (when the harness trained it) and its manifest."""

    path: Path
    key: str | None
    manifest: Mapping[str, Any]
    trained_here: bool


def training_examples(task: TaskSpec, records: Sequence[Record]) -> list[TrainingExample]:
    """Records as chat examples with the adapter's short prompt and the gold JSON answer."""
    return [TrainingExample(messages=build_messages(task, task.prompts.adapter, r, []), target=gold_answer(task, dict(r.gold))) for r in records]


def train_job(task: TaskSpec, model_dir: Path, store_dir: Path, train: Sequence[Record], dev: Sequence[Record],
              settings: TrainSpec, precision: PrecisionDecision, retrain: bool) -> TrainJob:
    return TrainJob(
        base_model_dir=model_dir, store_dir=store_dir, train=training_examples(task, train), dev=training_examples(task, dev),
        prompt_template=template_source(task, task.prompts.adapter), settings=settings, retrain=retrain, precision=precision,
    )


def provide_adapter(job: TrainJob, given: Path | None) -> AdapterInfo:
    """The given adapter folder, or the one trained (or found in the cache) for `job`."""
    if given is not None:
        if not (given / "adapter_config.json").is_file():
            raise HarnessError("not a PEFT adapter folder (no adapter_config.json)", str(given), "pass a folder written by `harness train`")
        manifest = read_manifest(given) if (given / "manifest.json").is_file() else {}
        return AdapterInfo(given.resolve(), manifest.get("key"), manifest, False)
    path = train_adapter(job)
    manifest = read_manifest(path)
    return AdapterInfo(path, manifest.get("key"), manifest, True)


@contextmanager
def serving_adapter(adapter: AdapterInfo | None) -> Iterator[None]:
    """Hold the stored adapter's shared use lock while the run serves and checks it (a folder the user gave is not locked).

    An adapter replaced between its training and this lock (another run's --retrain) is refused: the
    run would serve weights its manifest does not describe.
    """
    if adapter is None or not adapter.trained_here or adapter.key is None:
        yield
        return
    with adapter_in_use(adapter.path.parent, adapter.key):
        if read_manifest(adapter.path) != adapter.manifest:
            raise HarnessError("the adapter was replaced by another run (--retrain) after this run chose it", str(adapter.path),
                               "run the comparison again")
        yield
