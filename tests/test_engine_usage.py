"""Peak memory and KV-cache use sampled while a batch is served (harness.engine.usage), as the run keeps them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from harness.serve.batch_store import BatchStore
from harness.engine.server import ServerEngine
from harness.engine.types import EngineSettings, Usage
from harness.engine.usage import sample_usage

HOLD_MIB = 300


class HoldingEngine:
    """An engine whose process tree is a child holding `HOLD_MIB` of memory, reporting KV-cache shares in turn."""

    def __init__(self, root: int | None, kv_reports: list[float | None]) -> None:
        self.settings = EngineSettings(model_dir="unused")
        self.root, self.kv_reports = root, kv_reports

    def memory_root(self) -> int | None:
        return self.root

    async def kv_cache_usage(self) -> float | None:
        return self.kv_reports.pop(0) if self.kv_reports else None


def holding_child() -> subprocess.Popen:
    code = f"import sys, time; block = bytearray({HOLD_MIB} << 20); print('ready', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    return child


def serve_for(engine: HoldingEngine, seconds: float) -> Usage:
    async def batch() -> Usage:
        async with sample_usage(engine, interval_s=0.05) as peaks:
            await asyncio.sleep(seconds)
        return peaks.usage()

    return asyncio.run(batch())


def test_the_peak_memory_of_the_engine_tree_and_the_highest_kv_share_are_kept() -> None:
    child = holding_child()
    try:
        usage = serve_for(HoldingEngine(child.pid, [0.9, 0.1, 0.4, 0.2]), 0.5)  # the first report is an earlier batch's
    finally:
        child.kill()
        child.wait()
    assert usage.peak_memory_bytes >= HOLD_MIB << 20
    assert usage.memory_measure == "resident memory of the engine's process tree (sum of RSS)"
    assert usage.kv_cache_usage_peak == 0.4


def test_a_server_this_run_did_not_start_is_not_measured_and_says_so() -> None:
    usage = serve_for(HoldingEngine(None, []), 0.1)
    assert usage == Usage(None, "not measured: the engine is a server this run did not start", None)


def test_a_resumed_batch_keeps_the_higher_peaks_of_its_sessions(tmp_path: Path) -> None:
    store = BatchStore(tmp_path)
    store.add_wall_seconds("few_shot", "test", 2.0)
    store.add_usage("few_shot", "test", Usage(5 << 30, "resident memory", 0.25))
    store.add_wall_seconds("few_shot", "test", 1.0)
    store.add_usage("few_shot", "test", Usage(4 << 30, "resident memory", 0.5))
    assert store.usage("few_shot", "test") == Usage(5 << 30, "resident memory", 0.5)
    assert store.wall_seconds("few_shot", "test") == 3.0
    assert store.usage("best_prompt", "test") == Usage()


METRICS_PAGE = """# HELP vllm:kv_cache_usage_perc KV-Cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="base"} 0.0625
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="base"} 3.0
"""


def server_answering(page: str | None) -> ServerEngine:
    engine = ServerEngine(EngineSettings(model_dir="unused"), "http://127.0.0.1:9", None, None)
    answer = (lambda request: httpx.Response(200, text=page)) if page is not None else (lambda request: httpx.Response(404))
    engine._client = httpx.AsyncClient(base_url=engine.url, transport=httpx.MockTransport(answer))
    return engine


def test_a_server_reports_its_kv_cache_gauge_from_its_prometheus_metrics() -> None:
    assert asyncio.run(server_answering(METRICS_PAGE).kv_cache_usage()) == 0.0625
    assert asyncio.run(server_answering(None).kv_cache_usage()) is None
    assert asyncio.run(server_answering('{"object": "list", "data": [{"id": "tiny"}]}').kv_cache_usage()) is None  # not Prometheus text
    assert server_answering(METRICS_PAGE).memory_root() is None


def test_a_cuda_engine_reports_the_gpu_memory_nvidia_smi_reads(tmp_path: Path, monkeypatch) -> None:
    """On CUDA the memory is nvidia-smi's memory.used over the visible GPUs (MiB); a stand-in nvidia-smi on PATH
    answers as the real one does on a two-GPU machine (no GPU here: the parsing and the choice are what is tested)."""
    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\n[ \"$1 $2\" = '--query-gpu=memory.used --format=csv,noheader,nounits' ] || exit 9\nprintf '1024\\n2048\\n'\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    engine = HoldingEngine(None, [])
    engine.settings = EngineSettings(model_dir="unused", device="cuda")
    usage = serve_for(engine, 0.1)
    assert usage == Usage(3072 << 20, "GPU memory in use (nvidia-smi, device-wide)", None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert serve_for(engine, 0.1).memory_measure == "not measured: nvidia-smi is not on PATH"
