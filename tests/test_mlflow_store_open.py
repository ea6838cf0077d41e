"""Opening one new sqlite MLflow store from several processes at once: every one gets a working client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.cache_files import lock_path

OPEN_AND_LIST = ("import sys; from harness.sinks.mlflow_store import open_client; "
                 "print(len(open_client(sys.argv[1]).search_experiments()))")


def test_processes_opening_a_new_store_together_all_succeed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    processes = [subprocess.Popen([sys.executable, "-c", OPEN_AND_LIST, uri], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in processes]
    assert all(code == 0 for code, _, _ in results), [err[-1500:] for code, _, err in results if code]
    assert all(out.splitlines()[-1] == "1" for _, out, _ in results)  # MLflow's Default experiment, in one whole store (a waiter says so first)
    assert lock_path(tmp_path / "mlruns.db").is_file()
