"""The real vLLM engine on the CPU with the embedded model, in both serving modes.

In-process (vLLM's LLMEngine on a thread of this process) and server mode (the OpenAI-compatible
server the harness starts on 127.0.0.1) must return the same greedy text and token counts for the
same token-id prompts, with and without a LoRA adapter served dynamically (a PEFT adapter with
random weights made here, loaded as a `LoRARequest` in-process and with `--lora-modules` by the
server; its cold load is timed in both); TTFT and latency are measured in both; guided JSON is
constrained in both. The engines get the CPU runtime's thread binding and in-process model, not its
preload and OpenMP wait policy, which only a process started with them can have (test_engine_runtime
starts one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from harness.engine.factory import open_engine
from harness.engine.runtime import engine_runtime
from harness.engine.types import EngineSettings, GenerationRequest
from harness.training.model_prep import prepare_default_model

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = "random-lora"
PROMPTS = ("Name three colours.", "What is the capital of France? Answer in one word.", "Write the number 12 in words.")

pytestmark = pytest.mark.slow


def requests(tokenizer, schema: dict) -> list[GenerationRequest]:
    made = []
    for i, text in enumerate(PROMPTS):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True, return_dict=False)
        made.append(GenerationRequest(f"r{i}", tuple(ids), max_tokens=24))
        made.append(GenerationRequest(f"r{i}+lora", tuple(ids), max_tokens=24, adapter=ADAPTER))
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Give a contract's fields as JSON."}], add_generation_prompt=True,
                                        tokenize=True, return_dict=False)
    made.append(GenerationRequest("guided", tuple(ids), max_tokens=200, json_schema=schema))
    return made


def random_adapter(model_dir: Path, folder: Path) -> Path:
    """A rank-8 LoRA on the attention projections with random A and B (PEFT's own init would leave B at zero)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(str(model_dir)), config).save_pretrained(folder)
    return folder


async def serve(settings: EngineSettings, mode: str, batch: list[GenerationRequest], adapter: Path) -> tuple[dict, float]:
    async with open_engine(settings, mode, adapters={ADAPTER: str(adapter)}) as engine:
        cold_load_s = await engine.load_adapter(ADAPTER, str(adapter))
        return {r.request_id: await engine.generate(r) for r in batch}, cold_load_s


def test_inprocess_and_server_agree_on_greedy_outputs(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    model_dir = prepare_default_model(ROOT / ".cache")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    schema = {"type": "object", "properties": {"governing_law": {"type": "string"}, "notice_period_days": {"type": "integer"}},
              "required": ["governing_law", "notice_period_days"], "additionalProperties": False}
    batch = requests(tokenizer, schema)
    adapter = random_adapter(model_dir, tmp_path / "adapter")
    runtime = dataclasses.replace(engine_runtime("cpu", preload="none"), omp_wait_policy=None)
    settings = EngineSettings(model_dir=str(model_dir), max_model_len=1024, enable_lora=True, runtime=runtime)
    inprocess, inprocess_cold_s = asyncio.run(serve(settings, "inprocess", batch, adapter))
    server, server_cold_s = asyncio.run(serve(settings, "server", batch, adapter))
    assert inprocess_cold_s > 0 and server_cold_s > 0
    assert any(inprocess[f"r{i}"].text != inprocess[f"r{i}+lora"].text for i in range(len(PROMPTS))), "the adapter changed no output"
    for request in batch:
        a, b = inprocess[request.request_id], server[request.request_id]
        assert a.text == b.text and a.text.strip()
        assert (a.prompt_tokens, a.completion_tokens) == (b.prompt_tokens, b.completion_tokens) == (len(request.prompt_token_ids), b.completion_tokens)
        assert 0 < a.ttft_s <= a.latency_s and 0 < b.ttft_s <= b.latency_s
    guided = json.loads(inprocess["guided"].text)
    assert set(guided) == {"governing_law", "notice_period_days"} and isinstance(guided["notice_period_days"], int)
