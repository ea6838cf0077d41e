"""A real comparison killed at every stage, resumed each time, ends exactly as an uninterrupted one.

The harness runs as a user runs it (`python -m harness.cli compare`, in-process vLLM on the CPU,
the embedded model, a LoRA trained here), on small synthetic splits. The test watches the run from
outside and kills it when the next stage is under way: `kill -9` mid-training (after a checkpoint),
`kill -9` mid-way through the base engine's test batches, SIGTERM while the merged engine serves,
and `kill -9` once summary.json is written (the report and MLflow still to come). After each kill,
every process the harness had started (vLLM's engine core and workers) must be gone, by itself or
reaped by the next run, and each bare `--resume` continues the newest unfinished run. At the end
every batch holds each record exactly once (no request sent twice, torn lines dropped), and the
run is complete with its report and its MLflow parent run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import psutil
import pytest

from harness.model_prep import prepare_default_model

ROOT = Path(__file__).resolve().parents[1]
TASK = "contract_extraction"
TEST_N, DEV_N = 4, 2
SIZES = ["--synthetic", "--train-size", "16", "--few-shot-pool-size", "4", "--dev-size", str(DEV_N), "--test-size", str(TEST_N)]
# 12 optimizer steps: a checkpoint is written at step 10, so the kill in training lands after one.
RUN = [*SIZES, "--max-steps", "12", "--parity-sample", "0", "--canaries", "2", "--serving", "merged", "--min-records", str(TEST_N)]
STAGE_TIMEOUT_S = 1500

pytestmark = pytest.mark.slow


class Harness:
    """One `harness compare` process and every descendant it has been seen with."""

    def __init__(self, base: Path, name: str, *extra: str) -> None:
        self.log = base / f"{name}.log"
        args = ["--root", str(ROOT), "--cache-dir", str(base / "cache"), "--reports-dir", str(base / "reports"),
                "--tracking-uri", f"sqlite:///{base}/mlruns.db"]
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


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def newest_run(base: Path) -> Path | None:
    runs = sorted((base / "reports" / TASK).glob("2*"))
    return runs[-1] if runs else None


def batch_has(base: Path, name: str, n: int) -> Callable[[], bool]:
    return lambda: (run := newest_run(base)) is not None and lines(run / "raw" / name) >= n


def test_a_comparison_killed_at_every_stage_resumes_to_exact_counts(tmp_path: Path) -> None:
    model = prepare_default_model(ROOT / ".cache")
    (tmp_path / "cache" / "models").mkdir(parents=True)
    (tmp_path / "cache" / "models" / model.name).symlink_to(model)
    kills = [
        ("a training checkpoint", lambda: any((p / "state.json").is_file() and not p.name.endswith(".partial")
                                               for p in (tmp_path / "cache" / "adapters").rglob("checkpoint-*")), signal.SIGKILL),
        ("two base-engine test predictions", batch_has(tmp_path, "best_prompt.test.jsonl", 2), signal.SIGKILL),
        ("a merged-engine test prediction", batch_has(tmp_path, "lora_short@merged.test.jsonl", 1), signal.SIGTERM),
        ("summary.json", lambda: (run := newest_run(tmp_path)) is not None and (run / "summary.json").is_file(), signal.SIGKILL),
    ]
    runs: list[Harness] = []
    try:
        check_every_stage(tmp_path, kills, runs)
    finally:
        for run in runs:  # a failed check leaves nothing running
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)
            for pid in (int(entry.split()[0]) for entry in run.survivors()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def check_every_stage(tmp_path: Path, kills: list[tuple[str, Callable[[], bool], signal.Signals]], runs: list[Harness]) -> None:
    previous: Harness | None = None
    for step, (what, ready, sig) in enumerate(kills):
        run = Harness(tmp_path, f"run{step}", *(["--resume"] if step else []))
        runs.append(run)
        code = run.kill_when(ready, sig, what)
        assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + signal.SIGTERM), (what, code)
        if sig == signal.SIGTERM:
            assert not wait_gone(run, 10), f"SIGTERM left engine processes running: {run.survivors()}"
            status = json.loads((newest_run(tmp_path) / "status.json").read_text())
            assert status["status"] == "failed", status
        if previous is not None:
            assert not previous.survivors(), f"processes of the run killed before {what} outlived the next run's start: {previous.survivors()}"
        previous = run
    assert "[train] resuming from the checkpoint at step 10" in runs[1].log.read_text(), "training resumed from its checkpoint"
    last = Harness(tmp_path, "final", "--resume")
    runs.append(last)
    assert last.finish() == 0, last.log.read_text()[-3000:]
    assert not wait_gone(previous, 10), f"processes of a killed run outlived the final run: {previous.survivors()}"

    run_dir = newest_run(tmp_path)
    assert [p.name for p in (tmp_path / "reports" / TASK).glob("2*")] == [run_dir.name], "every resume continued the one run"
    assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"
    for log in (run_dir / "raw").glob("*.jsonl"):
        ids = [json.loads(line)["record_id"] for line in log.read_text().splitlines()]
        expected = {"test": TEST_N, "dev": DEV_N, "canary": 2}[log.name.split(".")[-2]]
        assert len(ids) == len(set(ids)) == expected, (log.name, ids)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert all(entry["metrics"]["n"] == TEST_N for entry in summary["candidates"].values())
    assert summary["adapter"]["manifest"]["settings"]["max_steps"] == 12 and summary["adapter_checks"]["liveness"]["passed"]
    assert (run_dir / "report.html").is_file() and summary["mlflow"]["parent_run_id"]
