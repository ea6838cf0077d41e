"""The CPU engine's runtime: which environment the engine's process gets, and that a real engine runs in it.

The pure part checks the variables harness.engine.runtime sets for each device and preload choice,
and that an in-process engine is refused in a process not started with the runtime's start-time
variables (before vLLM is imported). The engine part runs a Python process the way the `harness`
command starts: it re-executes itself into the runtime, starts the real CPU engine and generates;
its environment at start holds the runtime's variables, tcmalloc is mapped into it, no engine or
worker process was started beside it, and closing the engine puts back the variables it set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.engine.runtime import SMALL_MACHINE_CORES, EngineRuntime, engine_runtime, find_tcmalloc, start_time_environment
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parents[1]


def test_the_cpu_runtime_runs_the_model_in_this_process_with_sleeping_waits() -> None:
    runtime = engine_runtime("cpu", preload="none", threads_bind="0")
    assert runtime.start_environment({}) == {"OMP_WAIT_POLICY": "passive"}
    assert runtime.engine_environment() == {"VLLM_CPU_OMP_THREADS_BIND": "0", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    assert runtime.environment({}) == runtime.start_environment({}) | runtime.engine_environment()


def test_an_engine_is_refused_in_a_process_not_started_in_its_runtime() -> None:
    from harness.engine.inprocess import InProcessEngine
    from harness.engine.types import EngineSettings

    runtime = EngineRuntime(preload=("/nonexistent/libpreload.so",))
    assert runtime.missing_at_start() == {"LD_PRELOAD": "/nonexistent/libpreload.so" + "".join(
        f":{p}" for p in start_time_environment().get("LD_PRELOAD", "").split(":") if p)}
    with pytest.raises(HarnessError, match="not started in the engine's runtime"):
        InProcessEngine(EngineSettings(model_dir="/nonexistent", runtime=runtime))


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


ENGINE_IN_ITS_RUNTIME = """
import asyncio, json, os, sys
from pathlib import Path
import psutil
from harness.engine.factory import open_engine
from harness.engine.runtime import engine_runtime, restart_in, start_time_environment
from harness.engine.types import EngineSettings, GenerationRequest

runtime = engine_runtime("cpu")
restart_in(runtime)
settings = EngineSettings(model_dir=sys.argv[1], max_model_len=512, runtime=runtime)
before = {name: os.environ.get(name) for name in runtime.engine_environment()}

async def serve():
    async with open_engine(settings) as engine:
        result = await engine.generate(GenerationRequest("r", (1, 2, 3, 4), max_tokens=4))
        during = {name: os.environ.get(name) for name in runtime.engine_environment()}
        children = [p.name() for p in psutil.Process().children(recursive=True)]
        maps = Path("/proc/self/maps").read_text()
    return result.completion_tokens, during, children, maps

tokens, during, children, maps = asyncio.run(serve())
print(json.dumps({"tokens": tokens, "started_with": start_time_environment(), "start_environment": runtime.start_environment({}),
                  "engine_environment": runtime.engine_environment(), "during": during, "children": children,
                  "preloaded_mapped": [p for p in runtime.preload if p in maps], "preload": list(runtime.preload),
                  "put_back": {name: os.environ.get(name) for name in before} == before}))
"""


@pytest.mark.slow
def test_a_started_engine_runs_in_its_runtime() -> None:
    import json
    import subprocess
    import sys

    from harness.engine.runtime import RESTARTED
    from harness.training.model_prep import prepare_default_model

    model = prepare_default_model(ROOT / ".cache")
    plain = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "OMP_WAIT_POLICY", RESTARTED)}
    done = subprocess.run([sys.executable, "-c", ENGINE_IN_ITS_RUNTIME, str(model)], cwd=ROOT, env=plain, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["tokens"] == 4
    assert seen["started_with"][RESTARTED] == "1", "the process re-executed itself into the runtime"
    for name, value in seen["start_environment"].items():
        assert seen["started_with"][name].startswith(value), name
    assert seen["during"] == seen["engine_environment"] and seen["put_back"], "the engine set its variables while it ran, then put them back"
    assert seen["preloaded_mapped"] == seen["preload"], "every preloaded library is mapped into the engine's process"
    assert seen["children"] == [], f"the model runs in this process: no engine or worker process beside it ({seen['children']})"
