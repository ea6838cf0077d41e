"""What an engine holds while it serves a batch: peak memory and peak KV-cache use, sampled.

`sample_usage(engine)` is an async context that, alongside the batch's requests, samples every
`interval_s` the memory the engine holds and the KV-cache share vLLM reports; `Peaks.usage()` is
the batch's `Usage` when it ends. Memory is the resident memory of the engine's process tree
on CPU (the harness process with an in-process engine's core and workers, or the server process
the harness started; harness.hardware.process_memory) and the GPU memory in use on CUDA (device-wide, from
`nvidia-smi`, so nothing here opens a CUDA context). A server the harness did not start is not
measured: `memory_measure` then says why. This module knows processes and the `Engine` protocol,
nothing of tasks or scoring.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from typing import AsyncIterator

from harness.engine.types import Engine, Usage
from harness.hardware.process_memory import tree_rss_bytes

INTERVAL_S = 0.5
GPU_QUERY = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]


def gpu_memory_used_bytes() -> int:
    """GPU memory in use on every visible device, summed (nvidia-smi reports MiB)."""
    answer = subprocess.run(GPU_QUERY, capture_output=True, text=True, check=True, timeout=10)
    return sum(int(line) for line in answer.stdout.split()) << 20


def memory_probe(engine: Engine) -> tuple[str, object]:
    """What to sample for this engine's memory, as (description, callable or None)."""
    if engine.settings.device == "cuda":
        if shutil.which("nvidia-smi") is None:
            return "not measured: nvidia-smi is not on PATH", None
        return "GPU memory in use (nvidia-smi, device-wide)", gpu_memory_used_bytes
    root = engine.memory_root()
    if root is None:
        return "not measured: the engine is a server this run did not start", None
    return "resident memory of the engine's process tree (sum of RSS)", lambda: tree_rss_bytes(root)


class Peaks:
    """The running peaks of one batch; `usage()` is what they came to."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.measure, self.probe = memory_probe(engine)
        self.memory: int | None = None
        self.kv_cache: float | None = None

    async def sample(self) -> None:
        if self.probe is not None:
            try:
                held = await asyncio.to_thread(self.probe)
            except (OSError, subprocess.SubprocessError, ValueError) as exc:  # a failed measurement, not a failed batch
                self.memory, self.measure, self.probe = None, f"not measured: {type(exc).__name__}: {exc}", None
            else:
                self.memory = max(self.memory or 0, held)
        kv = await self.engine.kv_cache_usage()
        if kv is not None:
            self.kv_cache = max(self.kv_cache or 0.0, kv)

    def usage(self) -> Usage:
        return Usage(self.memory, self.measure, self.kv_cache)


@contextlib.asynccontextmanager
async def sample_usage(engine: Engine, interval_s: float = INTERVAL_S) -> AsyncIterator[Peaks]:
    """Sample the engine's memory and KV-cache use until the block ends; then `peaks.usage()` holds the peaks."""
    peaks = Peaks(engine)

    async def keep_sampling() -> None:
        while True:
            await peaks.sample()
            await asyncio.sleep(interval_s)

    await engine.kv_cache_usage()  # drop what an earlier batch left in the engine's running peak
    sampler = asyncio.create_task(keep_sampling())
    try:
        yield peaks
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    await peaks.sample()  # the state at the end of the batch, when it ended normally
