"""One generation measurement in a process of its own: engine start, tokens per second, engine close.

`python tests/benchmark/generation.py --model DIR --dtype float32 --engine harness|raw [--adapter DIR] [--enable-lora]`
builds the same token-id prompts every variant gets (synthetic contract excerpts under the task's
short adapter prompt, rendered with the model's chat template), starts one engine (vLLM's import timed apart) and times
greedy generation of all prompts at once, after one untimed warm-up request. `harness` sends them
through the harness's own serving path (InProcessEngine + predict.run_batch, concurrency = all
prompts unless `--concurrency` says fewer); `raw` calls vLLM's `LLM.generate` on the same ids with the same sampling. With an
adapter, the harness engine also measures the same prompts through a LoRARequest. The engine's
process environment (preloads, thread binding) is whatever this process was started with, so the
parent chooses each variant's. Prints one JSON object. It knows nothing of scoring.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.engine.types import EngineSettings, GenerationRequest

ROOT = Path(__file__).resolve().parents[2]


def prompt_ids(model_dir: Path, count: int) -> list[list[int]]:
    """Token ids of `count` synthetic excerpts under contract_extraction's short adapter prompt."""
    from transformers import AutoTokenizer

    from harness.data.synthetic import synthetic_harvest
    from harness.task.prompts import build_messages
    from harness.task.specs import load_task

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    task = load_task(ROOT / "tasks", "contract_extraction")
    records = [c.record for c in synthetic_harvest(task, "bench", count, lambda text: len(tokenizer(text).input_ids)).candidates]
    return [tokenizer.apply_chat_template(build_messages(task, task.prompts.adapter, r, []), add_generation_prompt=True,
                                          tokenize=True, return_dict=False) for r in records]


def requests_for(ids: list[list[int]], max_tokens: int, adapter: str | None) -> dict[str, GenerationRequest]:
    return {f"r{i}": GenerationRequest(f"{adapter or 'base'}-{i}", tuple(p), max_tokens, adapter=adapter) for i, p in enumerate(ids)}


async def harness_rates(settings: EngineSettings, ids: list[list[int]], max_tokens: int, adapter: str | None,
                        concurrency: int) -> dict[str, Any]:
    from harness.engine.inprocess import InProcessEngine
    from harness.serve.predict import Batch, LoadProfile, run_batch

    imported = time.perf_counter()
    importlib.import_module("vllm.v1.engine.llm_engine")  # once per process, as raw_rates imports vLLM before its timer
    result: dict[str, Any] = {"vllm_import_s": round(time.perf_counter() - imported, 2)}
    started = time.perf_counter()
    engine = InProcessEngine(settings)
    result["engine_start_s"] = round(time.perf_counter() - started, 2)
    try:
        labels = ["base"] + (["dynamic_lora"] if adapter else [])
        if adapter:
            result["adapter_cold_load_s"] = round(await engine.load_adapter("bench", adapter), 3)
        for label in labels:
            name = "bench" if label == "dynamic_lora" else None
            batch_requests = requests_for(ids, max_tokens, name)
            await engine.generate(dataclasses.replace(next(iter(batch_requests.values())), request_id=f"warm-{label}"))
            with tempfile.TemporaryDirectory() as folder:
                batch = Batch(label, "bench", batch_requests, Path(folder) / "log.jsonl")
                began = time.perf_counter()
                predictions = await run_batch(engine, batch, LoadProfile(concurrency=concurrency, warmup_requests=0))
                result[label] = rate(time.perf_counter() - began, sum(p.completion_tokens for p in predictions), len(ids))
    finally:
        closing = time.perf_counter()
        engine.close()
        result["engine_close_s"] = round(time.perf_counter() - closing, 2)
    return result


def raw_rates(settings: EngineSettings, ids: list[list[int]], max_tokens: int) -> dict[str, Any]:
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    from harness.engine.inprocess import engine_kwargs

    started = time.perf_counter()
    llm = LLM(**engine_kwargs(settings))
    result: dict[str, Any] = {"engine_start_s": round(time.perf_counter() - started, 2)}
    sampling = SamplingParams(temperature=0.0, max_tokens=max_tokens)
    llm.generate([TokensPrompt(prompt_token_ids=ids[0])], sampling, use_tqdm=False)
    began = time.perf_counter()
    outputs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in ids], sampling, use_tqdm=False)
    result["base"] = rate(time.perf_counter() - began, sum(len(o.outputs[0].token_ids) for o in outputs), len(ids))
    return result


def rate(seconds: float, tokens: int, requests: int) -> dict[str, Any]:
    return {"seconds": round(seconds, 3), "output_tokens": tokens, "requests": requests,
            "output_tokens_per_s": round(tokens / seconds, 2), "requests_per_s": round(requests / seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--dtype", required=True)
    parser.add_argument("--engine", choices=("harness", "raw"), default="harness")
    parser.add_argument("--adapter", type=Path)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, help="harness engine: requests in flight (default: all prompts at once)")
    parser.add_argument("--kv-cache-gib", type=float, default=1.0)
    parser.add_argument("--enable-lora", action="store_true", help="vLLM's LoRA support on without an adapter (on anyway with --adapter)")
    args = parser.parse_args()
    settings = EngineSettings(model_dir=str(args.model), dtype=args.dtype, max_model_len=2048, kv_cache_gib=args.kv_cache_gib,
                              enable_lora=args.enable_lora or args.adapter is not None)
    ids = prompt_ids(args.model, args.prompts)
    if args.engine == "raw":
        result = raw_rates(settings, ids, args.max_tokens)
    else:
        result = asyncio.run(harness_rates(settings, ids, args.max_tokens, str(args.adapter) if args.adapter else None,
                                           args.concurrency or len(ids)))
    result["prompt_tokens_mean"] = round(sum(map(len, ids)) / len(ids), 1)
    print("BENCH-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
