"""The adapter under test in the MLflow model registry, and the gate's alias on it.

`log_adapter` copies the adapter's files (PEFT config and weights, manifest, history: those the
folder has) into a child run's `adapter/` artifacts; `register_adapter` makes them a new version of
the registered model `<task>-adapter`, tagged with the adapter's key, base model hash, dataset hash
(from its manifest; "not recorded" when the adapter came without one) and the comparison's
decision, and returns the receipt recorded in mlflow.json. `set_gate_alias` points `champion` at
that version when the gate passed and `challenger` when it did not (MLflow moves an alias off the
version that held it). This module decides nothing: the caller says whether the gate passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient

from harness.errors import HarnessError
from harness.record.run_summary import RunSummary
from harness.training.adapter_store import ADAPTER_FILES

ARTIFACT_PATH = "adapter"
WEIGHTS = ("adapter_config.json", "adapter_model.safetensors")
PASS_ALIAS, FAIL_ALIAS = "champion", "challenger"
NOT_RECORDED = "not recorded"


def model_name(task: str) -> str:
    """The registered model that holds a task's adapters."""
    return f"{task}-adapter"


def log_adapter(client: MlflowClient, run_id: str, adapter: Mapping[str, Any]) -> None:
    """The adapter folder's files as artifacts under `adapter/` of run `run_id`."""
    folder = Path(adapter["path"])
    missing = [name for name in WEIGHTS if not (folder / name).is_file()]
    if missing:
        raise HarnessError(f"adapter folder lacks {missing}", str(folder),
                           "log the run while its adapter folder still exists (or restore it)")
    for name in ADAPTER_FILES:
        if (folder / name).is_file():
            client.log_artifact(run_id, str(folder / name), ARTIFACT_PATH)


def version_tags(summary: RunSummary, label: str) -> dict[str, str]:
    """What a reviewer filters versions by: the adapter's identity and the verdict it got."""
    adapter = summary.adapter
    if adapter is None:
        raise KeyError("summary.json has no 'adapter' section: no adapter to register")
    manifest = adapter.get("manifest") or {}
    return {"adapter.key": str(adapter.get("key") or NOT_RECORDED),
            "base_model_hash": str(manifest.get("base_model_hash") or NOT_RECORDED),
            "dataset_hash": str(manifest.get("dataset_hash") or NOT_RECORDED),
            "verdict": str(summary.verdict.decision),
            "harness.run_id": str(summary.run_id), "harness.candidate": label}


def _ensure_model(client: MlflowClient, name: str) -> None:
    try:
        client.create_registered_model(name, description="LoRA adapters judged by harness; "
                                       "alias champion = the last one a gate passed")
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


def register_adapter(client: MlflowClient, run_id: str, summary: RunSummary,
                     label: str) -> dict[str, str]:
    """A new version of `<task>-adapter` from run `run_id`'s adapter artifacts; its receipt."""
    name = model_name(summary.task)
    _ensure_model(client, name)
    source = f"{client.get_run(run_id).info.artifact_uri}/{ARTIFACT_PATH}"
    version = client.create_model_version(name, source, run_id=run_id,
                                          tags=version_tags(summary, label))
    return {"name": name, "version": str(version.version), "run_id": run_id}


def set_gate_alias(client: MlflowClient, receipt: Mapping[str, str], passed: bool) -> str:
    """Points `champion` (passed) or `challenger` at the receipt's version; returns the alias."""
    alias = PASS_ALIAS if passed else FAIL_ALIAS
    client.set_registered_model_alias(receipt["name"], alias, receipt["version"])
    return alias
