"""`harness train <task>`: train (or reuse) the task's adapter and log the training run to MLflow.

The examples and key are exactly those a comparison would use, so `harness compare` afterwards
reuses this adapter. An unreachable tracking server stops the command before training; a store
that fails while logging is one error line (the adapter stays saved). This module knows the command; training itself is harness.training.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.adapter.adapter_source import train_job
from harness.pipeline.data_stage import provide_data
from harness.training.model_prep import base_model_dir, load_tokenizer
from harness.pipeline.preflight import check_task
from harness.pipeline.run_config import TrainingConfig
from harness.training.train import train_adapter

EXPERIMENT = "harness-training"


def run_training(config: TrainingConfig) -> Path:
    """Train or reuse the adapter; print its folder and headline figures; log it when a tracking URI is set."""
    task, paths = config.task, config.paths
    check_task(task, paths, config.data, config.model_dir)
    if config.tracking_uri:  # before minutes of training, not after
        from harness.sinks.mlflow_store import require_reachable

        require_reachable(config.tracking_uri, "start the server, or pass --no-mlflow")
    model_dir = base_model_dir(config.model_dir, paths.cache)
    data = provide_data(task, paths.cache, config.data, load_tokenizer(model_dir))
    job = train_job(task, model_dir, paths.cache / "adapters" / task.id, data.training_records(), data.splits["dev"], task.train,
                    config.precision, config.retrain)
    folder = train_adapter(job)
    manifest = json.loads((folder / "manifest.json").read_text())
    print(f"adapter: {folder}\n  key {manifest['key']}  train_loss {manifest['train_loss']:.4f}  dev_loss {manifest['dev_loss']:.4f}  "
          f"{manifest['train_seconds']:.0f} s  {manifest['tokens_per_second']:.0f} tokens/s")
    if config.tracking_uri:
        from harness.sinks.mlflow_store import store_errors
        from harness.sinks.tracking import log_training

        history = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines() if line.strip()]
        with store_errors(config.tracking_uri, f"the adapter is saved in {folder}; rerun harness train (it reuses it) or pass --no-mlflow"):
            run_id = log_training(manifest, history, folder, config.tracking_uri, EXPERIMENT)
        print(f"  mlflow run {run_id} (experiment {EXPERIMENT})")
    return folder
