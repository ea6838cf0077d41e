"""Serve every candidate of a comparison: one base engine session, then the merged adapter.

The base session loads the adapter as a `LoRARequest` (timing its cold load apart from any
request), proves it is live on canary inputs, earns the best prompt on dev unless a choice is
recorded, runs the prompt-only candidates on dev (to pick the strongest baseline there, never on
test) and then every candidate on test under the same load profile. The merged session serves the
adapter folded into a copy of the base with identical engine settings. Every batch lands in the
run's `BatchStore`; this module returns what happened, and scores nothing but the prompt search.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.adapter_checks import liveness
from harness.batch_store import BatchStore
from harness.engine.factory import open_engine
from harness.engine.types import Engine, EngineSettings
from harness.predict import Batch, LoadProfile, run_batch
from harness.prompt_choice import PromptChoice, tune_prompt
from harness.prompts import resolve_template
from harness.records import Record
from harness.requests import ADAPTER_NAME, RequestBuilder
from harness.specs import CandidateSpec, DecodingSpec, TaskSpec

CANARY_MAX_TOKENS = 48


@dataclass(frozen=True)
class ServingPlan:
    """What to serve: candidates, records by split, where batches go, and the adapter if any."""

    task: TaskSpec
    candidates: tuple[CandidateSpec, ...]
    splits: Mapping[str, Sequence[Record]]
    store: BatchStore
    profile: LoadProfile
    choice: PromptChoice | None
    choice_key: str
    adapter_dir: Path | None
    serving: tuple[str, ...]
    canaries: int


@dataclass(frozen=True)
class BaseSession:
    """What the base engine session produced besides its batches."""

    choice: PromptChoice
    liveness: Mapping[str, Any] | None
    adapter_cold_load_s: float | None
    engine: Mapping[str, Any]


def tuned_candidate(candidates: Sequence[CandidateSpec]) -> CandidateSpec:
    """The recipe whose decoding the prompt search uses: the first zero-shot `best` one, or defaults."""
    for candidate in candidates:
        if candidate.prompt == "best" and candidate.shots == 0 and not candidate.decoding.guided_json:
            return candidate
    return CandidateSpec("best_prompt", "prompt search", "best", decoding=DecodingSpec())


async def run_labelled(engine: Engine, plan: ServingPlan, builder: RequestBuilder, label: str, candidate: CandidateSpec,
                       template: str, split: str) -> None:
    """Run one candidate on one split under `label` and record its wall time."""
    requests = builder.build(candidate, template, plan.splits[split], split)
    batch = Batch(label, split, requests, plan.store.log_path(label, split))
    await run_batch(engine, batch, plan.profile, lambda seconds: plan.store.add_wall_seconds(label, split, seconds))


async def serve_base(plan: ServingPlan, builder: RequestBuilder, settings: EngineSettings, mode: str, url: str | None) -> BaseSession:
    adapters = {ADAPTER_NAME: str(plan.adapter_dir)} if plan.adapter_dir else {}
    async with open_engine(settings, mode, url, adapters) as engine:
        cold = await engine.load_adapter(ADAPTER_NAME, str(plan.adapter_dir)) if plan.adapter_dir else None
        live = await check_liveness(engine, plan, builder) if plan.adapter_dir else None
        choice = plan.choice or await tune_prompt(engine, builder, plan.task, plan.splits["dev"], tuned_candidate(plan.candidates),
                                                  plan.store, plan.profile, plan.choice_key)
        for candidate in plan.candidates:
            if not candidate.adapter and candidate != tuned_candidate(plan.candidates):
                await run_labelled(engine, plan, builder, candidate.id, candidate, resolve_template(candidate, plan.task, choice.winner), "dev")
        for candidate in plan.candidates:
            if not candidate.adapter or "dynamic" in plan.serving:
                await run_labelled(engine, plan, builder, candidate.id, candidate, resolve_template(candidate, plan.task, choice.winner), "test")
        return BaseSession(choice, live, cold, engine.describe())


async def check_liveness(engine: Engine, plan: ServingPlan, builder: RequestBuilder) -> Mapping[str, Any]:
    """Greedy outputs with and without the adapter on few-shot-pool canaries must differ."""
    canaries = list(plan.splits["few_shot_pool"])[: plan.canaries]
    probe = CandidateSpec("canary", "liveness probe", "adapter", adapter=True,
                          decoding=DecodingSpec(temperature=0.0, max_tokens=CANARY_MAX_TOKENS))
    with_adapter = builder.build(probe, plan.task.prompts.adapter, canaries, "canary")
    without = {rid: dataclasses.replace(r, adapter=None, request_id=r.request_id + ":base") for rid, r in with_adapter.items()}
    adapted = [(await engine.generate(r)).text for r in with_adapter.values()]
    base = [(await engine.generate(r)).text for r in without.values()]
    return liveness(base, adapted)


async def serve_merged(plan: ServingPlan, builder: RequestBuilder, settings: EngineSettings, merged_dir: Path,
                       choice: PromptChoice) -> Mapping[str, Any]:
    """Serve the adapter candidates from the merged copy, engine settings otherwise identical."""
    merged_settings = dataclasses.replace(settings, model_dir=str(merged_dir))
    async with open_engine(merged_settings, "inprocess") as engine:
        for candidate in plan.candidates:
            if candidate.adapter:
                base_only = dataclasses.replace(candidate, adapter=False)
                await run_labelled(engine, plan, builder, merged_label(candidate.id), base_only,
                                   resolve_template(candidate, plan.task, choice.winner), "test")
        return engine.describe()


def merged_label(candidate_id: str) -> str:
    return f"{candidate_id}@merged"
