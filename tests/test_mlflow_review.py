"""What a reviewer finds in MLflow: the splits as run inputs, the predictions table's columns,
metric names, the adapter's registered version and the gate's alias (on a SQLite store and on a
real `mlflow server`), `harness log`, and an unreachable server as one line after the run folder
is complete. Real stores in tmp_path; the run folders are the shared fixture, no engine."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from test_report_run_folder import FIELDS, write_run_folder

from harness.cli import main
from harness.cli.commands import log_to_mlflow
from harness.errors import HarnessError
from harness.sinks.mlflow_store import store_errors
from harness.sinks.report import write_report
from harness.sinks.tracking import PARENT_RUN_TAG, log_run, predictions_table

ROOT = Path(__file__).resolve().parents[1]
MODEL = "contract_extraction-adapter"


def finished_run(root: Path, decision: str = "not_proven") -> Path:
    run_dir = write_run_folder(root, decision)
    write_report(run_dir)
    return run_dir


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(client: MlflowClient, parent_id: str) -> dict[str, str]:
    parent = client.get_run(parent_id)
    runs = client.search_runs([parent.info.experiment_id], f"tags.`{PARENT_RUN_TAG}` = '{parent_id}'")
    return {run.info.run_name: run.info.run_id for run in runs}


def inputs(client: MlflowClient, run_id: str) -> dict[str, dict]:
    """context -> {name, digest, source, hash} of a run's dataset inputs."""
    out = {}
    for item in client.get_run(run_id).inputs.dataset_inputs:
        tags = {tag.key: tag.value for tag in item.tags}
        out[tags["mlflow.data.context"]] = {"name": item.dataset.name, "digest": item.dataset.digest,
                                            "source": json.loads(item.dataset.source)["uri"], "hash": tags["harness.hash"]}
    return out


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("review")
    run_dir = finished_run(root)
    uri = f"sqlite:///{root}/mlruns.db"
    receipt = log_run(run_dir, uri, "harness")
    summary = json.loads((run_dir / "summary.json").read_text())
    client = MlflowClient(uri)
    return {"root": root, "uri": uri, "receipt": receipt, "summary": summary, "client": client,
            "children": children(client, receipt["parent_run_id"])}


def test_parent_run_has_every_split_as_a_dataset(sqlite_store: dict) -> None:
    found = inputs(sqlite_store["client"], sqlite_store["receipt"]["parent_run_id"])
    data = sqlite_store["summary"]["data"]
    assert set(found) == set(data["splits"])
    test = found["test"]
    assert test["name"] == "contract_extraction.test" and test["digest"] == "cc33" and test["hash"] == "sha256:cc33"
    assert test["source"] == f"{data['folder']}/test.jsonl"


def test_each_child_has_the_splits_it_was_scored_on_and_learned_from(sqlite_store: dict) -> None:
    client, runs = sqlite_store["client"], sqlite_store["children"]
    assert set(inputs(client, runs["best_prompt"])) == {"test"}
    assert set(inputs(client, runs["few_shot"])) == {"test", "few_shot_pool"}
    assert set(inputs(client, runs["lora_short"])) == {"test", "train"}


def test_child_metric_names_are_the_run_records(sqlite_store: dict) -> None:
    for cid, run_id in sqlite_store["children"].items():
        candidate = sqlite_store["summary"]["candidates"][cid]
        logged = set(sqlite_store["client"].get_run(run_id).data.metrics)
        expected = set(candidate["metrics"]) | {f"failures.{kind}" for kind in candidate["failures"]}
        expected |= {f"{name}.{end}" for name in candidate["intervals"] for end in ("ci_low", "ci_high")}
        assert logged == expected, cid


def test_predictions_table_leads_with_the_reviewer_columns(sqlite_store: dict, tmp_path: Path) -> None:
    run_id = sqlite_store["children"]["lora_short"]
    table = json.loads(Path(sqlite_store["client"].download_artifacts(run_id, "predictions_table.json", str(tmp_path))).read_text())
    leading = ["record_id", "status", "record_exact", *[f"correct_{f}" for f in FIELDS], "latency_s"]
    assert table["columns"][:len(leading)] == leading and len(table["data"]) == 12


def test_predictions_table_has_a_slice_column_when_records_carry_one() -> None:
    counts = {"parties": {"tp": 1, "fp": 0, "fn": 0, "tn": 0}, "governing_law": {"tp": 0, "fp": 1, "fn": 1, "tn": 0}}
    row = {"record_id": "r1", "split": "test", "ttft_s": 0.1, "latency_s": 0.5, "prompt_tokens": 9, "completion_tokens": 3,
           "finish_reason": "stop", "attempts": 1, "error": None, "text": "{}", "gold": {},
           "score": {"status": "valid", "record_exact": False, "extracted": False, "violation_path": None, "fields": counts}}
    plain = predictions_table([row])
    sliced = predictions_table([row | {"slice": "long_contracts"}])
    assert "slice" not in plain.columns and list(sliced.columns[:3]) == ["record_id", "slice", "status"]
    assert sliced.loc[0, "correct_parties"] and not sliced.loc[0, "correct_governing_law"]


def test_the_adapter_under_test_is_a_registered_version_with_its_identity(sqlite_store: dict) -> None:
    client, receipt, summary = sqlite_store["client"], sqlite_store["receipt"], sqlite_store["summary"]
    registered = receipt["registered_model"]
    assert registered["name"] == MODEL and registered["run_id"] == sqlite_store["children"]["lora_short"]
    version = client.get_model_version(MODEL, registered["version"])
    manifest = summary["adapter"]["manifest"]
    assert version.tags["adapter.key"] == summary["adapter"]["key"] and version.tags["verdict"] == "not_proven"
    assert (version.tags["base_model_hash"], version.tags["dataset_hash"]) == (manifest["base_model_hash"], manifest["dataset_hash"])
    assert version.source.endswith(f"{registered['run_id']}/artifacts/adapter")
    files = {item.path for item in client.list_artifacts(registered["run_id"], "adapter")}
    assert files == {"adapter/adapter_config.json", "adapter/adapter_model.safetensors", "adapter/manifest.json"}


def test_gate_aliases_champion_on_a_pass_and_challenger_otherwise(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    passed = log_to_mlflow(finished_run(tmp_path / "a", "adapter_wins"), uri, "harness", gate_passed=True)
    failed_dir = finished_run(tmp_path / "b", "adapter_loses")
    failed = log_to_mlflow(failed_dir, uri, "harness", gate_passed=False)
    client = MlflowClient(uri)
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == passed["registered_model"]["version"] == "1"
    assert str(client.get_model_version_by_alias(MODEL, "challenger").version) == failed["registered_model"]["version"] == "2"
    recorded = json.loads((failed_dir / "mlflow.json").read_text())
    assert recorded["registered_model"] == {"name": MODEL, "version": "2", "run_id": failed["registered_model"]["run_id"],
                                            "alias": "challenger"}


def test_harness_log_relogs_a_finished_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = finished_run(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    summary_bytes = (run_dir / "summary.json").read_bytes()
    assert main(["log", str(run_dir), "--tracking-uri", uri, "--experiment", "review"]) == 0
    assert (run_dir / "summary.json").read_bytes() == summary_bytes, "summary.json is written once; the receipt has its own file"
    receipt = json.loads((run_dir / "mlflow.json").read_text())
    client = MlflowClient(uri)
    assert client.get_run(receipt["parent_run_id"]).data.tags["decision"] == "not_proven"
    assert client.get_experiment_by_name("review") is not None and len(children(client, receipt["parent_run_id"])) == 5
    assert "registered model contract_extraction-adapter version 1" in capsys.readouterr().out


def test_harness_log_needs_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["log", str(tmp_path), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]) == 2
    assert "no summary.json" in capsys.readouterr().err


def test_an_unreachable_server_is_one_line_after_the_folder_is_complete(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = finished_run(tmp_path)
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    started = time.monotonic()
    assert main(["log", str(run_dir), "--tracking-uri", f"http://127.0.0.1:{free_port()}"]) == 2
    assert time.monotonic() - started < 15
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unreachable" in err[0] and f"harness log {run_dir}" in err[0]
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before


def test_train_with_an_unreachable_server_stops_before_training(capsys: pytest.CaptureFixture) -> None:
    started = time.monotonic()
    code = main(["train", "contract_extraction", "--root", str(ROOT), "--tracking-uri", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "unreachable" in err[0] and "--no-mlflow" in err[0]
    assert time.monotonic() - started < 15


def test_a_store_failing_midway_is_one_harness_error() -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(HarnessError, match=r"MLflow store http://x failed: boom .*harness log"):
        with store_errors("http://x", "log it later with harness log"):
            raise MlflowException("boom\nsecond line")


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on 127.0.0.1 with its own SQLite store and artifact store."""
    base, port = tmp_path_factory.mktemp("server"), free_port()
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{base}/server.db",
                               "--artifacts-destination", str(base / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1"], stdout=subprocess.DEVNULL, stderr=(base / "server.log").open("w"),
                              start_new_session=True, env=env)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (base / "server.log").read_text()[-2000:]
                time.sleep(1)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_a_tracking_server_gets_datasets_the_adapter_version_and_its_alias(tracking_server: str, tmp_path: Path) -> None:
    receipt = log_to_mlflow(finished_run(tmp_path, "adapter_wins"), tracking_server, "harness", gate_passed=True)
    client = MlflowClient(tracking_server)
    version = client.get_model_version_by_alias(MODEL, "champion")
    assert str(version.version) == receipt["registered_model"]["version"] and version.tags["verdict"] == "adapter_wins"
    assert version.source.startswith("mlflow-artifacts:/")
    copy = client.download_artifacts(version.run_id, "adapter/adapter_config.json", str(tmp_path))
    assert json.loads(Path(copy).read_text())["peft_type"] == "LORA"
    assert set(inputs(client, receipt["parent_run_id"])) == {"test", "train", "few_shot_pool"}
