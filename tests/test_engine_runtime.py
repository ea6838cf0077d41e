"""The CPU engine's runtime: which environment the engine's processes get, and that a real engine runs in it.

The pure part checks the variables harness.engine.runtime sets for each device and preload choice.
The engine part starts the real CPU engine once and reads its process tree: the model runs in
vLLM's engine-core process (no worker process beside it), which was spawned from an environment
holding the runtime's variables (its own /proc environ is overwritten when vLLM sets its process
title, so the spawning environment is what can be read), and closing it puts back the variables it set.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil
import pytest

from harness.engine.runtime import SMALL_MACHINE_CORES, engine_runtime, find_tcmalloc
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parents[1]


def test_the_cpu_runtime_runs_the_model_in_the_engine_core_with_sleeping_waits() -> None:
    environment = engine_runtime("cpu", preload="none", threads_bind="0").environment({})
    assert environment == {"VLLM_CPU_OMP_THREADS_BIND": "0", "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "OMP_WAIT_POLICY": "passive"}


def test_a_small_machine_binds_every_core_this_process_may_use() -> None:
    cores = sorted(os.sched_getaffinity(0))
    expected = ",".join(map(str, cores)) if len(cores) <= SMALL_MACHINE_CORES else None
    assert engine_runtime("cpu", preload="none").omp_threads_bind == expected


def test_a_cuda_runtime_changes_nothing() -> None:
    assert engine_runtime("cuda").environment({"LD_PRELOAD": "/x.so"}) == {}


@pytest.mark.skipif(find_tcmalloc() is None, reason="tcmalloc is not installed (make setup installs it)")
def test_tcmalloc_goes_first_and_an_existing_preload_is_kept() -> None:
    environment = engine_runtime("cpu").environment({"LD_PRELOAD": "/opt/other.so"})
    assert environment["LD_PRELOAD"] == f"{find_tcmalloc()}:/opt/other.so"


def test_an_unknown_preload_is_refused() -> None:
    with pytest.raises(HarnessError, match="unknown preload 'jemalloc'"):
        engine_runtime("cpu", preload="jemalloc")


@pytest.mark.slow
def test_a_started_engine_runs_in_its_runtime() -> None:
    from harness.engine.factory import open_engine
    from harness.engine.types import EngineSettings, GenerationRequest
    from harness.training.model_prep import prepare_default_model

    runtime = engine_runtime("cpu")
    settings = EngineSettings(model_dir=str(prepare_default_model(ROOT / ".cache")), max_model_len=512, runtime=runtime)

    async def started_tree() -> tuple[list[str], dict[str, str], int]:
        async with open_engine(settings) as engine:
            result = await engine.generate(GenerationRequest("r", (1, 2, 3, 4), max_tokens=4))
            return [p.name() for p in psutil.Process().children(recursive=True)], dict(os.environ), result.completion_tokens

    before = {name: os.environ.get(name) for name in runtime.environment({})}
    names, spawned_from, tokens = asyncio.run(started_tree())
    assert {name: os.environ.get(name) for name in before} == before, "a closed engine puts back the variables it set"
    assert tokens == 4
    assert [n for n in names if "EngineCor" in n] and not [n for n in names if "Worker" in n], names
    for name, value in runtime.environment({}).items():
        assert spawned_from.get(name, "").startswith(value), name
