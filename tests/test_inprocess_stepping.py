"""The in-process engine's thread, with vLLM's LLMEngine replaced by a scripted one (its one collaborator).

Requests sent together advance together, one token a step, and each one's outputs stream back as
they are made (TTFT before latency); an adapter is loaded on the engine's thread; a request whose
caller stops waiting (a timeout) is aborted in the engine; a request the engine refuses is a
`RequestFailed` while the others go on; a step that raises kills the engine, and every request in
flight and every later one fails with vLLM's `EngineDeadError` as a `RequestFailed`; close() stops
the thread and shuts the engine down, whatever happened. The real engine is exercised in
tests/test_engine_modes.py and tests/test_engine_runtime.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

import harness.engine.inprocess as inprocess
from harness.engine.inprocess import InProcessEngine
from harness.engine.types import EngineSettings, GenerationRequest, RequestFailed


@dataclass
class Completion:
    token_ids: list[int]
    text: str = ""
    finish_reason: str | None = None


@dataclass
class Output:
    request_id: str
    prompt_token_ids: list[int]
    outputs: list[Completion]
    finished: bool


@dataclass
class ScriptedEngine:
    """One token per step (of at least 1 ms) for every unfinished request; `fail_at_step` makes that step raise."""

    fail_at_step: int | None = None
    wanted: dict[str, tuple[list[int], int]] = field(default_factory=dict)
    made: dict[str, list[int]] = field(default_factory=dict)
    aborted: list[str] = field(default_factory=list)
    loras: list[str] = field(default_factory=list)
    steps: int = 0
    threads: set[str] = field(default_factory=set)
    shut: bool = False

    def add_request(self, request_id: str, prompt: Any, params: Any, lora_request: Any = None) -> None:
        self.threads.add(threading.current_thread().name)
        if params.max_tokens > 100:
            raise ValueError(f"max_tokens {params.max_tokens} is over the limit")
        self.wanted[request_id] = (prompt["prompt_token_ids"], params.max_tokens)
        self.made[request_id] = []

    def has_unfinished_requests(self) -> bool:
        return bool(self.wanted)

    def step(self) -> list[Output]:
        self.threads.add(threading.current_thread().name)
        self.steps += 1
        time.sleep(0.001)  # a step takes time, as a forward pass does
        if self.steps == self.fail_at_step:
            raise RuntimeError("the model's forward pass failed")
        outputs = []
        for request_id, (prompt, max_tokens) in list(self.wanted.items()):
            self.made[request_id].append(len(self.made[request_id]))
            done = len(self.made[request_id]) == max_tokens
            tokens = list(self.made[request_id])
            outputs.append(Output(request_id, prompt, [Completion(tokens, " ".join(map(str, tokens)), "length" if done else None)], done))
            if done:
                del self.wanted[request_id]
        return outputs

    def abort_request(self, request_ids: list[str]) -> None:
        for request_id in request_ids:
            if self.wanted.pop(request_id, None) is not None:
                self.aborted.append(request_id)

    def add_lora(self, request: Any) -> bool:
        self.threads.add(threading.current_thread().name)
        self.loras.append(request.lora_name)
        return True


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedEngine:
    engine = ScriptedEngine()
    monkeypatch.setattr(inprocess, "build_engine", lambda settings, kv_peak: engine)
    monkeypatch.setattr(inprocess, "shut_down", lambda built: setattr(built, "shut", True))
    return engine


def request(name: str, max_tokens: int, adapter: str | None = None) -> GenerationRequest:
    return GenerationRequest(name, (1, 2, 3), max_tokens, adapter=adapter)


def test_requests_sent_together_advance_together_and_stream_back(scripted: ScriptedEngine) -> None:
    async def serve() -> list[Any]:
        engine = InProcessEngine(EngineSettings(model_dir="m"))
        try:
            cold_load_s = await engine.load_adapter("lora", "/adapters/lora")
            results = await asyncio.gather(engine.generate(request("a", 3)), engine.generate(request("b", 5, adapter="lora")))
            return [cold_load_s, *results]
        finally:
            engine.close()

    cold_load_s, a, b = asyncio.run(serve())
    assert cold_load_s > 0 and scripted.loras == ["lora"]
    assert (a.text, a.completion_tokens, a.prompt_tokens, a.finish_reason) == ("0 1 2", 3, 3, "length")
    assert (b.text, b.completion_tokens) == ("0 1 2 3 4", 5)
    assert scripted.steps == 5, "both requests advanced in the same steps"
    assert 0 < a.ttft_s < a.latency_s and 0 < b.ttft_s < b.latency_s
    assert scripted.threads == {"vllm-engine"} and scripted.shut


def test_a_request_whose_caller_stops_waiting_is_aborted_and_a_refused_one_fails_alone(scripted: ScriptedEngine) -> None:
    async def serve() -> tuple[Any, Any]:
        engine = InProcessEngine(EngineSettings(model_dir="m"))
        try:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(engine.generate(request("endless", 100)), timeout=0.001)
            refused = await asyncio.gather(engine.generate(request("too-long", 500)), return_exceptions=True)
            return refused[0], await engine.generate(request("after", 2))
        finally:
            engine.close()

    refused, after = asyncio.run(serve())
    assert isinstance(refused, RequestFailed) and "over the limit" in str(refused)
    assert after.text == "0 1"
    assert scripted.aborted == ["endless"] and not scripted.wanted


def test_a_failed_step_fails_every_request_then_and_later_and_close_still_works(scripted: ScriptedEngine) -> None:
    scripted.fail_at_step = 2

    async def serve() -> list[Any]:
        engine = InProcessEngine(EngineSettings(model_dir="m"))
        try:
            in_flight = await asyncio.gather(engine.generate(request("a", 5)), engine.generate(request("b", 5)), return_exceptions=True)
            later = await asyncio.gather(engine.generate(request("c", 1)), return_exceptions=True)
            return in_flight + later
        finally:
            engine.close()

    failures = asyncio.run(serve())
    assert all(isinstance(f, RequestFailed) and "EngineDeadError" in str(f) for f in failures), failures
    assert isinstance(failures[0].__cause__.__cause__, RuntimeError)
    assert scripted.shut


def test_an_engine_that_cannot_be_built_is_an_error_and_leaves_no_variable_set(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from harness.engine.runtime import EngineRuntime

    def cannot_build(settings: EngineSettings, kv_peak: list) -> None:
        raise OSError("no model in /nowhere")

    monkeypatch.setattr(inprocess, "build_engine", cannot_build)
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    with pytest.raises(OSError, match="no model"):
        InProcessEngine(EngineSettings(model_dir="/nowhere", runtime=EngineRuntime(omp_threads_bind="0")))
    assert "VLLM_CPU_OMP_THREADS_BIND" not in os.environ
