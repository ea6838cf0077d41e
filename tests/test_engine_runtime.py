"""The engine runtime: what the CPU engine's processes get in their environment and engine arguments."""

from __future__ import annotations

from harness.engine.inprocess import engine_kwargs
from harness.engine.runtime import engine_runtime
from harness.engine.server import server_command
from harness.engine.types import EngineSettings


def test_the_cpu_runtime_runs_the_model_in_the_engine_core_process() -> None:
    runtime = engine_runtime("cpu", "none")
    assert runtime.executor == "uni" and runtime.environment({})["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    settings = EngineSettings(model_dir="/m", runtime=runtime)
    assert engine_kwargs(settings)["distributed_executor_backend"] == "uni"
    command = server_command(settings, 8000, {})
    assert command[command.index("--distributed-executor-backend") + 1] == "uni"


def test_a_cuda_runtime_leaves_the_executor_to_vllm() -> None:
    runtime = engine_runtime("cuda")
    assert runtime.executor is None and "VLLM_ENABLE_V1_MULTIPROCESSING" not in runtime.environment({})
    settings = EngineSettings(model_dir="/m", runtime=runtime)
    assert engine_kwargs(settings)["distributed_executor_backend"] is None
    assert "--distributed-executor-backend" not in server_command(settings, 8000, {})
