"""Unit tests of the reliability guarantees that need no CLI run: prompt-only summaries and reports,
an external server in the report, gate output folders, contract encodings, short splits, run status
and bare --resume, endpoint-aware cache keys, redaction of secrets, servers bound to 127.0.0.1 and
writes that never follow a planted symlink."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from test_report_run_folder import write_run_folder

from harness.adapter.serving_mode import AdapterServing
from harness.hardware.precision import PrecisionDecision, decide_precision
from harness.serve.batch_store import BatchStore
from harness.cli.commands import prepare_output_folders
from harness.pipeline.compare import engine_identity, recorded_config
from harness.data.build import shortfall
from harness.data.cuad_layout import read_contracts
from harness.pipeline.data_stage import warn_shortfall
from harness.engine.inprocess import engine_kwargs
from harness.engine.server import server_command
from harness.engine.types import EngineSettings
from harness.errors import HarnessError
from harness.engine.prediction_log import Prediction, append_prediction
from harness.serve.prompt_choice import PromptChoice
from harness.task.records import Record
from harness.redaction import redact_text, redact_uri, secret_values
from harness.sinks.report import write_report
from harness.pipeline.run_config import Paths, RunConfig
from harness.record.run_record import environment, mark, open_run, resolve_resume, run_status, task_reports, write_json
from harness.record.run_summary import RunSummary, write_run_summary
from harness.task.specs import load_candidate, load_task
from harness.task.strict_yaml import to_dict
from harness.pipeline.run_facts import RunFacts
from run_sections import summarize

ROOT = Path(__file__).resolve().parent.parent
TASK = load_task(ROOT / "tasks", "contract_extraction")


def records(split: str, n: int) -> tuple[Record, ...]:
    gold = {name: None for name in TASK.fields} | {"governing_law": "New York", "parties": ["Acme Inc.", "Borealis LLC"]}
    return tuple(Record(f"{split}-{i}", f"doc-{split}-{i}", f"text {i}", gold, "synthetic") for i in range(n))


def prompt_only_run(tmp_path: Path) -> tuple[Path, RunSummary]:
    """summarize() over fake predictions of best_prompt and few_shot, as a run without an adapter would make."""
    candidates = tuple(load_candidate(ROOT / "candidates", cid) for cid in ("best_prompt", "few_shot"))
    splits = {"train": records("train", 2), "few_shot_pool": records("pool", 2), "dev": records("dev", 4), "test": records("test", 6)}
    run_dir, store = tmp_path / "run", BatchStore(tmp_path / "run")
    for label, split in (("best_prompt", "test"), ("few_shot", "test"), ("few_shot", "dev")):
        for i, record in enumerate(splits[split]):
            text = json.dumps(dict(record.gold)) if i % 2 else "{}"
            append_prediction(store.log_path(label, split), Prediction(record.id, label, split, text, 50, 20, 0.01, 0.1, "stop", 1))
        store.add_wall_seconds(label, split, 1.0)
    engine = {"mode": "server", "url": "http://127.0.0.1:8000", "engine_args": None, "server_command": None,
              "load_profile": {"concurrency": 2}, "adapter_cold_load_s": None}
    choice = PromptChoice("extract_plain", 3, "field_f1", {"extract_plain": 0.4, "extract_schema": 0.3, "extract_rules": 0.2}, "k")
    data = {"splits": {name: {"n": len(rs), "origin": "synthetic", "origins": {"synthetic": len(rs)}, "hash": "h"} for name, rs in splits.items()},
            "card_file": "data_card.md", "sources": None, "folder": str(tmp_path)}
    sections = {"engine": engine, "data": data, "environment": {"machine": "m", "device": "cpu", "versions": {}, "git_commit": None}}
    facts = RunFacts(TASK, candidates, splits, choice, (AdapterServing.DYNAMIC, AdapterServing.MERGED), AdapterServing.MERGED, 2.0, None, 13, sections)
    summary = summarize(facts, store, run_dir, "run-1")
    write_run_summary(run_dir, summary)
    (run_dir / "data_card.md").write_text("# Data card\n")
    return run_dir, summary


def test_a_prompt_only_comparison_has_no_verdict_to_give(tmp_path: Path) -> None:
    run_dir, summary = prompt_only_run(tmp_path)
    assert summary.verdict.decision == "no_verdict" and summary.verdict.adapter_candidate is None
    assert summary.verdict.baseline_candidate in ("best_prompt", "few_shot")
    assert summary.comparisons == () and set(summary.candidates) == {"best_prompt", "few_shot"}
    write_report(run_dir)
    markdown = (run_dir / "report.md").read_text()
    assert "NO VERDICT" in markdown and "no verdict to give" in markdown
    assert "No candidate of this run uses an adapter." in markdown


def test_the_report_of_an_external_server_says_its_arguments_are_unknown(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["engine"] |= {"mode": "server", "url": "http://10.0.0.5:8000", "engine_args": None}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_report(run_dir)
    assert "a server the harness did not start (http://10.0.0.5:8000)" in (run_dir / "report.md").read_text()


def test_gate_output_folders_are_made_up_front(tmp_path: Path) -> None:
    junit, markdown = tmp_path / "ci" / "deep" / "j.xml", tmp_path / "comment" / "pr.md"
    prepare_output_folders(("--junit", junit), ("--markdown", markdown), ("--junit", None))
    assert junit.parent.is_dir() and markdown.parent.is_dir()
    (tmp_path / "taken").write_text("")
    with pytest.raises(HarnessError, match="--junit"):
        prepare_output_folders(("--junit", tmp_path / "taken" / "j.xml"))
    with pytest.raises(HarnessError, match="is a folder"):
        prepare_output_folders(("--markdown", tmp_path / "comment"))


def test_a_latin1_contract_is_read_right_and_reported(cuad_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sorted((cuad_dir / "full_contract_txt").glob("*.txt"))[0]
    path.write_bytes(path.read_text(encoding="utf-8").replace("Seller", "Société").encode("latin-1"))
    contracts = read_contracts(cuad_dir, "--data")
    assert "Société" in contracts[0].text and "\ufffd" not in contracts[0].text
    out = capsys.readouterr().out
    assert str(path) in out and "not UTF-8" in out


def test_a_split_smaller_than_asked_is_a_printed_warning(capsys: pytest.CaptureFixture[str]) -> None:
    task = dataclasses.replace(TASK, data=dataclasses.replace(TASK.data, splits={"train": 2, "few_shot_pool": 2, "dev": 4, "test": 9}))
    built = {"train": records("train", 2), "few_shot_pool": records("pool", 2), "dev": records("dev", 4), "test": records("test", 6)}
    assert shortfall(task, built) == {"test": (6, 9)}
    warn_shortfall(task, built)
    assert "the test split holds 6 records, fewer than the 9 asked" in capsys.readouterr().out


def test_status_is_running_then_failed_or_complete_and_bare_resume_takes_the_newest_unfinished(tmp_path: Path) -> None:
    done = open_run(tmp_path, "t", {"a": 1}, None)
    mark(done, "complete")
    crashed = open_run(tmp_path, "t", {"a": 1}, None)
    assert run_status(crashed) == "running"
    mark(crashed, "failed", "KeyboardInterrupt")
    legacy = tmp_path / "t" / "20000101T000000Z-0000"
    legacy.mkdir()
    (legacy / "run_config.json").write_text("{}")
    newest = open_run(tmp_path, "t", {"a": 1}, None)
    mark(newest, "complete")
    assert run_status(legacy) == "failed" and run_status(done) == "complete"
    assert resolve_resume(tmp_path, "t", "unfinished") == crashed
    assert open_run(tmp_path, "t", {"a": 1}, "unfinished") == crashed and run_status(crashed) == "running"


def test_bare_resume_skips_a_run_that_is_running_now_and_says_when_none_is_left(tmp_path: Path) -> None:
    other = open_run(tmp_path, "t", {"a": 1}, None)
    write_json(other / "status.json", {"status": "running", "pid": os.getppid()})
    with pytest.raises(HarnessError, match="no unfinished run to resume"):
        resolve_resume(tmp_path, "t", "unfinished")


def run_config(tmp_path: Path, **changes: object) -> RunConfig:
    config = RunConfig(TASK, (), Paths.under(tmp_path), EngineSettings(model_dir="m"))
    return dataclasses.replace(config, **changes)


def test_latency_cache_keys_carry_the_serving_endpoint(tmp_path: Path) -> None:
    settings = EngineSettings(model_dir="m")
    identities = {engine_identity(run_config(tmp_path, **c), settings)["endpoint"] for c in (
        {"engine_mode": "inprocess"}, {"engine_mode": "server"}, {"engine_mode": "server", "server_url": "http://a:1"},
        {"engine_mode": "server", "server_url": "http://b:1"})}
    assert identities == {"inprocess", "server:started-by-harness", "server:http://a:1", "server:http://b:1"}
    assert engine_identity(run_config(tmp_path, engine_mode="server", server_url="http://u:pw@a:1"), settings)["endpoint"] == "server:http://***@a:1"


def test_latency_cache_keys_carry_the_hardware(tmp_path: Path) -> None:
    def on(cpu: str, gpu: str | None = None) -> PrecisionDecision:
        return PrecisionDecision("cpu" if gpu is None else "cuda", "float32", "auto", False, "test", {"model": cpu, "cores": 2}, gpu=gpu)

    settings = EngineSettings(model_dir="m")
    identities = [engine_identity(run_config(tmp_path, precision=on(*machine)), settings)["hardware"]
                  for machine in (("AMD EPYC 7B13",), ("Intel Xeon Platinum 8481C",), ("AMD EPYC 7B13", "NVIDIA H200"))]
    assert identities[0] == {"cpu": "AMD EPYC 7B13", "cores": 2, "gpu": None}
    assert len({json.dumps(identity, sort_keys=True) for identity in identities}) == 3


def test_credentials_in_uris_are_never_recorded(tmp_path: Path) -> None:
    assert redact_uri("http://user:hunter2@mlflow.example.com:5000/x") == "http://***@mlflow.example.com:5000/x"
    assert redact_uri("sqlite:////tmp/mlruns.db") == "sqlite:////tmp/mlruns.db"
    config = run_config(tmp_path, tracking_uri="https://bob:hunter2@mlflow.example.com", server_url="http://tok@10.0.0.1:8000",
                        engine_mode="server")

    class Data:
        hashes = {"test": "h"}

    recorded = json.dumps(recorded_config(config, "model-hash", Data()))  # type: ignore[arg-type]
    assert "hunter2" not in recorded and "tok@" not in recorded and "https://***@mlflow.example.com" in recorded


def test_secret_environment_values_are_found_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"HF_TOKEN": "hf_abcdef123", "DB_PASSWORD": "pa55word", "AWS_SECRET_ACCESS_KEY": "AKIA-xyz-1", "HOME": "/root", "API_KEY": "k"}
    assert set(secret_values(environ)) == {"hf_abcdef123", "pa55word", "AKIA-xyz-1"}
    text = redact_text("token hf_abcdef123 at http://me:pa55word@host/", secret_values(environ))
    assert "hf_abcdef123" not in text and "pa55word" not in text
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-value-31337")
    assert "tok-value-31337" not in json.dumps(environment(decide_precision("cpu"), "float32"))


def test_a_started_server_binds_127_0_0_1_only() -> None:
    command = server_command(EngineSettings(model_dir="/m"), 8123, {})
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert "0.0.0.0" not in command


def test_only_an_engine_that_serves_a_lora_enables_vllms_lora_support() -> None:
    assert "--enable-lora" not in server_command(EngineSettings(model_dir="/m"), 8123, {})
    assert not {"max_lora_rank", "max_loras"} & set(engine_kwargs(EngineSettings(model_dir="/m")))
    command = server_command(EngineSettings(model_dir="/m", enable_lora=True, max_lora_rank=8), 8123, {"adapter": "/a"})
    assert command[command.index("--max-lora-rank") + 1] == "8" and "--enable-lora" in command and "adapter=/a" in command
    assert engine_kwargs(EngineSettings(model_dir="/m", enable_lora=True))["enable_lora"] is True


def test_a_symlink_planted_in_the_reports_folder_is_not_followed(tmp_path: Path) -> None:
    reports, outside = tmp_path / "reports", tmp_path / "outside"
    reports.mkdir()
    outside.mkdir()
    (reports / "t").symlink_to(outside)
    with pytest.raises(HarnessError, match="leads outside the reports folder"):
        open_run(reports, "t", {}, None)
    assert list(outside.iterdir()) == []
    (reports / "u").mkdir()
    (reports / "u" / "planted").symlink_to(outside)
    (outside / "run_config.json").write_text("{}")
    with pytest.raises(HarnessError, match="no run 'planted'"):
        resolve_resume(reports, "u", "planted")
    assert task_reports(reports, "u") == reports / "u"


def test_specs_record_no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANOTHER_SECRET", "sec-ret-value-99")
    assert "sec-ret-value-99" not in json.dumps(to_dict(run_config(tmp_path)), default=str)
