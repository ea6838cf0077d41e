"""One comparison as a chain of stages: prepare (model, tokenizer, data), serve (adapter, candidates,
adapter checks), score, decide, record.

Each stage is a call into the module that owns it; this module only passes results along and
records them, so the run folder always says what was used. It writes summary.json (the source
of truth); the caller writes the report, then `complete_run` marks the run complete and points
`latest` at it; MLflow is a sink applied after that.
It never reads the environment: everything comes in the frozen `RunConfig`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.adapter.adapter_checks import check_static, parity, peft_greedy
from harness.adapter.adapter_source import AdapterInfo, provide_adapter, serving_adapter, train_job
from harness.adapter.serving_mode import AdapterServing
from harness.serve.baseline_cache import baseline_key, baseline_key_parts, cache_dir_for, restore, save
from harness.serve.batch_store import BatchStore
from harness.data.slices import SERVED_SPLIT, derive_slices, served_together, slice_name
from harness.pipeline.data_stage import TaskData, provide_data
from harness.adapter.merge import merged_model
from harness.training.model_prep import base_model_dir, load_tokenizer, model_fingerprint
from harness.engine.lifetime import guard
from harness.engine.types import EngineSettings
from harness.hardware.precision import PrecisionDecision, decide_precision
from harness.serve.prompt_choice import choice_key, load_choice, save_choice
from harness.task.prompts import template_source
from harness.task.records import Record, records_hash, write_records
from harness.serve.requests import RequestBuilder
from harness.pipeline.run_config import RunConfig
from harness.pipeline.preflight import check_run
from harness.redaction import redact_uri
from harness.record.run_record import environment, failure_marked, mark, open_run, point_latest
from harness.record.run_summary import RunSummary, write_run_summary
from harness.task.probes import BASE_LABEL as BASE_PROBES
from harness.task.probes import SPLIT as PROBE_SPLIT
from harness.task.probes import probe_set_fingerprint
from harness.serve.serving import (BASE_CANARIES, CANARY_SPLIT, ServingPlan, adapter_liveness, canary_candidate, probe_candidate, serve_base,
                             serve_merged)
from harness.task.specs import merged_label, tuned_candidate
from harness.task.strict_yaml import to_dict
from harness.pipeline.decide_stage import decide
from harness.pipeline.record_stage import record_run
from harness.pipeline.run_facts import RunFacts
from harness.pipeline.score_stage import score_run


@dataclass(frozen=True)
class ComparisonOutcome:
    run_dir: Path
    summary: RunSummary


def provide_model(config: RunConfig) -> tuple[Path, str]:
    """The served base model folder (the embedded default unless --model) and its fingerprint."""
    model_dir = base_model_dir(config.model_dir, config.paths.cache)
    return model_dir, model_fingerprint(model_dir)


def run_precision(config: RunConfig) -> PrecisionDecision:
    """The run's precision decision (made at the entry point; library callers get one made from the engine settings)."""
    return config.precision or decide_precision(config.engine.device, config.engine.dtype, memo_dir=config.paths.cache)


def recorded_config(config: RunConfig, model_hash: str, data: TaskData) -> dict[str, Any]:
    """The part of the configuration a resumed run must share with the original (credentials in URIs masked)."""
    recorded = to_dict(config)
    recorded.pop("resume_run_id")
    recorded.pop("precision")  # its probe figures vary run to run; the dtype and device it decided are in `engine`
    recorded["tracking_uri"], recorded["server_url"] = redact_uri(config.tracking_uri), redact_uri(config.server_url)
    recorded["model_hash"], recorded["data_hashes"] = model_hash, dict(data.hashes)
    return recorded


def engine_identity(config: RunConfig, settings: EngineSettings) -> dict[str, Any]:
    """The engine settings plus who serves them and on what hardware, as latency-bearing cache keys see them:
    results measured in-process, on a server the harness starts, or on a given URL, or on another CPU or GPU
    (a cache folder shared between machines), never stand in for each other."""
    if config.engine_mode == "inprocess":
        endpoint = "inprocess"
    else:
        endpoint = f"server:{redact_uri(config.server_url)}" if config.server_url else "server:started-by-harness"
    return to_dict(settings) | {"endpoint": endpoint, "hardware": run_precision(config).hardware()}


@dataclass(frozen=True)
class RunInputs:
    """What every command that serves the base model opens first: the model, its tokenizer and the task's data."""

    model_dir: Path
    model_hash: str
    tokenizer: Any
    data: TaskData

    def engine_settings(self, config: RunConfig) -> EngineSettings:
        """The run's engine settings, serving this model."""
        return dataclasses.replace(config.engine, model_dir=str(self.model_dir))

    def request_builder(self, config: RunConfig) -> RequestBuilder:
        """Requests for this task and tokenizer, few-shot examples from the data's pool."""
        return RequestBuilder(config.task, self.tokenizer, self.data.splits["few_shot_pool"], config.engine.max_model_len, config.seed)


def open_inputs(config: RunConfig) -> RunInputs:
    """The cheap checks first (nothing heavy runs on a bad input), engines left by a killed run reaped,
    then the model (converted once), its tokenizer and the data (built once)."""
    check_run(config)
    guard(config.paths.cache / "engines")
    model_dir, model_hash = provide_model(config)
    tokenizer = load_tokenizer(model_dir)
    return RunInputs(model_dir, model_hash, tokenizer, provide_data(config.task, config.paths.cache, config.data, tokenizer))


def run_comparison(config: RunConfig) -> ComparisonOutcome:
    """prepare → serve → score → decide → record, each stage taking the previous one's typed result;
    summary.json is written once, at the end."""
    inputs = open_inputs(config)
    run_dir = open_run(config.paths.reports, config.task.id, recorded_config(config, inputs.model_hash, inputs.data), config.resume_run_id)
    with failure_marked(run_dir):
        facts = serve_run(run_dir, config, inputs)
        scored = score_run(facts, BatchStore(run_dir))
        summary = record_run(facts, scored, decide(facts, scored), run_dir, run_dir.name)
        write_run_summary(run_dir, summary)
    return ComparisonOutcome(run_dir, summary)


def complete_run(run_dir: Path) -> None:
    """Mark a run complete once its caller's part of the run folder (the report) is written, and point `latest` at it;
    until then a crash leaves it unfinished, so a bare --resume finishes it."""
    mark(run_dir, "complete")
    point_latest(run_dir)


def serve_run(run_dir: Path, config: RunConfig, inputs: RunInputs) -> RunFacts:
    """The serve stage: the data card written, the adapter trained or reused, then served with every candidate."""
    inputs.data.write_card(run_dir)
    adapter = adapter_for(config, inputs.model_dir, inputs.data)
    with serving_adapter(adapter):
        return serve_candidates(run_dir, config, inputs, adapter)


def serve_candidates(run_dir: Path, config: RunConfig, inputs: RunInputs, adapter: AdapterInfo | None) -> RunFacts:
    """Serve every candidate (the adapter's files held unchanged meanwhile) and check the adapter; what was served and measured."""
    model_dir, model_hash, data = inputs.model_dir, inputs.model_hash, inputs.data
    static = check_static(adapter.path, model_dir, model_hash, config.engine.max_lora_rank) if adapter else None
    settings, builder = inputs.engine_settings(config), inputs.request_builder(config)
    key = choice_key(config.task, model_hash, data.splits["dev"], tuned_candidate(config.candidates), engine_identity(config, settings))
    store = BatchStore(run_dir)
    slices = derive_slices(config.task, data.splits["test"], config.slice_records)
    write_slices(run_dir, slices)
    splits = {**data.splits, **slices, SERVED_SPLIT: served_together(slices)}
    cache = baseline_cache_for(config, model_hash, data, settings, slices)
    restored, measured_by = restore(cache.folder, store, cache.batches) if config.reuse_baseline else ([], None)
    plan = ServingPlan(config.task, config.candidates, splits, store, config.load, load_choice(config.paths.cache, config.task, key),
                       key, adapter.path if adapter else None, config.adapter.serving, config.adapter.liveness_canaries)
    session = asyncio.run(serve_base(plan, builder, settings, config.engine_mode, config.server_url))
    save_choice(config.paths.cache, config.task, session.choice)
    engine_section = dict(session.engine) | {"load_profile": to_dict(config.load), "adapter_cold_load_s": session.adapter_cold_load_s}
    if adapter and AdapterServing.MERGED in config.adapter.serving:
        merged_dir = merged_model(model_dir, adapter.path, config.paths.cache, settings.dtype)
        engine_section["merged"] = dict(asyncio.run(serve_merged(plan, builder, settings, merged_dir, session.choice, config.engine_mode)))
    save(cache.folder, store, cache.batches, cache.parts, run_dir.name)
    sections = {"engine": engine_section, "data": data.section(), "environment": environment(run_precision(config), training_dtype(adapter)),
                "baseline_cache": cache.record(bool(restored), measured_by)}
    if adapter:
        sections["adapter"] = adapter_section(adapter, settings)
        sections["adapter_checks"] = {"base_model_match": static, "liveness": adapter_liveness(plan),
                                      "parity": parity_check(config, model_dir, adapter, builder, store, data)}
    return RunFacts(config.task, config.candidates, splits, session.choice, config.adapter.serving, config.adapter.verdict_serving,
                    config.price_usd_per_hour, config.token_price, config.seed, sections)


def adapter_section(adapter: AdapterInfo, settings: EngineSettings) -> dict[str, Any]:
    """Which adapter was served, its manifest, and at which precision it was trained and served."""
    return {"key": adapter.key, "path": str(adapter.path), "trained_here": adapter.trained_here, "manifest": dict(adapter.manifest),
            "train_precision": adapter.manifest.get("train_precision"),
            "serve_precision": {"engine": "vLLM", "dtype": settings.dtype, "device": settings.device,
                                AdapterServing.DYNAMIC: "LoRA weights applied at the engine's dtype",
                                AdapterServing.MERGED: f"merged into a {settings.dtype} copy of the base (peft merge_and_unload)"}}


@dataclass(frozen=True)
class BaselineCache:
    """Where this run's baseline batches are cached, under which key parts."""

    folder: Path
    key: str
    parts: Mapping[str, Any]
    batches: tuple[tuple[str, str], ...]

    def record(self, reused: bool, measured_by: str | None) -> dict[str, Any]:
        """The cache's record in summary.json; `measured_by`: the run whose batches were reused (None when measured
        here, or when a cache entry from before the harness recorded it was reused)."""
        return {"key": self.key, "reused": reused, "measured_by": measured_by if reused else None, "folder": str(self.folder),
                "parts": dict(self.parts),
                "explanation": "prompt-only batches are reused only when the base model hash, data hashes, candidate recipes, "
                               "prompt templates, engine settings with the serving endpoint and the hardware, and load profile all match these parts"}


def write_slices(run_dir: Path, slices: Mapping[str, Sequence[Record]]) -> None:
    """Each edge-case slice's variants in the run folder (`slices/<name>.jsonl`), to read beside its scores."""
    for split, records in slices.items():
        write_records(run_dir / "slices" / f"{slice_name(split)}.jsonl", records)


def baseline_cache_for(config: RunConfig, model_hash: str, data: TaskData, settings: EngineSettings,
                       slices: Mapping[str, Sequence[Record]]) -> BaselineCache:
    prompt_only = [c for c in config.candidates if not c.adapter]
    batches = [(c.id, split) for c in prompt_only for split in ("dev", "test", SERVED_SPLIT)]
    batches += [(f"tune.{variant}", "dev") for variant in config.task.prompts.variants] + [(BASE_CANARIES, CANARY_SPLIT)]
    batches += [(BASE_PROBES, PROBE_SPLIT)]
    templates = {name: template_source(config.task, name) for name in (*config.task.prompts.variants, config.task.prompts.adapter)}
    recipes = {c.id: to_dict(c) for c in prompt_only} | {BASE_PROBES: to_dict(probe_candidate(False)) | {"probes": probe_set_fingerprint()}}
    recipes |= {BASE_CANARIES: to_dict(canary_candidate(False)) | {
        "records": config.adapter.liveness_canaries}}
    hashes = dict(data.hashes) | ({SERVED_SPLIT: records_hash(served_together(slices))} if slices else {})
    parts = baseline_key_parts(model_hash, hashes, recipes, templates,
                               engine_identity(config, settings), to_dict(config.load))
    key = baseline_key(parts)
    return BaselineCache(cache_dir_for(config.paths.cache, config.task.id, key), key, parts, tuple(batches))


def training_dtype(adapter: AdapterInfo | None) -> str | None:
    """The dtype the adapter under test was trained in, as its manifest states (None without one)."""
    return ((adapter.manifest.get("train_precision") or {}) if adapter else {}).get("dtype")


def adapter_for(config: RunConfig, model_dir: Path, data: TaskData) -> AdapterInfo | None:
    """The adapter under test, when any candidate uses one."""
    if not any(c.adapter for c in config.candidates):
        return None
    job = train_job(config.task, model_dir, config.paths.cache / "adapters" / config.task.id, data.training_records(),
                    data.splits["dev"], config.task.train, run_precision(config), config.adapter.retrain)
    return provide_adapter(job, config.adapter.path)


def parity_check(config: RunConfig, model_dir: Path, adapter: AdapterInfo, builder: RequestBuilder, store: BatchStore,
                 data: TaskData) -> Mapping[str, Any]:
    """Greedy PEFT/transformers outputs vs the served adapter's on the first test records."""
    candidate = next(c for c in config.candidates if c.adapter)
    label = candidate.id if AdapterServing.DYNAMIC in config.adapter.serving else merged_label(candidate.id)
    sample = list(data.splits["test"])[: config.adapter.parity_sample]
    requests = builder.build(candidate, config.task.prompts.adapter, sample, "parity")
    prompts = {rid: r.prompt_token_ids for rid, r in requests.items()}
    reference = peft_greedy(model_dir, adapter.path, prompts, candidate.decoding.max_tokens, config.engine.dtype)
    served = {rid: p.text for rid, p in store.predictions(label, "test").items() if rid in reference}
    return parity(reference, served) | {"served_label": label}
