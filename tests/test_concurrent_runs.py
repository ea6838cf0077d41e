"""Two whole comparisons at once on one cache, one reports folder and one MLflow store.

Both are real `harness compare` processes (in-process vLLM on the CPU, the embedded model, a LoRA
trained here) started together on the same small synthetic splits, so they contend for every
shared entry at once: the data build, the adapter training, the prompt choice, the baseline cache,
the merged copy and the MLflow store. Each must finish (exit 0) with its own complete run folder;
the adapter is trained once (the other run waits, then reuses it); every cache entry is whole
and no temporary name is left behind. The candidates stop after 32 new tokens and training takes
one example per step (tests/short_answers.py): the test proves sharing, not answer quality.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.training.adapter_store import staging_dir
from harness.training.model_prep import prepare_default_model
from harness.task.probes import PROBES
from short_answers import short_answer_root

ROOT = Path(__file__).resolve().parents[1]
TASK = "contract_extraction"
TEST_N, DEV_N, CANARIES = 4, 2, 2
RUN = ["--synthetic", "--train-size", "16", "--few-shot-pool-size", "4", "--dev-size", str(DEV_N), "--test-size", str(TEST_N), "--slice-records", "0",
       "--candidates", "best_prompt,lora_short", "--max-steps", "4", "--batch-size", "1", "--parity-sample", "0", "--canaries", str(CANARIES),
       "--serving", "merged", "--min-records", str(TEST_N)]

pytestmark = pytest.mark.slow


def test_two_comparisons_at_once_share_one_cache_and_each_completes(tmp_path: Path) -> None:
    model = prepare_default_model(ROOT / ".cache")
    (tmp_path / "cache" / "models").mkdir(parents=True)
    (tmp_path / "cache" / "models" / model.name).symlink_to(model)
    root = short_answer_root(tmp_path / "root", max_tokens=32)
    args = ["--root", str(root), "--cache-dir", str(tmp_path / "cache"), "--reports-dir", str(tmp_path / "reports"),
            "--tracking-uri", f"sqlite:///{tmp_path}/mlruns.db"]
    logs = [tmp_path / f"run{n}.log" for n in (1, 2)]
    processes = []
    try:
        for log in logs:
            with log.open("w") as out:
                processes.append(subprocess.Popen([sys.executable, "-m", "harness.cli", "compare", TASK, *args, *RUN], cwd=ROOT,
                                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        codes = [process.wait(timeout=1800) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
    said = [log.read_text() for log in logs]
    assert codes == [0, 0], [text[-2500:] for text in said]
    check_the_shared_cache(tmp_path / "cache", said)
    check_each_run_folder(tmp_path / "reports" / TASK)


def check_the_shared_cache(cache: Path, said: list[str]) -> None:
    assert sum("[train] reusing adapter" in text for text in said) == 1, "the adapter is trained once, by one of the runs"
    assert sum("[cache] waiting for another run's training of adapter" in text for text in said) == 1, \
        "the other run reached the training while it was under way, waited, then reused the adapter"
    (adapter,) = [p for p in (cache / "adapters" / TASK).iterdir() if not p.name.startswith(".")]
    assert json.loads((adapter / "manifest.json").read_text())["key"] == adapter.name
    assert not staging_dir(cache / "adapters" / TASK, adapter.name).exists(), "the trained adapter's staging folder is gone once published"
    (data,) = [p for p in (cache / "data" / TASK).iterdir() if not p.name.startswith(".")]
    assert (data / "data_card.json").is_file()
    assert len([p for p in (cache / "merged").iterdir() if not p.name.startswith(".")]) == 1
    assert not [str(p) for p in cache.rglob(".*") if p.name.endswith((".building", ".retired", ".tmp"))]


def check_each_run_folder(reports: Path) -> None:
    runs = sorted(reports.glob("2*"))
    assert len(runs) == 2
    for run_dir in runs:
        assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"
        summary = json.loads((run_dir / "summary.json").read_text())
        assert set(summary["candidates"]) == {"best_prompt", "lora_short@merged"}
        assert all(entry["metrics"]["n"] == TEST_N for entry in summary["candidates"].values())
        assert json.loads((run_dir / "mlflow.json").read_text())["parent_run_id"] and (run_dir / "report.html").is_file()
        for log in (run_dir / "raw").glob("*.jsonl"):
            ids = [json.loads(line)["record_id"] for line in log.read_text().splitlines()]
            assert len(ids) == len(set(ids)) == {"test": TEST_N, "dev": DEV_N, "canary": CANARIES, "regression": len(PROBES)}[log.name.split(".")[-2]], log
    assert (reports / "latest").resolve() in runs
