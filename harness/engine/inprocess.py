"""vLLM in-process: one `AsyncLLM` engine serving the base model and, when its settings enable LoRA, adapters.

Requests stream back token deltas, so time to first token and end-to-end latency are measured per
request even when many run concurrently (continuous batching). Adapters are `LoRARequest`s on the
same engine; `load_adapter` times the cold load separately from any request. A stat logger keeps the
highest KV-cache usage the scheduler reports, for harness.engine.usage. This module knows
nothing of tasks, prompts or scoring.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import Any, Mapping

from harness.engine.lifetime import ENGINE_CLOSE_GRACE_S, record_descendants
from harness.engine.types import EngineSettings, GenerationRequest, GenerationResult, RequestFailed


class InProcessEngine:
    """A started vLLM AsyncLLM; build it inside a function (vLLM spawns its engine process)."""

    def __init__(self, settings: EngineSettings) -> None:
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        self.settings = settings
        self._adapters: dict[str, Any] = {}
        self._kv_peak: list[float | None] = [None]
        # vLLM reads the runtime's variables in this process and spawns its engine core from it (the preloads must be
        # in its environment at exec); they are this engine's, so close() puts back what they replaced.
        runtime = settings.runtime.environment(os.environ)
        self._replaced_environment = {name: os.environ.get(name) for name in runtime}
        os.environ.update(runtime)
        args = AsyncEngineArgs(**engine_kwargs(settings))
        self._engine = AsyncLLM.from_engine_args(args, stat_loggers=[kv_cache_logger(self._kv_peak)])
        record_descendants()  # its engine core and workers: a later run reaps them if this one is killed -9

    async def load_adapter(self, name: str, path: str) -> float:
        """Register and load an adapter; return the cold-load seconds."""
        from vllm.lora.request import LoRARequest

        request = LoRARequest(name, len(self._adapters) + 1, path)
        started = time.perf_counter()
        await self._engine.add_lora(request)
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

        started = time.perf_counter()
        first_token_at = None
        final = None
        lora = self._adapters[request.adapter] if request.adapter else None
        stream = self._engine.generate(
            TokensPrompt(prompt_token_ids=list(request.prompt_token_ids)),
            sampling_params(request),
            request.request_id,
            lora_request=lora,
        )
        async for output in stream:
            if first_token_at is None and output.outputs and output.outputs[0].token_ids:
                first_token_at = time.perf_counter()
            final = output
        completion = final.outputs[0]
        return GenerationResult(
            request_id=request.request_id,
            text=completion.text,
            prompt_tokens=len(final.prompt_token_ids),
            completion_tokens=len(completion.token_ids),
            ttft_s=None if first_token_at is None else first_token_at - started,
            latency_s=time.perf_counter() - started,
            finish_reason=completion.finish_reason,
        )

    def describe(self) -> Mapping[str, Any]:
        return describe_inprocess(self.settings)

    def memory_root(self) -> int:
        """This process: it holds the engine's front end, and its engine core and workers are its children."""
        return os.getpid()

    async def kv_cache_usage(self) -> float | None:
        peak, self._kv_peak[0] = self._kv_peak[0], None
        return peak

    def close(self) -> None:
        """Shut the engine down and drop it now (not at interpreter exit, when vLLM's cleanup fails); vLLM kills
        what is left of its processes after ENGINE_CLOSE_GRACE_S."""
        self._engine.shutdown(timeout=ENGINE_CLOSE_GRACE_S)
        self._engine = None
        for name, value in self._replaced_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
