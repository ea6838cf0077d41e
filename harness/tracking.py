"""MLflow as a sink: copies a finished run record (and a training run) into an MLflow store.

`log_run` reads a run folder (summary.json is the source of truth; report and plots must already
be written) and logs one parent run per comparison with one nested child run per candidate;
`log_training` logs one adapter training run. Values are copied, never computed: the only derived
value is the verdict as a number (`verdict_code`: adapter_loses -1, not_proven 0, adapter_wins 1);
booleans logged as metrics (a check's `passed`) become 1 and 0.
Nested params are flattened to dotted keys; a value longer than MLflow's 6000 characters is cut with
a marker; key characters MLflow refuses become `_`, and two keys that would collide raise instead of
overwriting. A value recorded as null has no MLflow metric (MLflow has no "missing"); summary.json,
logged whole, says why. This module never writes into the run folder — the caller records the
returned parent run id in summary.json if it wants to — and knows nothing about how runs are made.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.tracking import MlflowClient

from harness.errors import HarnessError
from harness.report.run_folder import optional, read_predictions, read_summary, required

PARAM_VALUE_LIMIT = 6000  # MLflow's limit on one param value, in characters
KEY_LIMIT = 250  # MLflow's limit on a param or metric key
TRUNCATION_MARKER = "…[truncated; {} characters in all]"
DECISION_CODES = {"adapter_loses": -1, "not_proven": 0, "adapter_wins": 1, "no_verdict": None}
RUN_ARTIFACTS = ("summary.json", "report.md", "report.html", "plots", "data_card.md",
                 "data_card.json")
PARENT_RUN_TAG = "mlflow.parentRunId"
COMPARISON_NUMBERS = ("diff", "ci_low", "ci_high", "p_value", "p_holm", "effect_size", "n")
MANIFEST_IDENTITY = ("key", "base_model", "base_model_hash", "dataset_hash")
NOTHING: Mapping[str, Any] = MappingProxyType({})
_BATCH = {"params": 100, "metrics": 1000, "tags": 100}
_REFUSED_KEY_CHARS = re.compile(r"[^\w./ -]")


def artifact_location(tracking_uri: str, artifact_root: str | None = None) -> str | None:
    """Where a new experiment keeps artifacts: `artifact_root` when given; for `sqlite:///x/m.db`,
    x/mlartifacts; for an http(s) tracking server, None (the server's own artifact store)."""
    if artifact_root is not None:
        return Path(artifact_root).resolve().as_uri()
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent
                / "mlartifacts").as_uri()
    if tracking_uri.startswith(("http://", "https://")):
        return None
    raise HarnessError(f"no artifact location for tracking URI {tracking_uri!r}", "tracking_uri",
                       "use sqlite:///<path>.db or an http(s) server, or pass artifact_root")


def experiment_id(client: MlflowClient, name: str, location: str | None) -> str:
    """The experiment's id, creating it with `location` as its artifact root when it is new."""
    existing = client.get_experiment_by_name(name)
    if existing is None:
        return client.create_experiment(name, artifact_location=location)
    if existing.lifecycle_stage == "deleted":
        raise HarnessError(f"MLflow experiment {name!r} is deleted", "experiment",
                           "restore it in the MLflow UI or choose another experiment name")
    return existing.experiment_id


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys; lists and scalars stay leaves."""
    if not isinstance(value, Mapping):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def mlflow_key(key: str) -> str:
    """`key` with characters MLflow refuses replaced by `_`; ValueError if it is too long."""
    cleaned = _REFUSED_KEY_CHARS.sub("_", key)
    if len(cleaned) > KEY_LIMIT:
        raise ValueError(f"key {key!r} is longer than MLflow's {KEY_LIMIT} characters")
    return cleaned


def param_text(value: Any) -> str:
    """A param value as text (lists as JSON), cut to PARAM_VALUE_LIMIT with a marker."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(
        value, (list, tuple)) else str(value)
    if len(text) <= PARAM_VALUE_LIMIT:
        return text
    marker = TRUNCATION_MARKER.format(len(text))
    return text[:PARAM_VALUE_LIMIT - len(marker)] + marker


def unique_keys(entries: Mapping[str, Any]) -> dict[str, Any]:
    """Entries under MLflow-safe keys; ValueError when two keys collide with different values."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in entries.items():
        safe = mlflow_key(key)
        if safe in out and out[safe] != value:
            raise ValueError(f"{key!r} and {origin[safe]!r} would both be logged as {safe!r} "
                             "with different values")
        out[safe], origin[safe] = value, key
    return out


def log_values(client: MlflowClient, run_id: str, params: Mapping[str, Any] = NOTHING,
               metrics: Mapping[str, float | None] = NOTHING,
               tags: Mapping[str, str] = NOTHING) -> None:
    """Params (as text), metrics (null values left out) and tags, in batches MLflow accepts."""
    now = int(time.time() * 1000)
    entries = {
        "params": [Param(k, param_text(v)) for k, v in unique_keys(params).items()],
        "metrics": [Metric(k, float(v), now, 0) for k, v in unique_keys(metrics).items()
                    if v is not None],
        "tags": [RunTag(k, str(v)) for k, v in tags.items()],
    }
    for kind, items in entries.items():
        for start in range(0, len(items), _BATCH[kind]):
            client.log_batch(run_id, **{kind: items[start:start + _BATCH[kind]]})


@contextmanager
def mlflow_run(client: MlflowClient, exp_id: str, name: str,
               tags: Mapping[str, str]) -> Iterator[str]:
    """A run that ends FINISHED, or FAILED when the body raises."""
    run_id = client.create_run(exp_id, tags=dict(tags), run_name=name).info.run_id
    try:
        yield run_id
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))


def parent_params(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the comparison was: task, model, engine, gate, data hashes, adapter key, choices."""
    engine, adapter = required(summary, "engine"), optional(summary, "adapter")
    return {
        **{key: summary[key] for key in ("task", "run_id", "split", "created_at")},
        "model": required(summary, "engine", "engine_args", "model"),
        **flatten({key: engine[key] for key in ("mode", "engine_args", "load_profile")}, "engine"),
        **flatten(required(summary, "gate"), "gate"),
        **flatten(required(summary, "data", "splits"), "data"),
        **flatten({key: required(summary, "verdict", key) for key in
                   ("adapter_candidate", "baseline_candidate", "adapter_serving")}, "verdict"),
        "baseline_selection.chosen": required(summary, "baseline_selection", "chosen"),
        "prompt_search.winner": required(summary, "prompt_search", "winner"),
        "cost.price_usd_per_hour": required(summary, "cost", "price_usd_per_hour"),
        "cost.price_note": required(summary, "cost", "price_note"),
        **({} if adapter is None else {"adapter.key": adapter["key"], "adapter.path":
                                       adapter["path"]}),
        **flatten(required(summary, "environment"), "environment"),
    }


def _numbers(values: Mapping[str, Any]) -> dict[str, float | None]:
    """The numeric (and boolean, as 0/1) leaves of a flattened mapping."""
    return {key: None if value is None else float(value) for key, value in values.items()
            if value is None or isinstance(value, (int, float))}


def parent_metrics(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The verdict as a code; every check, comparison, cost, serving and adapter-check number."""
    decision = required(summary, "verdict", "decision")
    if decision not in DECISION_CODES:
        raise KeyError(f"summary.json verdict.decision {decision!r} is not one of "
                       f"{sorted(DECISION_CODES)}")
    comparisons = {f"{c['candidate']}.vs.{c['baseline']}.{c['metric']}":
                   {key: c[key] for key in COMPARISON_NUMBERS}
                   for c in required(summary, "comparisons")}
    cost = required(summary, "cost")
    return {
        "verdict_code": DECISION_CODES[decision],
        **_numbers(flatten(required(summary, "verdict", "checks"), "check")),
        **_numbers(flatten(comparisons, "comparison")),
        **_numbers(flatten(cost, "cost")),
        "engine.adapter_cold_load_s": required(summary, "engine", "adapter_cold_load_s"),
        **_numbers(flatten(required(summary, "engine", "adapter_serving"), "serving")),
        **_numbers(flatten(optional(summary, "adapter_checks") or {}, "adapter_checks")),
        **_numbers(flatten(optional(summary, "guided_audit") or {}, "guided_audit")),
    }


def candidate_metrics(candidate: Mapping[str, Any]) -> dict[str, float | None]:
    """All of a candidate's metrics, with CIs, per-field F1 and failure counts."""
    intervals = {f"{name}.ci_low": low for name, (low, _) in candidate["intervals"].items()}
    intervals |= {f"{name}.ci_high": high for name, (_, high) in candidate["intervals"].items()}
    return {**candidate["metrics"], **intervals,
            **flatten(candidate["per_field_f1"], "per_field_f1"),
            **flatten(candidate["failures"], "failures")}


def predictions_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per prediction with the score's headline columns; nested values as JSON text."""
    return pd.DataFrame([{
        **{key: row[key] for key in ("record_id", "split", "text", "prompt_tokens",
                                     "completion_tokens", "ttft_s", "latency_s", "finish_reason",
                                     "attempts", "error")},
        **{f"score.{key}": row["score"][key] for key in ("status", "extracted", "violation_path",
                                                        "record_exact")},
        "score.fields": json.dumps(row["score"]["fields"]), "gold": json.dumps(row["gold"]),
    } for row in rows])


def _log_candidate(client: MlflowClient, exp_id: str, parent: str, run_dir: Path,
                   summary: Mapping[str, Any], cid: str) -> None:
    """One nested child run: the candidate's recipe, metrics, predictions (file and table) and,
    for an adapter candidate, the adapter manifest when the run recorded one."""
    candidate = required(summary, "candidates", cid)
    tags = {PARENT_RUN_TAG: parent, "harness.candidate": cid}
    with mlflow_run(client, exp_id, cid, tags) as run_id:
        params = {"candidate": cid, **{key: candidate[key] for key in (
            "description", "prompt_template", "uses_adapter", "serving")},
                  **flatten(candidate["spec"], "spec")}
        log_values(client, run_id, params, candidate_metrics(candidate))
        client.log_artifact(run_id, str(run_dir / candidate["predictions_file"]), "predictions")
        rows = read_predictions(run_dir, candidate["predictions_file"])
        client.log_table(run_id, predictions_table(rows), "predictions_table.json")
        adapter = optional(summary, "adapter")
        if candidate["uses_adapter"] and adapter is not None:
            client.log_dict(run_id, adapter["manifest"], "adapter/manifest.json")


def log_run(run_dir: Path, tracking_uri: str, experiment: str, *,
            artifact_root: str | None = None) -> str:
    """Logs a finished run folder (after write_report) as a parent run with one child run per
    candidate; returns the parent MLflow run id."""
    summary = read_summary(run_dir)
    missing = [name for name in RUN_ARTIFACTS if not (run_dir / name).exists()]
    if missing:
        raise HarnessError(f"run folder lacks {missing}", str(run_dir),
                           "write the report (harness.report.write_report) before logging")
    client = MlflowClient(tracking_uri)
    exp_id = experiment_id(client, experiment, artifact_location(tracking_uri, artifact_root))
    tags = {"decision": summary["verdict"]["decision"], "task": summary["task"],
            "git_commit": required(summary, "environment", "git_commit"),
            "harness.run_id": summary["run_id"], "harness.kind": "comparison"}
    with mlflow_run(client, exp_id, f"{summary['task']}/{summary['run_id']}", tags) as parent:
        log_values(client, parent, parent_params(summary), parent_metrics(summary))
        for name in RUN_ARTIFACTS:
            if (run_dir / name).is_dir():
                client.log_artifacts(parent, str(run_dir / name), name)
            else:
                client.log_artifact(parent, str(run_dir / name))
        for cid in summary["candidates"]:
            _log_candidate(client, exp_id, parent, run_dir, summary, cid)
    return parent


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
    client = MlflowClient(tracking_uri)
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
        for start in range(0, len(metrics), _BATCH["metrics"]):
            client.log_batch(run_id, metrics=metrics[start:start + _BATCH["metrics"]])
        client.log_dict(run_id, dict(manifest), "manifest.json")
        client.log_text(run_id, "".join(json.dumps(e) + "\n" for e in history), "history.jsonl")
    return run_id
