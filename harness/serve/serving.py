"""Serve every candidate of a comparison: one base engine session, then the merged adapter.

Under dynamic serving the base session loads the adapter as a `LoRARequest` (timing its cold load
apart from any request; the run's engine settings enable LoRA only then). It searches for the best
prompt on dev unless a choice is recorded, runs the prompt-only candidates on dev (to pick the
strongest baseline there, never on test) and then every candidate on test and on the edge-case
slices (one batch of every slice's variants) under the same load profile. The merged session serves
the adapter folded into a copy of the base with identical engine settings. Liveness canaries are two
batches: the base model's greedy outputs (a prompt-only batch, cached with the baseline) and the
adapter's, from the engine that serves the verdict's adapter. The regression probe
(harness.task.probes) goes to the base model and to the adapter under each serving pattern, with
general prompts. A session whose every batch is already complete (restored from the baseline cache
or a resumed run) starts no engine. Each candidate's test batch is served alone, so its latency is its
own; the batches whose latency nobody reads (the prompt search with the base canaries and probe, the
dev batches, the slices with the adapter's probe and canaries) are served a step at a time, each step's
batches together as one stream, which keeps the engine's batch full. Every batch lands in the run's
`BatchStore`; this module returns what happened, and scores nothing but the prompt search.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.adapter.adapter_checks import liveness
from harness.adapter.serving_mode import AdapterServing
from harness.serve.batch_store import BatchStore
from harness.data.slices import SERVED_SPLIT
from harness.engine.factory import open_engine
from harness.engine.inprocess import describe_inprocess
from harness.engine.types import Engine, EngineSettings, GenerationRequest
from harness.engine.usage import sample_usage
from harness.errors import HarnessError
from harness.serve.predict import Batch, LoadProfile, run_batches
from harness.task.probes import ADAPTER_LABEL as ADAPTER_PROBES
from harness.task.probes import BASE_LABEL as BASE_PROBES
from harness.task.probes import MAX_TOKENS as PROBE_MAX_TOKENS
from harness.task.probes import PROBES
from harness.task.probes import SPLIT as REGRESSION_SPLIT
from harness.serve.prompt_choice import PromptChoice, choose_prompt, variant_batches
from harness.task.prompts import resolve_template
from harness.task.records import Record
from harness.serve.requests import ADAPTER_NAME, RequestBuilder
from harness.task.specs import CandidateSpec, DecodingSpec, TaskSpec, merged_label, tuned_candidate

CANARY_MAX_TOKENS = 48
CANARY_SPLIT = "canary"
BASE_CANARIES = "canary.base"
ADAPTER_CANARIES = "canary.adapter"
SKIPPED = "not started: every batch it would serve was already complete (restored from the baseline cache or a resumed run)"


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
    serving: tuple[AdapterServing, ...]
    canaries: int

    def canary_records(self) -> list[Record]:
        return list(self.splits["few_shot_pool"])[: self.canaries]

    def serves_dynamically(self) -> bool:
        """Whether the base engine serves the adapter as a LoRARequest (the engine's LoRA support is on for it)."""
        return self.adapter_dir is not None and AdapterServing.DYNAMIC in self.serving

    def scored_splits(self) -> tuple[str, ...]:
        """Where every candidate is served for scoring: test, then the edge-case slices' variants together."""
        return ("test", SERVED_SPLIT) if self.splits.get(SERVED_SPLIT) else ("test",)


@dataclass(frozen=True)
class BaseSession:
    """What the base engine session produced besides its batches."""

    choice: PromptChoice
    adapter_cold_load_s: float | None
    engine: Mapping[str, Any]


@dataclass(frozen=True)
class Job:
    """One batch to serve: a candidate's recipe under a label, with its template, on one split."""

    label: str
    candidate: CandidateSpec
    template: str
    split: str


def canary_candidate(adapter: bool) -> CandidateSpec:
    """The liveness probe's recipe: greedy, short, the adapter's prompt, with or without the LoRA."""
    return CandidateSpec("canary", "liveness probe", "adapter", adapter=adapter,
                         decoding=DecodingSpec(temperature=0.0, max_tokens=CANARY_MAX_TOKENS))


def probe_candidate(adapter: bool) -> CandidateSpec:
    """The regression probe's recipe: greedy, general prompts (harness.task.probes), with or without the LoRA."""
    return CandidateSpec("regression", "base-model regression probe", "", adapter=adapter,
                         decoding=DecodingSpec(temperature=0.0, max_tokens=PROBE_MAX_TOKENS))


def opening_jobs(plan: ServingPlan) -> list[Job]:
    """The base engine's batches that need no prompt choice: the base model's canaries and regression probe."""
    return [Job(BASE_CANARIES, canary_candidate(False), plan.task.prompts.adapter, CANARY_SPLIT),
            Job(BASE_PROBES, probe_candidate(False), "", REGRESSION_SPLIT)] if plan.adapter_dir else []


def base_steps(plan: ServingPlan, winner: str) -> list[list[Job]]:
    """The base engine's batches after the prompt search, in serving order; each step's jobs are served together.

    Each test batch is a step of its own (its latency is the candidate's); the prompt-only candidates' dev
    batches, and the slices with the dynamically served adapter's probe and canaries, carry no latency
    and are each one step."""
    tuned = tuned_candidate(plan.candidates)
    served = [c for c in plan.candidates if not c.adapter or plan.serves_dynamically()]
    dev = [Job(c.id, c, resolve_template(c, plan.task, winner), "dev") for c in plan.candidates if not c.adapter and c != tuned]
    tests = [[Job(c.id, c, resolve_template(c, plan.task, winner), "test")] for c in served]
    closing = [Job(c.id, c, resolve_template(c, plan.task, winner), SERVED_SPLIT) for c in served if SERVED_SPLIT in plan.scored_splits()]
    if plan.serves_dynamically():
        closing.append(Job(ADAPTER_PROBES, probe_candidate(True), "", REGRESSION_SPLIT))
    if plan.adapter_dir and AdapterServing.MERGED not in plan.serving:
        closing.append(Job(ADAPTER_CANARIES, canary_candidate(True), plan.task.prompts.adapter, CANARY_SPLIT))
    return [dev, *tests, closing]


def merged_steps(plan: ServingPlan, winner: str) -> list[list[Job]]:
    """The merged engine's batches in serving order: the adapter's liveness canaries and regression probe
    together, then each adapter candidate on test alone, then on the slices together."""
    adapters = [c for c in plan.candidates if c.adapter]

    def job(candidate: CandidateSpec, split: str) -> Job:
        return Job(merged_label(candidate.id), dataclasses.replace(candidate, adapter=False), resolve_template(candidate, plan.task, winner), split)

    opening = [Job(ADAPTER_CANARIES, canary_candidate(False), plan.task.prompts.adapter, CANARY_SPLIT),
               Job(merged_label(ADAPTER_PROBES), probe_candidate(False), "", REGRESSION_SPLIT)]
    slices = [job(c, SERVED_SPLIT) for c in adapters if SERVED_SPLIT in plan.scored_splits()]
    return [opening, *[[job(c, "test")] for c in adapters], slices]


def job_batch(plan: ServingPlan, builder: RequestBuilder, job: Job) -> Batch:
    if job.split == REGRESSION_SPLIT:
        requests = {probe.id: GenerationRequest(f"{job.label}:{probe.id}", builder.prompt_ids([{"role": "user", "content": probe.prompt}]),
                                                PROBE_MAX_TOKENS, adapter=ADAPTER_NAME if job.candidate.adapter else None) for probe in PROBES}
    else:
        records = plan.canary_records() if job.split == CANARY_SPLIT else plan.splits[job.split]
        requests = builder.build(job.candidate, job.template, records, job.split)
    return Batch(job.label, job.split, requests, plan.store.log_path(job.label, job.split))


def pending(plan: ServingPlan, builder: RequestBuilder, jobs: Sequence[Job]) -> list[Batch]:
    """The jobs' batches that still miss a logged prediction."""
    return unfinished(plan, [job_batch(plan, builder, job) for job in jobs])


def unfinished(plan: ServingPlan, batches: Sequence[Batch]) -> list[Batch]:
    return [b for b in batches if not set(b.requests) <= set(plan.store.predictions(b.candidate, b.split))]


async def serve_together(engine: Engine, plan: ServingPlan, batches: Sequence[Batch]) -> None:
    """Serve batches as one stream (predict.run_batches); add each one's wall time and the engine's peak usage
    while they ran to the store. A stream of slices and regression probes only sends no warm-up: it follows
    a test batch (or the canaries) on a warm engine, and short streams would otherwise pay it again and again."""
    if not batches:
        return
    warm = all(batch.split in (SERVED_SPLIT, REGRESSION_SPLIT) for batch in batches)
    profile = dataclasses.replace(plan.profile, warmup_requests=0) if warm else plan.profile
    async with sample_usage(engine) as peaks:
        await run_batches(engine, batches, profile, lambda batch, seconds: plan.store.add_wall_seconds(batch.candidate, batch.split, seconds))
    for batch in batches:
        plan.store.add_usage(batch.candidate, batch.split, peaks.usage())


async def serve_base(plan: ServingPlan, builder: RequestBuilder, settings: EngineSettings, mode: str, url: str | None) -> BaseSession:
    """The prompt search with the base canaries and regression probe, then every other batch the base engine
    serves; no engine when all are done."""
    opening = pending(plan, builder, opening_jobs(plan))
    # with a recorded prompt choice the steps are known now; without one, the search decides them
    known = [pending(plan, builder, step) for step in base_steps(plan, plan.choice.winner)] if plan.choice else None
    if known is not None and not opening and not any(known) and mode == "inprocess":
        return BaseSession(plan.choice, None, describe_inprocess(settings) | {"session": SKIPPED})
    dynamic = plan.serves_dynamically()
    if dynamic != settings.enable_lora:  # RunConfig.with_adapter sets it from the same candidates and --serving
        raise HarnessError(f"the base engine's LoRA support is {'off' if dynamic else 'on'} while the adapter is "
                           f"{'' if dynamic else 'not '}served dynamically", "engine settings", "build the run config with RunConfig.with_adapter")
    adapters = {ADAPTER_NAME: str(plan.adapter_dir)} if dynamic else {}
    dev, tuned = plan.splits["dev"], tuned_candidate(plan.candidates)
    async with open_engine(settings, mode, url, adapters) as engine:
        cold = await engine.load_adapter(ADAPTER_NAME, str(plan.adapter_dir)) if dynamic else None
        search = [] if plan.choice else variant_batches(builder, plan.task, dev, tuned, plan.store)
        await serve_together(engine, plan, [*unfinished(plan, search), *opening])
        choice = plan.choice or choose_prompt(plan.task, dev, plan.store, plan.choice_key)
        steps = known if known is not None else [pending(plan, builder, step) for step in base_steps(plan, choice.winner)]
        for batches in steps:
            await serve_together(engine, plan, batches)
        return BaseSession(choice, cold, engine.describe())


async def serve_merged(plan: ServingPlan, builder: RequestBuilder, settings: EngineSettings, merged_dir: Path,
                       choice: PromptChoice, mode: str) -> Mapping[str, Any]:
    """Serve the adapter candidates from the merged copy in the base's engine mode (server mode starts a
    server of its own; a given --server-url cannot hold the merged copy), engine settings otherwise
    identical; no engine when all are done."""
    merged_settings = dataclasses.replace(settings, model_dir=str(merged_dir))
    steps = [pending(plan, builder, step) for step in merged_steps(plan, choice.winner)]
    if not any(steps) and mode == "inprocess":
        return describe_inprocess(merged_settings) | {"session": SKIPPED}
    async with open_engine(merged_settings, mode) as engine:
        for batches in steps:
            await serve_together(engine, plan, batches)
        return engine.describe()


def adapter_liveness(plan: ServingPlan) -> Mapping[str, Any]:
    """Greedy outputs with and without the adapter on few-shot-pool canaries must differ."""
    base, adapted = (plan.store.predictions(label, CANARY_SPLIT) for label in (BASE_CANARIES, ADAPTER_CANARIES))
    failed = [p for p in (*base.values(), *adapted.values()) if p.error]
    if failed:
        raise HarnessError(f"a liveness canary request failed ({failed[0].error})", "adapter liveness", "check the engine")
    ids = sorted(base)
    return liveness([base[i].text for i in ids], [adapted[i].text for i in ids])
