"""What goes into an engine and what comes out, independent of the serving mode.

`EngineSettings` is the frozen, recorded description of an engine (the same for every candidate of a
comparison); `GenerationRequest` and `GenerationResult` are one request and its timed outcome; `Usage` is what the
engine held while serving a batch.
This module imports nothing from vLLM and knows nothing of tasks or scoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from harness.engine.runtime import EngineRuntime


@dataclass(frozen=True)
class EngineSettings:
    """Engine arguments, identical for every candidate of one comparison."""

    model_dir: str
    device: str = "cpu"
    dtype: str = "float32"  # set from the run's precision decision (harness.hardware.precision)
    max_model_len: int = 4096
    max_lora_rank: int = 16
    # vLLM's LoRA support: on only for an engine that serves an adapter as a LoRARequest (dynamic serving), since with it
    # on every request, the base model's too, runs through the LoRA layers (`make bench`: lora_enabled_unused).
    enable_lora: bool = False
    max_num_seqs: int = 16
    kv_cache_gib: float = 1.0
    gpu_memory_utilization: float = 0.5
    seed: int = 0
    enforce_eager: bool = True
    runtime: EngineRuntime = EngineRuntime()


@dataclass(frozen=True)
class GenerationRequest:
    """One request: rendered prompt tokens, decoding settings and, optionally, an adapter name."""

    request_id: str
    prompt_token_ids: tuple[int, ...]
    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    json_schema: Mapping[str, Any] | None = None
    adapter: str | None = None


@dataclass(frozen=True)
class GenerationResult:
    """The text and exact token counts of one completion, with its timings in seconds."""

    request_id: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None
    latency_s: float
    finish_reason: str | None


@dataclass(frozen=True)
class Usage:
    """What an engine held while serving a batch (harness.engine.usage): peak memory with what was measured
    (or why nothing was), and the peak share of the KV cache in use; None when not measured."""

    peak_memory_bytes: int | None = None
    memory_measure: str = "not sampled"
    kv_cache_usage_peak: float | None = None


class RequestFailed(Exception):
    """One request failed in the engine or on its way there (transport, server answer, engine error).

    It is data about that request: the caller retries and records it. Anything else an engine
    raises is a harness bug and propagates. Its text is the cause's `Type: message`."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause
        super().__init__(f"{type(cause).__name__}: {cause}")


class Engine(Protocol):
    """An async engine: both serving modes implement this; `generate` raises `RequestFailed` for a failed request."""

    settings: EngineSettings

    async def generate(self, request: GenerationRequest) -> GenerationResult: ...

    async def load_adapter(self, name: str, path: str) -> float: ...

    def describe(self) -> Mapping[str, Any]: ...

    def memory_root(self) -> int | None:
        """The pid whose process tree holds the engine; None when it runs elsewhere (a server given by URL)."""

    async def kv_cache_usage(self) -> float | None:
        """Share of the KV cache in use (0..1), the highest since the last call where the engine keeps it; None if unreported."""

    def close(self) -> None: ...
