"""A comparison's data splits as MLflow datasets, logged as inputs of its runs.

Each split the run record lists (`data.splits`) becomes an `mlflow.data` MetaDataset named
`<task>.<split>`, whose digest is the split's content hash from the run record (without its
`sha256:` prefix, cut to the 36 characters MLflow stores; the whole hash is an input tag) and whose
source is the split's file in the data folder the run read (`data.folder`). The parent run gets
every split; a candidate's child run gets the split it was scored on plus the splits it learned
from (train for an adapter, the few-shot pool for a few-shot prompt), each with its split name as
the MLflow context. This module copies what the run record (a `RunSummary`) says; it reads no
data file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlflow.data.meta_dataset import MetaDataset
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.entities import DatasetInput, InputTag
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from harness.record.run_summary import RunSummary

DIGEST_LIMIT = 36  # MLflow's column for a dataset digest
HASH_TAG = "harness.hash"


def split_input(summary: RunSummary, split: str) -> DatasetInput:
    """One split as a dataset input, its context the split's name."""
    recorded = summary.data.splits[split]
    digest = str(recorded["hash"]).removeprefix("sha256:")
    source = LocalArtifactDatasetSource(str(Path(summary.data.folder) / f"{split}.jsonl"))
    dataset = MetaDataset(source, name=f"{summary.task}.{split}", digest=digest[:DIGEST_LIMIT])
    tags = [InputTag(MLFLOW_DATASET_CONTEXT, split), InputTag(HASH_TAG, str(recorded["hash"])),
            InputTag("harness.records", str(recorded["n"]))]
    return DatasetInput(dataset._to_mlflow_entity(), tags)


def candidate_splits(summary: RunSummary, cid: str) -> tuple[str, ...]:
    """The scored split, then train (adapter candidates) and the few-shot pool (shots > 0), as far
    as the run record lists them."""
    candidate = summary.candidates[cid]
    wanted = [summary.split]
    wanted += ["train"] if candidate.uses_adapter else []
    wanted += ["few_shot_pool"] if candidate.spec.get("shots", 0) > 0 else []
    return tuple(name for name in wanted if name in summary.data.splits)


def log_splits(client: MlflowClient, run_id: str, summary: RunSummary,
               splits: Iterable[str]) -> None:
    """Logs `splits` of the run record as dataset inputs of run `run_id`."""
    client.log_inputs(run_id, datasets=[split_input(summary, split) for split in splits])
