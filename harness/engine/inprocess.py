"""vLLM in-process: one `LLMEngine`, built and stepped by a thread of its own, serving the base model and adapters.

The engine's thread builds vLLM's `LLMEngine` (on the CPU its core runs in this process, so no
process is spawned and vLLM is imported once per harness run, not once per engine) and then steps
it for as long as requests are unfinished, while the event loop that sends requests keeps running.
Requests and adapter loads reach the thread as commands; each request's outputs stream back to the
event loop as they are made (continuous batching: every unfinished request advances in each step),
so time to first token and end-to-end latency are measured per request even when many run
concurrently, and a cancelled request is aborted in the engine. If a step fails, the engine is dead:
every request then in flight, and every later one, fails with vLLM's `EngineDeadError`. Adapters
are `LoRARequest`s on the same engine; `load_adapter` times the cold load separately from any
request. A stat logger keeps the highest KV-cache usage the scheduler reports, for
harness.engine.usage. This module knows nothing of tasks, prompts or scoring.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from dataclasses import asdict
from typing import Any, Callable, Mapping

from harness.engine.lifetime import ENGINE_CLOSE_GRACE_S, record_descendants
from harness.engine.runtime import require_started_in
from harness.engine.types import EngineSettings, GenerationRequest, GenerationResult, RequestFailed

_STOP = object()


class _Command:
    """Work for the engine's thread: `function(engine)`, its result or exception settled on the caller's loop."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future = self.loop.create_future()

    def run(self, engine: Any) -> None:
        try:
            result = self.function(engine)
        except Exception as exc:  # the caller's failure (a refused request), not the engine's
            self.fail(exc)
        else:
            self.loop.call_soon_threadsafe(_settle, self.future, result, None)

    def fail(self, exc: BaseException) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, None, exc)


def _settle(future: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if future.done():  # its caller was cancelled
        return
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)


class InProcessEngine:
    """A started vLLM LLMEngine on its own thread; build it where an event loop runs, close it when done."""

    def __init__(self, settings: EngineSettings) -> None:
        require_started_in(settings.runtime)
        self.settings = settings
        self._adapters: dict[str, Any] = {}
        self._kv_peak: list[float | None] = [None]
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._streams: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = {}
        # vLLM reads these when the engine is built; they are this engine's, so close() puts back what they replaced
        variables = settings.runtime.engine_environment()
        self._replaced_environment = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        built: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, args=(built,), name="vllm-engine", daemon=True)
        self._thread.start()
        failure = built.get()
        if failure is not None:
            self._thread.join()
            self._put_back_environment()
            raise failure
        record_descendants()  # an engine core and workers where vLLM starts them (CUDA): a later run reaps them if this one is killed -9

    def _serve(self, built: queue.SimpleQueue) -> None:
        """The engine's thread: build the engine (vLLM binds its OpenMP threads to the thread that builds it, so the same
        thread runs every step), then run commands and steps until close()."""
        try:
            engine = build_engine(self.settings, self._kv_peak)
        except BaseException as exc:
            built.put(exc)
            return
        built.put(None)
        try:
            self._step_until_stopped(engine)
        except Exception as exc:  # a step failed: the engine is dead, so is every request in it and every later one
            from vllm.v1.engine.exceptions import EngineDeadError

            dead = EngineDeadError(suppress_context=False)
            dead.__cause__ = exc
            for loop, stream in list(self._streams.values()):
                loop.call_soon_threadsafe(stream.put_nowait, dead)
            while (command := self._commands.get()) is not _STOP:
                command.fail(dead)
        finally:
            shut_down(engine)

    def _step_until_stopped(self, engine: Any) -> None:
        while True:
            for command in self._pending_commands(wait=not engine.has_unfinished_requests()):
                if command is _STOP:
                    return
                command.run(engine)
            if engine.has_unfinished_requests():
                outputs = engine.step()
                made_at = time.perf_counter()
                for output in outputs:
                    if (receiver := self._streams.get(output.request_id)) is not None:
                        loop, stream = receiver
                        loop.call_soon_threadsafe(stream.put_nowait, (made_at, output))

    def _pending_commands(self, wait: bool) -> list[Any]:
        commands = [self._commands.get()] if wait else []
        while True:
            try:
                commands.append(self._commands.get_nowait())
            except queue.Empty:
                return commands

    def _on_engine_thread(self, function: Callable[[Any], Any]) -> asyncio.Future:
        command = _Command(function)
        self._commands.put(command)
        return command.future

    async def load_adapter(self, name: str, path: str) -> float:
        """Register and load an adapter; return the cold-load seconds."""
        from vllm.lora.request import LoRARequest

        request = LoRARequest(name, len(self._adapters) + 1, path)
        started = time.perf_counter()
        await self._on_engine_thread(lambda engine: engine.add_lora(request))
        self._adapters[name] = request
        return time.perf_counter() - started

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """One request; vLLM's refusal or failure of it (a validation or engine error) is a `RequestFailed`."""
        from vllm.exceptions import VLLMError

        try:
            return await self._generate(request)
        except (VLLMError, ValueError) as exc:  # vLLM still rejects some requests with a bare ValueError
            raise RequestFailed(exc) from exc

    async def _generate(self, request: GenerationRequest) -> GenerationResult:
        from vllm.inputs import TokensPrompt

        lora = self._adapters[request.adapter] if request.adapter else None
        stream: asyncio.Queue = asyncio.Queue()
        self._streams[request.request_id] = (asyncio.get_running_loop(), stream)
        started, first_token_at, final = time.perf_counter(), None, None
        try:
            await self._on_engine_thread(lambda engine: engine.add_request(
                request.request_id, TokensPrompt(prompt_token_ids=list(request.prompt_token_ids)), sampling_params(request),
                lora_request=lora))
            while final is None:
                item = await stream.get()
                if isinstance(item, BaseException):
                    raise item
                made_at, output = item
                if first_token_at is None and output.outputs and output.outputs[0].token_ids:
                    first_token_at = made_at
                final = output if output.finished else None
        finally:
            del self._streams[request.request_id]
            if final is None:  # cancelled (a timeout) or failed: the engine stops working on it
                self._commands.put(_Abort(request.request_id))
        completion = final.outputs[0]
        return GenerationResult(
            request_id=request.request_id,
            text=completion.text,
            prompt_tokens=len(final.prompt_token_ids),
            completion_tokens=len(completion.token_ids),
            ttft_s=None if first_token_at is None else first_token_at - started,
            latency_s=made_at - started,
            finish_reason=completion.finish_reason,
        )

    def describe(self) -> Mapping[str, Any]:
        return describe_inprocess(self.settings)

    def memory_root(self) -> int:
        """This process: it holds the engine (and, where vLLM starts them, its engine core and workers as its children)."""
        return os.getpid()

    async def kv_cache_usage(self) -> float | None:
        peak, self._kv_peak[0] = self._kv_peak[0], None
        return peak

    def close(self) -> None:
        """Stop the engine's thread, which shuts the engine down and frees its memory, and put back the variables it set."""
        self._commands.put(_STOP)
        self._thread.join()
        self._put_back_environment()

    def _put_back_environment(self) -> None:
        for name, value in self._replaced_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Abort:
    """A command that drops a request the caller no longer waits for (it may have finished meanwhile)."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id

    def run(self, engine: Any) -> None:
        engine.abort_request([self.request_id])

    def fail(self, exc: BaseException) -> None:
        pass


def build_engine(settings: EngineSettings, kv_peak: list[float | None]) -> Any:
    """vLLM's LLMEngine for these settings, with the KV-cache peak logger (and not vLLM's periodic throughput line)."""
    from vllm.engine.arg_utils import EngineArgs
    from vllm.v1.engine.llm_engine import LLMEngine

    engine = LLMEngine.from_engine_args(EngineArgs(**engine_kwargs(settings)), stat_loggers=[kv_cache_logger(kv_peak)])
    logging.getLogger("vllm.v1.metrics.loggers").setLevel(logging.WARNING)
    return engine


def shut_down(engine: Any) -> None:
    """Shut the engine down now (vLLM kills what is left of any engine process after ENGINE_CLOSE_GRACE_S) and free
    what it held in this process, so that a next engine can start here."""
    from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

    engine.engine_core.shutdown(timeout=ENGINE_CLOSE_GRACE_S)
    del engine
    cleanup_dist_env_and_memory()


def describe_inprocess(settings: EngineSettings) -> dict[str, Any]:
    """What an in-process engine with these settings is, as the run record states it (known without starting one)."""
    return {"mode": "inprocess", "engine_args": engine_kwargs(settings), "runtime": asdict(settings.runtime)}


def engine_kwargs(settings: EngineSettings) -> dict[str, Any]:
    """The vLLM engine arguments for these settings (recorded in the run)."""
    lora = {"max_lora_rank": settings.max_lora_rank, "max_loras": 2} if settings.enable_lora else {}
    return {
        "model": settings.model_dir,
        "dtype": settings.dtype,
        "max_model_len": settings.max_model_len,
        "enable_lora": settings.enable_lora,
        **lora,
        "max_num_seqs": settings.max_num_seqs,
        "kv_cache_memory_bytes": int(settings.kv_cache_gib * (1 << 30)),
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "seed": settings.seed,
        "enforce_eager": settings.enforce_eager,
    }


def kv_cache_logger(peak: list[float | None]) -> type:
    """A vLLM stat logger class that keeps in `peak[0]` the highest KV-cache usage its scheduler reported."""
    from vllm.v1.metrics.loggers import StatLoggerBase

    class KvCachePeak(StatLoggerBase):
        def __init__(self, vllm_config: Any, engine_index: int = 0) -> None:
            pass

        def record(self, scheduler_stats: Any, iteration_stats: Any, mm_cache_stats: Any = None, engine_idx: int = 0) -> None:
            if scheduler_stats is not None:
                peak[0] = max(peak[0] or 0.0, scheduler_stats.kv_cache_usage)

        def log_engine_initialized(self) -> None:
            pass

    return KvCachePeak


def sampling_params(request: GenerationRequest) -> Any:
    """vLLM SamplingParams for a request: streamed as cumulative outputs, guided JSON if asked."""
    from vllm.sampling_params import RequestOutputKind, SamplingParams, StructuredOutputsParams

    structured = StructuredOutputsParams(json=dict(request.json_schema)) if request.json_schema else None
    return SamplingParams(
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        stop=list(request.stop) or None,
        structured_outputs=structured,
        output_kind=RequestOutputKind.CUMULATIVE,
    )
