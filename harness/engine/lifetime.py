"""Engine processes never outlive the run that started them.

A server the harness starts runs in its own process group (`spawn`), is remembered here and in a pid
file under a folder the caller names (`guard`), and is killed with its whole group on any exit of
the harness: a normal exit, an error or Ctrl-C (KeyboardInterrupt unwinds to the CLI, whose exit
runs the atexit hook), or SIGTERM (a handler kills, then exits with 128+15, by force if unwinding
hangs). Killing sends SIGTERM, waits a short grace, then SIGKILL (vLLM workers can ignore SIGTERM).
Every other descendant of this process (an in-process engine's core and workers where vLLM starts
them as processes, on CUDA, recorded in pid files once started) is killed the same way at exit.
After a `kill -9` of the harness nothing of this can run (and an orphaned vLLM worker spins on a
core), so `guard` first reaps the groups and processes that a dead harness recorded (checking each
process's start time, and its owner's, so a reused pid is left alone and a live harness, the caller
included, keeps what it recorded). This module knows processes and signals, nothing of vLLM or
tasks.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

import psutil

GRACE_S = 3.0
# An in-process engine whose work is done, where vLLM runs its core as a process (on CUDA; on the CPU the core runs in
# the harness's process and stops at once): how long vLLM gives that process to exit after SIGTERM before killing it and
# its worker. vLLM's default is 5 s; when the CPU engine still ran its core as a process, that core and its worker took
# about as long to tear down by themselves, so every close waited about 5 s for nothing (4.9 s before, 1.0 s after, on
# the AVX-512 EPYC: reports/benchmarks/engine-close-2026-12-04T194930+0000.json). Not measured on CUDA.
ENGINE_CLOSE_GRACE_S = 1.0
UNWIND_S = 15.0
_children: dict[int, Path | None] = {}  # process group id -> its pid file (None when not recorded)
_state: dict[str, Path | None] = {"pid_dir": None}
_installed: list[bool] = []


def guard(pid_dir: Path) -> list[int]:
    """Reap orphans a dead harness left recorded in `pid_dir`, record future children there, install the exit hooks."""
    pid_dir.mkdir(parents=True, exist_ok=True)
    _state["pid_dir"] = pid_dir
    install()
    return reap_orphans(pid_dir)


def install() -> None:
    """atexit and SIGTERM/SIGINT handlers that kill every child group (once per process)."""
    if _installed:
        return
    _installed.append(True)
    atexit.register(reap)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(number: int, frame: object) -> None:
    """Kill the children, then exit through the normal unwinding (finally blocks mark the run failed);
    a watchdog ends the process after `UNWIND_S` if the unwinding hangs (an engine client
    waiting on its killed engine core)."""
    reap()
    threading.Thread(target=_exit_after, args=(UNWIND_S, 128 + number), daemon=True).start()
    raise SystemExit(128 + number)


def _exit_after(seconds: float, code: int) -> None:
    time.sleep(seconds)
    os._exit(code)


def spawn(command: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start `command` (with `env`, else this process's environment) in a new process group that `reap` kills;
    record it in a pid file when guarded."""
    process = subprocess.Popen(list(command), start_new_session=True, env=env)
    pid_file = None
    if _state["pid_dir"] is not None:
        pid_file = _state["pid_dir"] / f"{process.pid}.json"
        pid_file.write_text(json.dumps({"pid": process.pid, **_owner(), "started": psutil.Process(process.pid).create_time(),
                                        "command": list(command)}))
    _children[process.pid] = pid_file
    install()
    return process


def record_descendants() -> None:
    """Record this process's descendants that no pid file names yet (an in-process engine's core and
    workers, which share this process's group) so that a run after a `kill -9` of this one kills them."""
    if _state["pid_dir"] is None:
        return
    for child in psutil.Process().children(recursive=True):
        pid_file = _state["pid_dir"] / f"{child.pid}.json"
        if child.pid in _children or pid_file.exists():
            continue
        try:
            entry = {"pid": child.pid, **_owner(), "started": child.create_time(), "command": child.cmdline(), "group": False}
        except psutil.Error:
            continue
        pid_file.write_text(json.dumps(entry))


def reap(grace_s: float = GRACE_S) -> None:
    """Kill every child group this process spawned and every other descendant: SIGTERM, grace, SIGKILL."""
    for group, pid_file in list(_children.items()):
        kill_group(group, grace_s)
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
        _children.pop(group, None)
    try:
        descendants = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in descendants:
        _signal(child, signal.SIGTERM)
    _, alive = psutil.wait_procs(descendants, timeout=grace_s)
    for child in alive:
        _signal(child, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=grace_s)
    forget_descendants()


def forget_descendants() -> None:
    """Remove the pid files this process recorded for descendants that are gone."""
    if _state["pid_dir"] is None:
        return
    for pid_file in _state["pid_dir"].glob("*.json"):
        try:
            entry = json.loads(pid_file.read_text())
        except (OSError, ValueError):
            continue
        if entry.get("group", True) is False and entry["owner_pid"] == os.getpid() and not _same_process(entry["pid"], entry["started"]):
            pid_file.unlink(missing_ok=True)


def kill_group(group: int, grace_s: float = GRACE_S) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it after `grace_s`."""
    for number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, number)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and group_alive(group):
            time.sleep(0.05)
        if not group_alive(group):
            return


def kill_process(process: psutil.Process, grace_s: float = GRACE_S) -> None:
    """SIGTERM one process, then SIGKILL it if it is still there after `grace_s`."""
    _signal(process, signal.SIGTERM)
    _, alive = psutil.wait_procs([process], timeout=grace_s)
    for left in alive:
        _signal(left, signal.SIGKILL)


def group_alive(group: int) -> bool:
    """Whether any live (not zombie) process is in the group."""
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == group and process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return False


def reap_orphans(pid_dir: Path) -> list[int]:
    """Kill the groups recorded by harness processes that are gone; return the pids reaped."""
    reaped = []
    for pid_file in sorted(pid_dir.glob("*.json")):
        try:
            entry = json.loads(pid_file.read_text())
        except (OSError, ValueError):
            continue
        owner = int(entry["owner_pid"])
        if _same_process(owner, entry["owner_started"]) if "owner_started" in entry else psutil.pid_exists(owner):
            continue  # its harness still runs (this very process included: a curve's next point); that run owns it
        if _same_process(int(entry["pid"]), float(entry["started"])):
            print(f"[engine] killing an engine left running by an earlier harness run (pid {entry['pid']})", flush=True)
            if entry.get("group", True):
                kill_group(int(entry["pid"]))
            else:
                with contextlib.suppress(psutil.Error):
                    kill_process(psutil.Process(int(entry["pid"])))
            reaped.append(int(entry["pid"]))
        pid_file.unlink(missing_ok=True)
    return reaped


def _owner() -> dict[str, float | int]:
    """Who records a pid file: this process, by pid and start time (a pid alone may be reused)."""
    return {"owner_pid": os.getpid(), "owner_started": psutil.Process().create_time()}


def _same_process(pid: int, started: float) -> bool:
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except psutil.Error:
        return False


def _signal(process: psutil.Process, number: int) -> None:
    try:
        process.send_signal(number)
    except psutil.Error:
        pass


def release(process: subprocess.Popen, grace_s: float = GRACE_S) -> None:
    """Stop one spawned child's group now (its engine is closed) and forget it."""
    kill_group(process.pid, grace_s)
    process.wait()
    pid_file = _children.pop(process.pid, None)
    if pid_file is not None:
        pid_file.unlink(missing_ok=True)
