"""MLflow as a sink: copies a finished run record (and a training run) into an MLflow store.

`log_run` reads a run folder (its summary.json, read into a `RunSummary`, is the source of truth;
report and plots must already be written) and logs one parent run per comparison with one nested
child run per candidate, the data splits as dataset inputs of each (harness.sinks.mlflow_datasets),
and the adapter under test as artifacts of its child run, registered as a model version
(harness.sinks.model_registry); it returns the receipt the caller records in the run folder as
mlflow.json. `log_training` logs one adapter training run. A logging of the same run that was cut
off earlier (a kill mid-way leaves its parent RUNNING, a store error leaves it FAILED) is deleted
with its children before the new one, so each run has one parent in the store (`retire_unfinished`).
Values are copied, never computed: metric names are the run record's (a candidate's metrics under
their own names, `<metric>.ci_low`/`.ci_high`, `failures.<kind>`); the only derived value is the
verdict as a number (`verdict_code`: adapter_loses -1, not_proven 0, adapter_wins 1); the verdict's
power is logged on the parent as `verdict.power.mde`, `verdict.power.records_needed` and
`verdict.min_records` (metrics) with its method and note (params); booleans logged as metrics (a
check's `passed`) become 1 and 0. A value recorded as null has no MLflow metric (MLflow has no
"missing"); summary.json, logged whole, says why. This module never writes into the run folder and
knows nothing about how runs are made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from harness.errors import HarnessError
from harness.sinks.mlflow_datasets import candidate_splits, log_splits
from harness.sinks.mlflow_store import (BATCH_LIMITS, artifact_location, experiment_id, flatten, open_client,
                                  log_values, mlflow_key, mlflow_run)
from harness.sinks.model_registry import log_adapter, register_adapter
from harness.record.run_summary import CandidateEntry, RunSummary, read_run_summary
from harness.task.strict_yaml import to_dict
from harness.redaction import redact_uri
from harness.sinks.report.run_folder import read_predictions

DECISION_CODES = {"adapter_loses": -1, "not_proven": 0, "adapter_wins": 1, "no_verdict": None}
RUN_ARTIFACTS = ("summary.json", "report.md", "report.html", "plots", "data_card.md",
                 "data_card.json")
PARENT_RUN_TAG = "mlflow.parentRunId"
COMPARISON_NUMBERS = ("diff", "ci_low", "ci_high", "p_value", "p_holm", "effect_size", "n")
MANIFEST_IDENTITY = ("key", "base_model", "base_model_hash", "dataset_hash")
TABLE_FILE = "predictions_table.json"


def parent_params(summary: RunSummary) -> dict[str, Any]:
    """What the comparison was: task, model, engine, gate, data hashes, adapter key, choices."""
    engine, adapter, verdict = summary.engine, summary.adapter, summary.verdict
    return {
        **{key: getattr(summary, key) for key in ("task", "run_id", "split", "created_at")},
        "model": engine["engine_args"]["model"],
        **flatten({key: engine[key] for key in ("mode", "engine_args", "load_profile")}, "engine"),
        **flatten(to_dict(summary.gate), "gate"),
        **flatten(summary.data.splits, "data"),
        **flatten({key: getattr(verdict, key) for key in
                   ("adapter_candidate", "baseline_candidate", "adapter_serving")}, "verdict"),
        "baseline_selection.chosen": summary.baseline_selection.chosen,
        "prompt_search.winner": summary.prompt_search.winner,
        **({} if verdict.power is None else {"verdict.power.method": verdict.power["method"],
                                             "verdict.power.note": verdict.power["note"]}),
        "cost.price_usd_per_hour": summary.cost.price_usd_per_hour,
        "cost.price_note": summary.cost.price_note,
        **({} if adapter is None else {"adapter.key": adapter["key"], "adapter.path":
                                       adapter["path"]}),
        **flatten(summary.environment, "environment"),
    }


def _numbers(values: Mapping[str, Any]) -> dict[str, float | None]:
    """The numeric (and boolean, as 0/1) leaves of a flattened mapping."""
    return {key: None if value is None else float(value) for key, value in values.items()
            if value is None or isinstance(value, (int, float))}


def parent_metrics(summary: RunSummary) -> dict[str, float | None]:
    """The verdict as a code; every check, comparison, cost, serving and adapter-check number."""
    verdict = summary.verdict
    if verdict.decision not in DECISION_CODES:
        raise KeyError(f"summary.json verdict.decision {verdict.decision!r} is not one of "
                       f"{sorted(DECISION_CODES)}")
    comparisons = {f"{c['candidate']}.vs.{c['baseline']}.{c['metric']}":
                   {key: c[key] for key in COMPARISON_NUMBERS}
                   for c in summary.comparisons}
    return {
        "verdict_code": DECISION_CODES[verdict.decision],
        **_numbers(flatten({key: value for key in ("power", "min_records")
                            if (value := getattr(verdict, key)) is not None}, "verdict")),
        **_numbers(flatten(verdict.checks, "check")),
        **_numbers(flatten(comparisons, "comparison")),
        **_numbers(flatten(to_dict(summary.cost), "cost")),
        "engine.adapter_cold_load_s": summary.engine["adapter_cold_load_s"],
        **_numbers(flatten(summary.engine["adapter_serving"], "serving")),
        **_numbers(flatten(summary.adapter_checks or {}, "adapter_checks")),
        **_numbers(flatten(summary.guided_audit or {}, "guided_audit")),
        **_numbers(flatten({name: entry["adapter_vs_baseline"] for name, entry in (summary.slices or {}).items()
                            if entry["adapter_vs_baseline"]}, "slice")),
        **_numbers(flatten({key: value for key, value in (summary.regression or {}).items()
                            if key in ("pass_rates", "comparison")}, "regression")),
    }


def candidate_metrics(candidate: CandidateEntry, on_slices: Mapping[str, Any]) -> dict[str, float | None]:
    """A candidate's metrics under the run record's names, with CIs and failure counts, and its
    metrics on each edge-case slice (`slice.<name>.<metric>`)."""
    intervals = {f"{name}.ci_low": low for name, (low, _) in candidate.intervals.items()}
    intervals |= {f"{name}.ci_high": high for name, (_, high) in candidate.intervals.items()}
    return {**candidate.metrics, **intervals, **flatten(candidate.failures, "failures"),
            **flatten(dict(on_slices), "slice")}


def _reviewer_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """Record id, slice (when the row has one), status, exactness, per-field correctness (no
    false positive and no false negative), latency."""
    score = row["score"]
    return {"record_id": row["record_id"], **({"slice": row["slice"]} if "slice" in row else {}),
            "status": score["status"], "record_exact": score["record_exact"],
            **{f"correct_{field}": counts["fp"] == 0 and counts["fn"] == 0
               for field, counts in score["fields"].items()},
            "latency_s": row["latency_s"]}


def predictions_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per prediction: the reviewer's columns first, then timings, tokens and the raw
    output; nested values as JSON text."""
    return pd.DataFrame([{
        **_reviewer_columns(row),
        **{key: row[key] for key in ("split", "ttft_s", "prompt_tokens", "completion_tokens",
                                     "finish_reason", "attempts", "error", "text")},
        **{key: row["score"][key] for key in ("extracted", "violation_path")},
        "fields": json.dumps(row["score"]["fields"]), "gold": json.dumps(row["gold"]),
    } for row in rows])


def _log_candidate(client: MlflowClient, exp_id: str, parent: str, run_dir: Path,
                   summary: RunSummary, cid: str) -> str:
    """One nested child run: the candidate's recipe, metrics, datasets, predictions (file and
    table) and, for an adapter candidate, the adapter manifest; returns its run id."""
    candidate = summary.candidates[cid]
    tags = {PARENT_RUN_TAG: parent, "harness.candidate": cid}
    with mlflow_run(client, exp_id, cid, tags) as run_id:
        params = {"candidate": cid, **{key: getattr(candidate, key) for key in (
            "description", "prompt_template", "uses_adapter", "serving")},
                  **flatten(candidate.spec, "spec")}
        on_slices = {name: entry["candidates"][cid]["metrics"] for name, entry in (summary.slices or {}).items()
                     if cid in entry["candidates"]}
        log_values(client, run_id, params, candidate_metrics(candidate, on_slices))
        log_splits(client, run_id, summary, candidate_splits(summary, cid))
        client.log_artifact(run_id, str(run_dir / candidate.predictions_file), "predictions")
        rows = read_predictions(run_dir, candidate.predictions_file)
        client.log_table(run_id, predictions_table(rows), TABLE_FILE)
        adapter = summary.adapter
        if adapter is not None and cid == summary.verdict.adapter_candidate:
            log_adapter(client, run_id, adapter)
        elif candidate.uses_adapter and adapter is not None:
            client.log_dict(run_id, adapter["manifest"], "adapter/manifest.json")
    return run_id


def _check_folder(run_dir: Path) -> RunSummary:
    """The summary of a run folder whose report is written."""
    summary = read_run_summary(run_dir)
    missing = [name for name in RUN_ARTIFACTS if not (run_dir / name).exists()]
    if missing:
        raise HarnessError(f"run folder lacks {missing}", str(run_dir),
                           "write the report (harness.sinks.report.write_report) before logging")
    return summary


def log_run(run_dir: Path, tracking_uri: str, experiment: str, *,
            artifact_root: str | None = None) -> dict[str, Any]:
    """Logs a finished run folder (after write_report) as a parent run with one child run per
    candidate and registers the adapter under test; returns the receipt for mlflow.json."""
    summary = _check_folder(run_dir)
    client = open_client(tracking_uri)
    exp_id = experiment_id(client, experiment, artifact_location(tracking_uri, artifact_root))
    tags = {"decision": summary.verdict.decision, "task": summary.task,
            "git_commit": summary.environment["git_commit"],
            "harness.run_id": summary.run_id, "harness.kind": "comparison"}
    for stale in retire_unfinished(client, exp_id, summary.run_id):
        print(f"mlflow: deleted an unfinished earlier logging of this run (parent run {stale}) and its child runs")
    with mlflow_run(client, exp_id, f"{summary.task}/{summary.run_id}", tags) as parent:
        log_values(client, parent, parent_params(summary), parent_metrics(summary))
        log_splits(client, parent, summary, summary.data.splits)
        for name in RUN_ARTIFACTS:
            if (run_dir / name).is_dir():
                client.log_artifacts(parent, str(run_dir / name), name)
            else:
                client.log_artifact(parent, str(run_dir / name))
        children = {cid: _log_candidate(client, exp_id, parent, run_dir, summary, cid)
                    for cid in summary.candidates}
    receipt: dict[str, Any] = {"tracking_uri": redact_uri(tracking_uri), "experiment": experiment,
                               "parent_run_id": parent}
    label = summary.verdict.adapter_candidate
    if summary.adapter is not None and label in children:
        receipt["registered_model"] = register_adapter(client, children[label], summary, label)
    return receipt


def retire_unfinished(client: MlflowClient, exp_id: str, harness_run_id: str) -> list[str]:
    """Delete (MLflow's soft delete) every parent run of `harness_run_id` that did not finish, and its children;
    return the deleted parents' ids."""
    parents = [run for run in client.search_runs([exp_id], f"tags.`harness.run_id` = '{harness_run_id}'")
               if run.info.status != "FINISHED" and PARENT_RUN_TAG not in run.data.tags]
    for parent in parents:
        for child in client.search_runs([exp_id], f"tags.`{PARENT_RUN_TAG}` = '{parent.info.run_id}'"):
            client.delete_run(child.info.run_id)
        client.delete_run(parent.info.run_id)
    return [parent.info.run_id for parent in parents]


def history_metrics(history: Sequence[Mapping[str, Any]]) -> list[tuple[int, dict[str, float]]]:
    """(step, {name: value}) per history entry; a null value (not measured then) is left out."""
    out = []
    for index, entry in enumerate(history):
        if "step" not in entry:
            raise KeyError(f"training history entry {index} has no 'step'")
        bad = {k: v for k, v in entry.items() if v is not None and (
            isinstance(v, bool) or not isinstance(v, (int, float)))}
        if bad:
            raise ValueError(f"training history entry {index} has non-numeric values {bad}")
        out.append((int(entry["step"]), {k: float(v) for k, v in entry.items()
                                         if k != "step" and v is not None}))
    return out


def log_training(manifest: Mapping[str, Any], history: Sequence[Mapping[str, Any]],
                 adapter_dir: Path, tracking_uri: str, experiment: str, *,
                 artifact_root: str | None = None) -> str:
    """Logs one adapter training run (settings as params, losses per step as metrics, manifest
    and history as artifacts); returns its MLflow run id."""
    lacking = [key for key in MANIFEST_IDENTITY + ("settings",) if key not in manifest]
    if lacking:
        raise KeyError(f"adapter manifest has no {lacking}")
    client = open_client(tracking_uri)
    exp_id = experiment_id(client, experiment, artifact_location(tracking_uri, artifact_root))
    tags = {"harness.kind": "training", "adapter.key": str(manifest["key"])}
    with mlflow_run(client, exp_id, f"train/{manifest['key']}", tags) as run_id:
        top_level = {key: value for key, value in manifest.items()
                     if not isinstance(value, Mapping)}
        log_values(client, run_id, {**{key: manifest[key] for key in MANIFEST_IDENTITY},
                                    "adapter_dir": str(adapter_dir),
                                    **flatten(manifest["settings"], "settings")},
                   _numbers(flatten(top_level, "manifest")))
        now = int(time.time() * 1000)
        metrics = [Metric(mlflow_key(name), value, now, step)
                   for step, values in history_metrics(history) for name, value in values.items()]
        for start in range(0, len(metrics), BATCH_LIMITS["metrics"]):
            client.log_batch(run_id, metrics=metrics[start:start + BATCH_LIMITS["metrics"]])
        client.log_dict(run_id, dict(manifest), "manifest.json")
        client.log_text(run_id, "".join(json.dumps(e) + "\n" for e in history), "history.jsonl")
    return run_id
