"""Engine processes never outlive the harness: a dummy long-running child stands in for vLLM.

Each test runs a small driver in its own Python process that spawns the child through
harness.engine.lifetime and then exits normally, raises, is sent SIGTERM or SIGINT, or is killed
with -9; the child (which ignores SIGTERM, as vLLM's workers can) and a recorded grandchild in the
harness's own group (as an in-process engine's core) must be gone within seconds, a SIGTERM whose
unwinding hangs still ends the process, and after a kill -9 the next guarded run must reap both from
their pid files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
DRIVER = """
import faulthandler, signal, sys, time
from pathlib import Path
from harness.engine import lifetime
faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks where a stand-in that will not exit is stuck
lifetime.guard(Path(sys.argv[1]))
child = lifetime.spawn([sys.executable, "-c", {stubborn!r}])
grandchild_free = __import__("subprocess").Popen([sys.executable, "-c", "import time; time.sleep(600)"])
lifetime.record_descendants()  # as an in-process engine does once its core and workers run
print(child.pid, grandchild_free.pid, flush=True)
how = sys.argv[2]
if how == "exit":
    sys.exit(0)
if how == "error":
    raise RuntimeError("boom")
if how == "hang":  # unwinding that never ends, as an async engine client waiting on its killed core
    try:
        time.sleep(600)
    finally:
        time.sleep(600)
time.sleep(600)
""".format(stubborn=STUBBORN)


def start_driver(pid_dir: Path, how: str) -> tuple[subprocess.Popen, list[int]]:
    # Ctrl-C reaches a harness started from a terminal: a suite launched as a background job of a shell
    # without job control inherits SIGINT ignored (POSIX), and Python then keeps ignoring it.
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(pid_dir), how], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pids = [int(p) for p in driver.stdout.readline().split()]
    return driver, pids


def end(driver: subprocess.Popen, pids: list[int], what: str, within_s: float = 90.0) -> None:
    """Wait for the stand-in to exit; when it does not, fail with where it is stuck (its stacks, its signal
    state) after killing it and its children."""
    try:
        driver.wait(timeout=within_s)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        state = [line.strip() for line in Path(f"/proc/{driver.pid}/status").read_text().splitlines() if line.startswith(("State", "Sig", "Shd"))]
    except OSError as exc:
        state = [repr(exc)]
    os.kill(driver.pid, signal.SIGUSR1)
    time.sleep(1.0)
    for pid in [driver.pid, *pids]:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    pytest.fail(f"the harness stand-in did not exit within {within_s:.0f} s after {what}; {state}; "
                f"its stderr: {driver.communicate(timeout=10)[1][-4000:]}")


def gone(pids: list[int], within_s: float = 15.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("how, send", [("exit", None), ("error", None), ("wait", signal.SIGTERM), ("wait", signal.SIGINT),
                                       ("hang", signal.SIGTERM)])
def test_no_child_outlives_the_harness(tmp_path: Path, how: str, send: signal.Signals | None) -> None:
    driver, pids = start_driver(tmp_path / "engines", how)
    try:
        assert how != "wait" or all(alive(pid) for pid in pids)
        if send is not None:
            time.sleep(0.3)
            driver.send_signal(send)
        end(driver, pids, f"{how}/{send}")
        assert how != "hang" or driver.returncode == 128 + signal.SIGTERM, "a hung unwinding ends by the watchdog's exit code"
        assert gone(pids), f"still running after {how}/{send}: {[p for p in pids if alive(p)]}"
        assert list((tmp_path / "engines").glob("*.json")) == []
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_after_kill_9_the_next_guarded_run_reaps_the_orphan(tmp_path: Path) -> None:
    pid_dir = tmp_path / "engines"
    driver, (child, free) = start_driver(pid_dir, "wait")
    try:
        driver.kill()
        driver.wait(timeout=30)
        time.sleep(0.5)
        assert alive(child) and alive(free), "a kill -9 gives the harness no chance; the orphans are still there"
        assert json.loads((pid_dir / f"{child}.json").read_text())["pid"] == child
        assert json.loads((pid_dir / f"{free}.json").read_text())["group"] is False, "a recorded descendant in the harness's group"
        reaper = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from harness.engine import lifetime; "
                                 "print(sorted(lifetime.reap_orphans(Path(sys.argv[1]))))", str(pid_dir)],
                                capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert str(sorted([child, free])) in reaper.stdout and "earlier harness run" in reaper.stdout
        assert gone([child, free])
        assert list(pid_dir.glob("*.json")) == []
    finally:
        for pid in (child, free):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_live_harness_keeps_its_engine(tmp_path: Path) -> None:
    driver, (child, free) = start_driver(tmp_path / "engines", "wait")
    try:
        from harness.engine.lifetime import reap_orphans

        assert reap_orphans(tmp_path / "engines") == [] and alive(child)
    finally:
        driver.terminate()
        end(driver, [child, free], "SIGTERM")
        assert gone([child, free])


def test_a_harness_guarding_again_keeps_what_it_recorded(tmp_path: Path) -> None:
    """`harness curve` runs one comparison per size in one process: each guards the same folder, and
    the next one must not take the process's own recorded descendants for an earlier run's orphans."""
    again = DRIVER.replace('how = sys.argv[2]', 'print(lifetime.guard(Path(sys.argv[1])), flush=True)\nhow = sys.argv[2]')
    driver = subprocess.Popen([sys.executable, "-c", again, str(tmp_path / "engines"), "wait"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        pids = [int(p) for p in driver.stdout.readline().split()]
        second_guard = driver.stdout.readline().strip()
        assert second_guard == "[]", second_guard
        assert all(alive(pid) for pid in pids)
    finally:
        driver.terminate()
        end(driver, pids, "SIGTERM")
        assert gone(pids)


def test_an_orphan_whose_owner_pid_was_reused_is_reaped(tmp_path: Path) -> None:
    """The pid file names a live process as owner, but one started at another time: the pid was
    reused, the recording harness is dead, and its orphan is killed."""
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        pid_dir = tmp_path / "engines"
        pid_dir.mkdir()
        (pid_dir / f"{orphan.pid}.json").write_text(json.dumps({
            "pid": orphan.pid, "owner_pid": os.getpid(), "owner_started": psutil.Process().create_time() - 3600,
            "started": psutil.Process(orphan.pid).create_time(), "command": ["sleep"], "group": False}))
        from harness.engine.lifetime import reap_orphans

        assert reap_orphans(pid_dir) == [orphan.pid]
        orphan.wait(timeout=15)
    finally:
        if orphan.poll() is None:
            orphan.kill()
