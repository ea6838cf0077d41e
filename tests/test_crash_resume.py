"""A real comparison killed at every stage, resumed each time, ends exactly as an uninterrupted one.

The harness runs as a user runs it (`python -m harness.cli compare`, in-process vLLM on the CPU, the
embedded model, a LoRA trained here), on small splits of the real contracts. The test watches the
run from outside and kills it when the next stage is under way: `kill -9` mid data build,
mid-training (after a checkpoint), mid-way through the first prompt-only candidate's test batch (two
requests at a time in flight, so the batch is provably unfinished), SIGTERM mid-way through the
merged engine's (it must end with exit 143, status `failed` and no engine process left), `kill -9`
once summary.json is written (the report still to come), and while MLflow logs the finished run,
which `harness log` then logs whole. After each kill, every process the harness had started (vLLM's
engine core and workers) must be gone, by itself or reaped by the next run, and each bare `--resume`
continues the newest unfinished run. A torn last line (a write cut off by a kill) is planted once.
At the end every batch holds each record exactly once (no request sent twice, the torn line
dropped), every batch that was complete at a kill is byte-for-byte unchanged, and the run is
complete with its report and one finished MLflow parent run. The adapter is served both ways,
dynamically (a LoRARequest on the base engine, whose LoRA support is on for it) and merged, so the
resumed run holds every candidate of both engines; the few-shot candidate, whose long prompts take
the same path as the first candidate's, is left out. The candidates stop after 32 new tokens and
training takes one example per step (tests/short_answers.py): the test proves resumption, not answer
quality.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import psutil
import pytest

from harness.training.model_prep import prepare_default_model
from harness.task.probes import PROBES
from short_answers import short_answer_root

ROOT = Path(__file__).resolve().parents[1]
TASK = "contract_extraction"
TEST_N, DEV_N, CANARIES = 4, 2, 2
SIZES = ["--train-size", "16", "--few-shot-pool-size", "4", "--dev-size", str(DEV_N), "--test-size", str(TEST_N), "--slice-records", "0"]
# 12 optimizer steps of one example: a checkpoint is written at step 10, so the kill in training lands after one.
# Two requests in flight: when a batch's first line is written, at least two of its four requests are not yet sent.
CANDIDATES = ["best_prompt", "lora_short", "guided_json"]
RUN = [*SIZES, "--candidates", ",".join(CANDIDATES), "--max-steps", "12", "--batch-size", "1", "--parity-sample", "0",
       "--canaries", str(CANARIES), "--serving", "dynamic,merged", "--min-records", str(TEST_N), "--concurrency", "2"]
STAGE_TIMEOUT_S = 1500

pytestmark = pytest.mark.slow


class Harness:
    """One `harness compare` process and every descendant it has been seen with."""

    def __init__(self, base: Path, name: str, *extra: str) -> None:
        self.log = base / f"{name}.log"
        args = ["--root", str(project_root(base)), "--cache-dir", str(base / "cache"), "--reports-dir", str(base / "reports"),
                "--tracking-uri", tracking_uri(base)]
        with self.log.open("w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "harness.cli", "compare", TASK, *args, *RUN, *extra], cwd=ROOT,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.seen: dict[int, float] = {}

    def watch(self) -> None:
        try:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                self.seen.setdefault(child.pid, child.create_time())
        except psutil.NoSuchProcess:
            pass

    def kill_when(self, ready: Callable[[], bool], sig: signal.Signals, what: str) -> int:
        """Send `sig` as soon as `ready()`; fail when the run ends first."""
        deadline = time.monotonic() + STAGE_TIMEOUT_S
        while not ready():
            self.watch()
            if self.process.poll() is not None:
                pytest.fail(f"the run ended (exit {self.process.returncode}) before {what}: {self.log.read_text()[-2500:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {STAGE_TIMEOUT_S} s: {self.log.read_text()[-2500:]}")
            time.sleep(0.1)
        self.watch()
        os.kill(self.process.pid, sig)
        return self.process.wait(timeout=120)

    def finish(self) -> int:
        return self.process.wait(timeout=STAGE_TIMEOUT_S)

    def survivors(self) -> list[str]:
        """Descendants seen earlier that still run (same pid and start time)."""
        alive = []
        for pid, started in self.seen.items():
            try:
                process = psutil.Process(pid)
                if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{pid} {process.name()}")
            except psutil.NoSuchProcess:
                pass
        return alive


def wait_gone(run: Harness, within_s: float) -> list[str]:
    deadline = time.monotonic() + within_s
    while run.survivors() and time.monotonic() < deadline:
        time.sleep(0.5)
    return run.survivors()


def project_root(base: Path) -> Path:
    """The short-answer project folder every run of the test is started with."""
    return base / "root"


def tracking_uri(base: Path) -> str:
    return f"sqlite:///{base}/mlruns.db"


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def newest_run(base: Path) -> Path | None:
    runs = sorted((base / "reports" / TASK).glob("2*"))
    return runs[-1] if runs else None


def batch_has(base: Path, name: str, n: int) -> Callable[[], bool]:
    return lambda: (run := newest_run(base)) is not None and lines(run / "raw" / name) >= n


def expected_lines(batch: Path) -> int:
    return {"test": TEST_N, "dev": DEV_N, "canary": CANARIES, "regression": len(PROBES)}[batch.name.split(".")[-2]]


def data_build_under_way(base: Path) -> Callable[[], bool]:
    return lambda: any(p.name.endswith(".building") for p in (base / "cache" / "data" / TASK).glob(".*"))


def mlflow_logging_under_way(base: Path) -> Callable[[], bool]:
    """True once MLflow holds a child run of an unfinished parent: the run is being logged."""
    def logging() -> bool:
        try:
            with contextlib.closing(sqlite3.connect(f"file:{base}/mlruns.db?mode=ro", uri=True, timeout=1)) as db:
                return db.execute("SELECT count(*) FROM tags t JOIN runs p ON p.run_uuid = t.value "
                                  "WHERE t.key = 'mlflow.parentRunId' AND p.status = 'RUNNING'").fetchone()[0] > 0
        except sqlite3.Error:  # no store yet, or its tables are being created
            return False
    return logging


# (what is under way, when to kill, the signal, whether it resumes a run, the batch it kills mid-way)
KILLS = [
    ("the data build", data_build_under_way, signal.SIGKILL, False, None),
    ("a training checkpoint", lambda base: lambda: any((p / "state.json").is_file() and not p.name.endswith(".partial")
                                                       for p in (base / "cache" / "adapters").rglob("checkpoint-*")), signal.SIGKILL, False, None),
    ("best_prompt's test batch", lambda base: batch_has(base, "best_prompt.test.jsonl", 1), signal.SIGKILL, True, "best_prompt.test.jsonl"),
    ("the merged engine's test batch", lambda base: batch_has(base, "lora_short@merged.test.jsonl", 1), signal.SIGTERM, True,
     "lora_short@merged.test.jsonl"),
    ("summary.json", lambda base: lambda: (run := newest_run(base)) is not None and (run / "summary.json").is_file(), signal.SIGKILL, True, None),
    ("MLflow logging", mlflow_logging_under_way, signal.SIGKILL, True, None),
]


def test_a_comparison_killed_at_every_stage_resumes_to_exact_counts(tmp_path: Path) -> None:
    model = prepare_default_model(ROOT / ".cache")
    short_answer_root(project_root(tmp_path), max_tokens=32)
    (tmp_path / "cache" / "models").mkdir(parents=True)
    (tmp_path / "cache" / "models" / model.name).symlink_to(model)
    runs: list[Harness] = []
    try:
        check_every_stage(tmp_path, runs)
    finally:
        for run in runs:  # a failed check leaves nothing running
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)
            for pid in (int(entry.split()[0]) for entry in run.survivors()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def check_every_stage(tmp_path: Path, runs: list[Harness]) -> None:
    previous: Harness | None = None
    finished: dict[Path, bytes] = {}  # batches complete at some kill: they must end unchanged
    for step, (what, ready, sig, resume, batch) in enumerate(KILLS):
        run = Harness(tmp_path, f"run{step}", *(["--resume"] if resume else []))
        runs.append(run)
        code = run.kill_when(ready(tmp_path), sig, what)
        assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + signal.SIGTERM), (what, code)
        if batch is not None:
            assert lines(newest_run(tmp_path) / "raw" / batch) < TEST_N, f"the kill during {what} came after the batch was done"
        if sig == signal.SIGTERM:
            assert not wait_gone(run, 10), f"SIGTERM left engine processes running: {run.survivors()}"
            status = json.loads((newest_run(tmp_path) / "status.json").read_text())
            assert status["status"] == "failed", status
        if previous is not None:
            assert not previous.survivors(), f"processes of the run killed before {what} outlived the next run's start: {previous.survivors()}"
        if batch == "best_prompt.test.jsonl":
            with (newest_run(tmp_path) / "raw" / batch).open("a") as log:
                log.write('{"record_id": "torn mid-wr')  # what a kill during a write leaves
        if newest_run(tmp_path) is not None:
            finished |= {log: log.read_bytes() for log in (newest_run(tmp_path) / "raw").glob("*.jsonl") if lines(log) == expected_lines(log)}
        previous = run
    log = tmp_path / "harness-log.log"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "log", str(newest_run(tmp_path)), "--tracking-uri", tracking_uri(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "deleted an unfinished earlier logging of this run" in done.stdout
    assert not wait_gone(previous, 10), f"processes of a killed run outlived the last run: {previous.survivors()}"
    check_the_finished_run(tmp_path, runs, finished)


def check_the_finished_run(tmp_path: Path, runs: list[Harness], finished: dict[Path, bytes]) -> None:
    from mlflow.tracking import MlflowClient

    assert "[train] resuming from the checkpoint at step 10" in runs[2].log.read_text(), "training resumed from its checkpoint"
    assert not [p for p in (tmp_path / "cache").rglob(".*") if p.name.endswith((".building", ".retired", ".tmp"))], "a killed build was left"
    run_dir = newest_run(tmp_path)
    assert [p.name for p in (tmp_path / "reports" / TASK).glob("2*")] == [run_dir.name], "every resume continued the one run"
    assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"
    for log in (run_dir / "raw").glob("*.jsonl"):
        ids = [json.loads(line)["record_id"] for line in log.read_text().splitlines()]
        assert len(ids) == len(set(ids)) == expected_lines(log), (log.name, ids)
    assert all(log.read_bytes() == before for log, before in finished.items()), "a batch complete at a kill was rewritten"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert all(entry["metrics"]["n"] == TEST_N for entry in summary["candidates"].values())
    assert summary["adapter"]["manifest"]["settings"]["max_steps"] == 12 and summary["adapter_checks"]["liveness"]["passed"]
    assert summary["engine"]["session"].startswith("not started") and summary["engine"]["merged"]["session"].startswith("not started")
    assert set(summary["candidates"]) == {*CANDIDATES, "lora_short@merged"}
    assert set(summary["engine"]["adapter_serving"]) == {"dynamic", "merged"} and "regression.adapter" in summary["regression"]["pass_rates"]
    assert summary["engine"]["engine_args"]["enable_lora"] and summary["engine"]["merged"]["engine_args"]["enable_lora"], \
        "dynamic serving: both engines have LoRA support, so the merged adapter is timed under the baseline's settings"
    assert (run_dir / "report.html").is_file()
    client, receipt = MlflowClient(tracking_uri(tmp_path)), json.loads((run_dir / "mlflow.json").read_text())
    parents = client.search_runs([client.get_experiment_by_name(receipt["experiment"]).experiment_id],
                                 f"tags.`harness.run_id` = '{run_dir.name}'")
    assert [p.info.run_id for p in parents] == [receipt["parent_run_id"]] and parents[0].info.status == "FINISHED"
    children = client.search_runs([parents[0].info.experiment_id], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'")
    assert sorted(c.info.run_name for c in children) == sorted(summary["candidates"])
