"""harness.serve.requests with the real embedded tokenizer: token ids through the chat template, guided schema,
adapter name, decoding settings, and the max_model_len guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.training.model_prep import prepare_default_model
from harness.task.prompts import gold_answer, render_user_message
from harness.task.records import Record
from harness.serve.requests import ADAPTER_NAME, RequestBuilder
from harness.task.specs import CandidateSpec, DecodingSpec, load_task

ROOT = Path(__file__).resolve().parent.parent
TASK = load_task(ROOT / "tasks", "contract_extraction")
FIELDS = ("parties", "agreement_date", "effective_date", "expiration_date", "renewal_term", "notice_period_days", "governing_law")


def record(record_id: str, text: str, **values: object) -> Record:
    return Record(record_id, f"doc-{record_id}", text, {name: None for name in FIELDS} | values, "synthetic")


POOL = [record("p0", "POOL-ZERO Acme sells widgets.", parties=["Acme Inc."]),
        record("p1", "POOL-ONE Governed by Texas law.", governing_law="Texas"),
        record("p2", "POOL-TWO Ninety days notice.", notice_period_days=90)]
RECORDS = [record("t1", "TARGET-ONE This agreement is made by Borealis LLC."), record("t2", "TARGET-TWO Short text.")]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(prepare_default_model(ROOT / ".cache")))


def candidate(cid: str = "cand", shots: int = 0, adapter: bool = False, guided: bool = False, **decoding: object) -> CandidateSpec:
    return CandidateSpec(cid, "test", "extract_plain", shots=shots, adapter=adapter,
                         decoding=DecodingSpec(**({"guided_json": guided} | decoding)))


def builder(tokenizer, max_model_len: int = 4096) -> RequestBuilder:
    return RequestBuilder(TASK, tokenizer, POOL, max_model_len, seed=13)


def test_one_request_per_record_with_ids_and_decoding(tokenizer) -> None:
    cand = candidate("best_prompt", max_tokens=64, temperature=0.3, stop=("}",))
    requests = builder(tokenizer).build(cand, "extract_plain", RECORDS, "test")
    assert list(requests) == ["t1", "t2"]
    first = requests["t1"]
    assert first.request_id == "best_prompt:test:t1"
    assert (first.max_tokens, first.temperature, first.stop) == (64, 0.3, ("}",))
    assert first.json_schema is None and first.adapter is None
    assert all(isinstance(i, int) for i in first.prompt_token_ids)


def test_prompt_ids_are_the_chat_template_around_the_rendered_prompt(tokenizer) -> None:
    ids = builder(tokenizer).build(candidate(), "extract_plain", RECORDS, "test")["t1"].prompt_token_ids
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    text = tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith("<|im_start|>assistant\n")  # the generation prompt
    assert f"<|im_start|>user\n{render_user_message(TASK, 'extract_plain', RECORDS[0].text)}<|im_end|>" in text


def test_few_shot_turns_precede_the_record(tokenizer) -> None:
    ids = builder(tokenizer).build(candidate(shots=2), "extract_plain", RECORDS, "dev")["t1"].prompt_token_ids
    text = tokenizer.decode(ids)
    positions = [text.index(marker) for marker in ("POOL-ZERO", gold_answer(TASK, dict(POOL[0].gold)), "POOL-ONE",
                                                   gold_answer(TASK, dict(POOL[1].gold)), "TARGET-ONE")]
    assert positions == sorted(positions)
    assert "POOL-TWO" not in text
    assert text.count("<|im_start|>assistant\n") == 3  # two answers and the generation prompt


def test_guided_candidate_carries_the_schema(tokenizer) -> None:
    request = builder(tokenizer).build(candidate(guided=True), "extract_plain", RECORDS[:1], "test")["t1"]
    assert request.json_schema == TASK.schema
    assert json.loads(json.dumps(request.json_schema))["required"] == list(FIELDS)


def test_adapter_candidate_carries_the_adapter_name(tokenizer) -> None:
    request = builder(tokenizer).build(candidate("lora_short", adapter=True), "short", RECORDS[:1], "test")["t1"]
    assert request.adapter == ADAPTER_NAME == "task-adapter"
    assert request.json_schema is None


def test_same_inputs_give_identical_ids(tokenizer) -> None:
    first = builder(tokenizer).build(candidate(shots=1), "extract_plain", RECORDS, "test")
    second = builder(tokenizer).build(candidate(shots=1), "extract_plain", RECORDS, "test")
    assert first == second


def test_over_max_model_len_raises(tokenizer) -> None:
    prompt_len = len(builder(tokenizer).build(candidate(), "extract_plain", RECORDS[:1], "test")["t1"].prompt_token_ids)
    fits = builder(tokenizer, max_model_len=prompt_len + 256)
    assert "t1" in fits.build(candidate(max_tokens=256), "extract_plain", RECORDS[:1], "test")
    too_small = builder(tokenizer, max_model_len=prompt_len + 255)
    with pytest.raises(HarnessError) as caught:
        too_small.build(candidate("big", max_tokens=256), "extract_plain", RECORDS[:1], "test")
    assert f"record t1 needs {prompt_len} prompt + 256 new tokens, over max_model_len {prompt_len + 255}" == caught.value.what
    assert caught.value.where == "candidate big"
    assert "--max-model-len" in caught.value.fix
