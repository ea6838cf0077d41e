"""harness.serve.serving without an engine: which batches each session serves, that a session whose every
batch is complete starts no engine (the settings name a model folder that does not exist, so any
attempt to start vLLM fails the test), and the liveness check read from the two canary batches.
Uses the real task, candidates and embedded tokenizer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from harness.adapter.serving_mode import AdapterServing
from harness.serve.batch_store import BatchStore
from harness.engine.types import EngineSettings, GenerationRequest, GenerationResult
from harness.errors import HarnessError
from harness.training.model_prep import prepare_default_model
from harness.serve.predict import LoadProfile
from harness.engine.prediction_log import Prediction, append_prediction
from harness.serve.prompt_choice import PromptChoice
from harness.task.records import Record
from harness.serve.requests import RequestBuilder
from harness.serve.serving import (ADAPTER_CANARIES, BASE_CANARIES, CANARY_SPLIT, SKIPPED, ServingPlan, adapter_liveness, base_steps,
                                  merged_steps, opening_jobs, pending, serve_base, serve_merged)
from harness.task.specs import load_candidate, load_task

ROOT = Path(__file__).resolve().parent.parent
TASK = load_task(ROOT / "tasks", "contract_extraction")
CANDIDATES = tuple(load_candidate(ROOT / "candidates", name) for name in ("best_prompt", "few_shot", "lora_short", "guided_json"))
NOWHERE = EngineSettings(model_dir="/nonexistent/model")
CHOICE = PromptChoice("extract_plain", 3, "field_f1", {"extract_plain": 0.5}, "k")


def records(prefix: str, n: int) -> list[Record]:
    return [Record(f"{prefix}{i}", f"doc-{prefix}{i}", f"This agreement {prefix}{i} is governed by Texas law.", {}, "synthetic")
            for i in range(n)]


@pytest.fixture(scope="module")
def builder() -> RequestBuilder:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(prepare_default_model(ROOT / ".cache")))
    return RequestBuilder(TASK, tokenizer, records("p", 4), 4096, seed=13)


def plan_in(tmp_path: Path, serving: tuple[AdapterServing, ...] = (AdapterServing.MERGED,), adapter: bool = True) -> ServingPlan:
    splits = {"few_shot_pool": records("p", 4), "dev": records("d", 2), "test": records("t", 3)}
    return ServingPlan(TASK, CANDIDATES, splits, BatchStore(tmp_path), LoadProfile(), CHOICE, "k",
                       tmp_path / "adapter" if adapter else None, serving, 2)


def complete(plan: ServingPlan, builder: RequestBuilder, jobs, text: str = "{}") -> None:
    """Log a prediction for every request of these jobs' batches."""
    for batch in pending(plan, builder, jobs):
        for record_id in batch.requests:
            append_prediction(batch.log_path, Prediction(record_id, batch.candidate, batch.split, text, 10, 2, 0.1, 0.2, "stop", 1))


def labels(jobs) -> list[tuple[str, str]]:
    return [(job.label, job.split) for job in jobs]


def base_jobs(plan: ServingPlan, winner: str) -> list:
    """Every batch the base engine serves once the prompt is chosen, in serving order."""
    return [*opening_jobs(plan), *(job for step in base_steps(plan, winner) for job in step)]


def merged_jobs(plan: ServingPlan, winner: str) -> list:
    return [job for step in merged_steps(plan, winner) for job in step]


def test_merged_serving_sends_the_adapter_canaries_to_the_merged_engine(tmp_path: Path) -> None:
    plan = plan_in(tmp_path)
    assert labels(opening_jobs(plan)) == [(BASE_CANARIES, CANARY_SPLIT), ("regression.base", "regression")]
    assert [labels(step) for step in base_steps(plan, "extract_plain")] == [
        [("few_shot", "dev"), ("guided_json", "dev")], [("best_prompt", "test")], [("few_shot", "test")], [("guided_json", "test")], []]
    assert [labels(step) for step in merged_steps(plan, "extract_plain")] == [
        [(ADAPTER_CANARIES, CANARY_SPLIT), ("regression.adapter@merged", "regression")], [("lora_short@merged", "test")], []]
    assert not merged_jobs(plan, "extract_plain")[0].candidate.adapter


def test_every_candidate_is_served_on_the_slices_variants_in_one_batch_after_test(tmp_path: Path) -> None:
    variants = records("n", 2)
    plan = dataclasses.replace(plan_in(tmp_path), splits=plan_in(tmp_path).splits | {"slice.noisy_text": variants, "slices": variants})
    assert labels(base_steps(plan, "extract_plain")[-1]) == [("best_prompt", "slices"), ("few_shot", "slices"), ("guided_json", "slices")]
    assert [labels(step) for step in merged_steps(plan, "extract_plain")[1:]] == [[("lora_short@merged", "test")], [("lora_short@merged", "slices")]]


def test_dynamic_only_serving_runs_the_adapter_and_its_canaries_on_the_base_engine(tmp_path: Path) -> None:
    steps = base_steps(plan_in(tmp_path, serving=(AdapterServing.DYNAMIC,)), "extract_plain")
    assert [("lora_short", "test")] in [labels(step) for step in steps]
    assert labels(steps[-1]) == [("regression.adapter", "regression"), (ADAPTER_CANARIES, CANARY_SPLIT)]
    assert steps[-1][-1].candidate.adapter


def test_a_prompt_only_run_has_no_canaries(tmp_path: Path) -> None:
    assert all(job.split != CANARY_SPLIT for job in base_jobs(plan_in(tmp_path, adapter=False), "extract_plain"))


def test_a_complete_base_session_starts_no_engine_and_one_missing_request_is_pending(tmp_path: Path, builder: RequestBuilder) -> None:
    plan = plan_in(tmp_path)
    complete(plan, builder, base_jobs(plan, CHOICE.winner))
    session = asyncio.run(serve_base(plan, builder, NOWHERE, "inprocess", None))
    assert session.engine["session"] == SKIPPED and session.adapter_cold_load_s is None and session.choice == CHOICE
    assert session.engine["engine_args"]["model"] == NOWHERE.model_dir

    log = plan.store.log_path("few_shot", "test")
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))
    assert [(b.candidate, b.split, len(b.requests)) for b in pending(plan, builder, base_jobs(plan, CHOICE.winner))] == [
        ("few_shot", "test", 3)]
    with pytest.raises(OSError, match="/nonexistent/model"):  # one request is missing: the session starts vLLM on the missing folder
        asyncio.run(serve_base(plan, builder, NOWHERE, "inprocess", None))


def test_a_complete_merged_session_starts_no_engine(tmp_path: Path, builder: RequestBuilder) -> None:
    plan = plan_in(tmp_path)
    complete(plan, builder, merged_jobs(plan, CHOICE.winner))
    described = asyncio.run(serve_merged(plan, builder, NOWHERE, tmp_path / "merged", CHOICE, "inprocess"))
    assert described["session"] == SKIPPED and described["engine_args"]["model"] == str(tmp_path / "merged")


def test_liveness_reads_the_two_canary_batches(tmp_path: Path, builder: RequestBuilder) -> None:
    plan = plan_in(tmp_path)
    base = [job for job in base_jobs(plan, CHOICE.winner) if job.label == BASE_CANARIES]
    adapted = [job for job in merged_jobs(plan, CHOICE.winner) if job.label == ADAPTER_CANARIES]
    complete(plan, builder, base, text="base says this")
    complete(plan, builder, adapted, text="base says this")
    with pytest.raises(HarnessError, match="changes nothing"):
        adapter_liveness(plan)
    log = plan.store.log_path(ADAPTER_CANARIES, CANARY_SPLIT)
    first, *rest = log.read_text().splitlines(keepends=True)
    log.write_text(first.replace("base says this", "the adapter answers") + "".join(rest))
    assert adapter_liveness(plan) == {"passed": True, "canaries": 2, "differing": 1}


@pytest.mark.parametrize("serving, enable_lora", [((AdapterServing.DYNAMIC,), False), ((AdapterServing.MERGED,), True)])
def test_a_base_session_refuses_an_engine_whose_lora_support_disagrees_with_the_plan(
        tmp_path: Path, builder: RequestBuilder, serving: tuple[AdapterServing, ...], enable_lora: bool) -> None:
    plan = plan_in(tmp_path, serving=serving)
    settings = dataclasses.replace(NOWHERE, enable_lora=enable_lora)
    with pytest.raises(HarnessError, match="LoRA support is (off|on) while the adapter is (not )?served dynamically"):
        asyncio.run(serve_base(plan, builder, settings, "inprocess", None))  # refused before vLLM would fail on the missing folder


class OverlapEngine:
    """A fake engine that notes, for every request it receives, which batches had requests in flight then."""

    settings = NOWHERE

    def __init__(self) -> None:
        self.in_flight: Counter[str] = Counter()
        self.company: dict[str, set[str]] = {}  # batch -> every batch seen in flight beside it

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        if request.request_id.startswith("warmup:"):
            return GenerationResult(request.request_id, "", len(request.prompt_token_ids), 1, 0.001, 0.001, "length")
        batch = request.request_id.rsplit(":", 2)[0]  # <candidate>:<split>, or a probe batch's label
        self.in_flight[batch] += 1
        for other in +self.in_flight:
            self.company.setdefault(batch, set()).add(other)
            self.company.setdefault(other, set()).add(batch)
        await asyncio.sleep(0.01)
        self.in_flight[batch] -= 1
        return GenerationResult(request.request_id, "{}", len(request.prompt_token_ids), 2, 0.001, 0.002, "stop")

    async def load_adapter(self, name: str, path: str) -> float:
        return 0.0

    async def kv_cache_usage(self) -> None:
        return None

    def memory_root(self) -> None:
        return None

    def describe(self) -> dict:
        return {"mode": "fake"}


def test_each_test_batch_is_served_alone_and_the_other_batches_a_step_at_a_time_together(
        tmp_path: Path, builder: RequestBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = OverlapEngine()

    @contextlib.asynccontextmanager
    async def fake_engine(*args, **kwargs):
        yield engine

    monkeypatch.setattr("harness.serve.serving.open_engine", fake_engine)
    unlabelled = plan_in(tmp_path)
    gold = {name: None for name in TASK.fields} | {"governing_law": "Texas"}
    dev = [dataclasses.replace(record, gold=gold) for record in unlabelled.splits["dev"]]
    plan = dataclasses.replace(unlabelled, choice=None, splits=unlabelled.splits | {"dev": dev})
    session = asyncio.run(serve_base(plan, builder, NOWHERE, "inprocess", None))
    assert session.choice.variants_tried == len(TASK.prompts.variants)
    search = {f"tune.{variant}:dev" for variant in TASK.prompts.variants}
    assert engine.company["canary:canary"] == search | {"canary:canary", "regression.base"}  # the opening step: search, canaries, probe
    assert engine.company["few_shot:dev"] == {"few_shot:dev", "guided_json:dev"}
    for candidate in ("best_prompt", "few_shot", "guided_json"):
        assert engine.company[f"{candidate}:test"] == {f"{candidate}:test"}, "a test batch shared the engine: its latency is not its own"
