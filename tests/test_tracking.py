"""Tests for harness.sinks.tracking against a real SQLite MLflow store in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from test_report_run_folder import CANDIDATES, write_run_folder

from harness.errors import HarnessError
from harness.sinks.report import write_report
from harness.sinks.mlflow_store import PARAM_VALUE_LIMIT, artifact_location, param_text, unique_keys
from harness.sinks.tracking import PARENT_RUN_TAG, history_metrics, log_run, log_training

EXPERIMENT = "contract_extraction"
LONG_ARG = "{% for m in messages %}" * 400  # a chat template longer than MLflow allows


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("mlflow")
    run_dir = write_run_folder(root)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["engine"]["engine_args"]["chat_template"] = LONG_ARG
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_report(run_dir)
    uri = f"sqlite:///{root}/mlruns.db"
    receipt = log_run(run_dir, uri, EXPERIMENT)
    parent_id = receipt["parent_run_id"]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    return {"root": root, "run_dir": run_dir, "summary": summary, "uri": uri, "client": client,
            "experiment": experiment, "parent_id": parent_id, "runs": runs, "receipt": receipt}


def _children(logged: dict) -> dict[str, Run]:
    return {run.info.run_name: run for run in logged["runs"]
            if run.data.tags.get(PARENT_RUN_TAG) == logged["parent_id"]}


def _artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    out = set()
    for item in client.list_artifacts(run_id, path):
        out |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return out


def test_one_parent_and_one_child_per_candidate(logged: dict) -> None:
    parents = [run for run in logged["runs"] if PARENT_RUN_TAG not in run.data.tags]
    assert [run.info.run_id for run in parents] == [logged["parent_id"]]
    assert set(_children(logged)) == set(CANDIDATES)
    assert len(logged["runs"]) == 1 + len(CANDIDATES)
    assert all(run.info.status == "FINISHED" for run in logged["runs"])


def test_experiment_keeps_artifacts_next_to_the_database(logged: dict) -> None:
    assert logged["experiment"].artifact_location == (logged["root"] / "mlartifacts").as_uri()


def test_child_metrics_equal_the_summary(logged: dict) -> None:
    for cid, run in _children(logged).items():
        candidate = logged["summary"]["candidates"][cid]
        metrics = run.data.metrics
        assert {k: metrics[k] for k in candidate["metrics"]} == pytest.approx(candidate["metrics"])
        for name, (low, high) in candidate["intervals"].items():
            assert (metrics[f"{name}.ci_low"], metrics[f"{name}.ci_high"]) == (low, high)
        for field, f1 in candidate["per_field_f1"].items():
            assert metrics[f"field_f1.{field}"] == f1
        for kind, count in candidate["failures"].items():
            assert metrics[f"failures.{kind}"] == count
        assert run.data.params["spec.decoding.max_tokens"] == "256"
        assert run.data.params["serving"] == candidate["serving"]


def test_parent_params_metrics_and_tags(logged: dict) -> None:
    run = logged["client"].get_run(logged["parent_id"])
    summary, params = logged["summary"], run.data.params
    assert run.data.metrics["verdict_code"] == 0  # not_proven
    assert run.data.tags["decision"] == "not_proven"
    assert run.data.tags["git_commit"] == summary["environment"]["git_commit"]
    assert params["model"] == summary["engine"]["engine_args"]["model"]
    assert params["gate.min_effect"] == "0.05"
    assert params["adapter.key"] == summary["adapter"]["key"]
    assert params["data.test.hash"] == "sha256:cc33"
    assert run.data.metrics["check.primary_significance.passed"] == 0.0
    assert run.data.metrics["cost.api_comparison.cost_usd_per_1k_requests.lora_short_merged"] == (
        summary["cost"]["api_comparison"]["cost_usd_per_1k_requests"]["lora_short@merged"])
    assert run.data.metrics["comparison.lora_short.vs.best_prompt.field_f1.p_holm"] == 0.081
    assert "comparison.lora_short.vs.best_prompt.record_exact_rate.ci_low" not in run.data.metrics


def test_the_verdicts_power_is_logged_on_the_parent(logged: dict) -> None:
    run = logged["client"].get_run(logged["parent_id"])
    power = logged["summary"]["verdict"]["power"]
    assert run.data.metrics["verdict.power.mde"] == power["mde"] == 0.094
    assert run.data.metrics["verdict.power.records_needed"] == power["records_needed"] == 110
    assert run.data.metrics["verdict.min_records"] == 20
    assert run.data.params["verdict.power.method"] == power["method"]
    assert run.data.params["verdict.power.note"] == "records for +0.062 to pass at 80% power"


def test_an_undefined_power_logs_no_metric_for_it(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["verdict"]["power"] |= {"mde": None, "records_needed": None, "note": "undefined: 1 record(s)"}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_report(run_dir)
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    run = MlflowClient(uri).get_run(log_run(run_dir, uri, EXPERIMENT)["parent_run_id"])
    assert "verdict.power.mde" not in run.data.metrics and "verdict.power.records_needed" not in run.data.metrics
    assert run.data.params["verdict.power.note"] == "undefined: 1 record(s)"


def test_logging_again_deletes_an_earlier_logging_that_was_cut_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = write_run_folder(tmp_path)
    write_report(run_dir)
    run_id = json.loads((run_dir / "summary.json").read_text())["run_id"]
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(EXPERIMENT, artifact_location=str(tmp_path / "artifacts"))
    cut_off = client.create_run(experiment_id, tags={"harness.run_id": run_id}, run_name="killed mid-way").info.run_id
    child = client.create_run(experiment_id, tags={PARENT_RUN_TAG: cut_off}, run_name="best_prompt").info.run_id
    other = client.create_run(experiment_id, tags={"harness.run_id": "another-run"}).info.run_id  # not this run's: kept
    parent = log_run(run_dir, uri, EXPERIMENT)["parent_run_id"]
    assert f"deleted an unfinished earlier logging of this run (parent run {cut_off})" in capsys.readouterr().out
    assert [client.get_run(r).info.lifecycle_stage for r in (cut_off, child, other, parent)] == ["deleted", "deleted", "active", "active"]
    live = client.search_runs([experiment_id], f"tags.`harness.run_id` = '{run_id}'")
    assert [r.info.run_id for r in live] == [parent] and live[0].info.status == "FINISHED"


def test_a_long_param_is_cut_with_a_marker(logged: dict) -> None:
    value = logged["client"].get_run(logged["parent_id"]).data.params[
        "engine.engine_args.chat_template"]
    assert len(value) == PARAM_VALUE_LIMIT
    assert value.endswith(f"…[truncated; {len(LONG_ARG)} characters in all]")


def test_artifacts_are_logged(logged: dict, tmp_path: Path) -> None:
    client = logged["client"]
    assert _artifacts(client, logged["parent_id"]) == {
        "summary.json", "report.md", "report.html", "data_card.md", "data_card.json",
        "plots/primary_metric.png", "plots/per_field_f1.png", "plots/latency.png",
        "plots/failures.png"}
    copy = client.download_artifacts(logged["parent_id"], "summary.json", str(tmp_path))
    assert json.loads(Path(copy).read_text()) == logged["summary"]
    for cid, run in _children(logged).items():
        expected = {f"predictions/{cid}.jsonl", "predictions_table.json"}
        if CANDIDATES[cid][0]:  # uses the adapter
            expected.add("adapter/manifest.json")
        if cid == logged["summary"]["verdict"]["adapter_candidate"]:  # the adapter under test
            expected |= {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"}
        assert _artifacts(client, run.info.run_id) == expected


def test_predictions_table_has_one_row_per_prediction(logged: dict, tmp_path: Path) -> None:
    child = _children(logged)["lora_short"]
    path = logged["client"].download_artifacts(child.info.run_id, "predictions_table.json",
                                               str(tmp_path))
    table = json.loads(Path(path).read_text())
    assert len(table["data"]) == 12 and "status" in table["columns"]


def test_training_run_logs_settings_history_and_files(logged: dict, tmp_path: Path) -> None:
    manifest = logged["summary"]["adapter"]["manifest"]
    history = [{"step": 10, "train_loss": 1.9, "dev_loss": None},
               {"step": 20, "train_loss": 1.2, "dev_loss": 1.4}]
    run_id = log_training(manifest, history, tmp_path / "adapter", logged["uri"], EXPERIMENT)
    client = logged["client"]
    run = client.get_run(run_id)
    assert run.data.params["settings.rank"] == "16" and run.data.params["key"] == manifest["key"]
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "train_loss")] == [
        (10, 1.9), (20, 1.2)]
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "dev_loss")] == [(20, 1.4)]
    assert run.data.metrics["manifest.train_seconds"] == 75.0
    assert _artifacts(client, run_id) == {"manifest.json", "history.jsonl"}


def test_logging_needs_the_report_first(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    with pytest.raises(HarnessError, match="write the report"):
        log_run(run_dir, f"sqlite:///{tmp_path}/mlruns.db", EXPERIMENT)


@pytest.mark.parametrize(("uri", "root", "expected"), [
    ("sqlite:////srv/h/mlruns.db", None, "file:///srv/h/mlartifacts"),
    ("sqlite:////srv/h/mlruns.db", "/data/art", "file:///data/art"),
    ("http://127.0.0.1:5000", None, None),
])
def test_artifact_location(uri: str, root: str | None, expected: str | None) -> None:
    assert artifact_location(uri, root) == expected


def test_an_unanchored_store_needs_an_artifact_root() -> None:
    with pytest.raises(HarnessError, match="artifact_root"):
        artifact_location("postgresql://db/mlflow")


def test_param_text_and_key_collisions() -> None:
    assert param_text([1, "a"]) == '[1, "a"]' and param_text(None) == "None"
    assert unique_keys({"a@b": 1, "a_b": 1}) == {"a_b": 1}
    with pytest.raises(ValueError, match="different values"):
        unique_keys({"a@b": 1, "a_b": 2})


def test_history_must_be_numbers_per_step() -> None:
    entries = [{"step": 1, "train_loss": 2.0, "lr": None}]
    assert history_metrics(entries) == [(1, {"train_loss": 2.0})]
    with pytest.raises(KeyError, match="step"):
        history_metrics([{"train_loss": 2.0}])
    with pytest.raises(ValueError, match="non-numeric"):
        history_metrics([{"step": 1, "phase": "warmup"}])
