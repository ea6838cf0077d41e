"""Command-line options and their resolution into frozen specs (the only place flags are read).

Options are grouped by what they configure (data, engine, adapter, gate, training, tracking) and
shared by the commands that need them. `resolve_run_config` applies the precedence built-in
defaults < task/candidate YAML < flags, once, and reads the environment for the MLflow URI only
here. This module knows argparse and the specs; it runs nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing
from pathlib import Path

from harness.cost import DEFAULT_PRICE_USD_PER_HOUR, TokenPrice
from harness.engine.runtime import DEFAULT_PRELOAD, PRELOAD_CHOICES, engine_runtime
from harness.engine.types import EngineSettings
from harness.errors import HarnessError
from harness.precision import PrecisionDecision, decide_precision
from harness.predict import LoadProfile
from harness.run_config import DEFAULT_CANDIDATES, AdapterOptions, DataOptions, Paths, RunConfig
from harness.run_record import RESUME_UNFINISHED
from harness.specs import MIN_EXCERPT_TOKENS, EffectBasis, PrimaryMetric, TaskSpec, load_candidate, load_task

def effect_basis(text: str) -> str:
    """--min-effect-on: one of GateSpec's effect bases (argparse names the flag when this raises)."""
    if text not in typing.get_args(EffectBasis):
        raise ValueError(text)
    return text


GATE_FLAGS = {"min_effect": float, "min_effect_on": effect_basis, "alpha": float, "min_records": int, "schema_valid_margin": float,
              "failure_rate_margin": float, "latency_p95_ratio_margin": float, "cost_ceiling_usd_per_1k": float}
TRAIN_FLAGS = {"rank": int, "alpha": int, "dropout": float, "epochs": float, "max_steps": int, "learning_rate": float, "lr_schedule": str,
               "batch_size": int, "grad_accum": int, "max_seq_tokens": int, "quantization": str, "train_limit": int,
               "early_stopping_patience": int, "eval_every_steps": int}


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id (a folder under tasks/)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder holding tasks/ and candidates/ (default: current folder)")
    parser.add_argument("--cache-dir", type=Path, help="models, data, adapters and baselines (default: <root>/.cache)")
    parser.add_argument("--reports-dir", type=Path, help="run folders (default: <root>/reports)")


def project_paths(args: argparse.Namespace) -> Paths:
    return Paths.under(args.root, args.cache_dir, args.reports_dir)


def add_data(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", type=Path, help="CUAD-layout folder to build from (default: the task's data.source)")
    group.add_argument("--test-from", type=Path, help="build the test split from this CUAD-layout folder (your held-back contracts)")
    group.add_argument("--synthetic", action="store_true", help="use the labelled synthetic generator as the data source (offline)")
    group.add_argument("--seed", type=int, help="data split seed (default: the task's data.seed)")
    for split in ("train", "few_shot_pool", "dev", "test"):
        group.add_argument(f"--{split.replace('_', '-')}-size", type=int, help=f"records in the {split} split (default: task.yaml)")
    group.add_argument("--excerpt-tokens", type=int, help=f"excerpt length bound in model tokens, at least {MIN_EXCERPT_TOKENS} (default: task.yaml)")


def add_engine(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine")
    group.add_argument("--model", type=Path, help="base model folder (default: the embedded SmolLM2-135M-Instruct)")
    add_precision(group)
    group.add_argument("--mode", choices=("inprocess", "server"), default="inprocess", help="vLLM in this process, or an OpenAI-compatible server")
    group.add_argument("--server-url", help="use a running vLLM server at this URL instead of starting one (server mode)")
    group.add_argument("--max-model-len", type=int, default=4096)
    group.add_argument("--max-lora-rank", type=int, default=16)
    group.add_argument("--kv-cache-gib", type=float, default=1.0, help="KV cache size in GiB")
    group.add_argument("--engine-preload", default=DEFAULT_PRELOAD,
                       help=f"CPU engine only: libraries preloaded into vLLM's processes, one of {', '.join(PRELOAD_CHOICES)} (default {DEFAULT_PRELOAD}, measured by `make bench`)")
    load = LoadProfile()
    group.add_argument("--concurrency", type=int, default=load.concurrency, help="requests in flight (the same for every candidate)")
    group.add_argument("--warmup", type=int, default=load.warmup_requests, help="unrecorded warm-up requests per batch")
    group.add_argument("--timeout", type=float, default=load.timeout_s, help="seconds before a request counts as timed out")
    group.add_argument("--attempts", type=int, default=load.max_attempts, help="tries per request before it is recorded as failed")


def add_precision(group: argparse._ActionsContainer) -> None:
    """--device and --dtype: the run's one precision decision (harness.precision)."""
    group.add_argument("--device", default="auto", help="auto (default): CUDA when torch sees a GPU; cpu; cuda")
    group.add_argument("--dtype", default="auto",
                       help="auto (default): bfloat16 where the hardware computes it natively, else float32 (CPU) or float16 (CUDA); "
                            "or float32, bfloat16, float16")


def resolve_precision(args: argparse.Namespace) -> PrecisionDecision:
    """The run's device and dtype, decided once from the hardware and the flags, and printed."""
    decision = decide_precision(args.device, args.dtype)
    probe = f"; {decision.probe.describe()}" if decision.probe else ""
    print(f"[precision] {decision.device} {decision.dtype} ({decision.reason}{probe})", flush=True)
    return decision


def add_adapter(parser: argparse.ArgumentParser, required: bool = False) -> None:
    group = parser.add_argument_group("adapter")
    group.add_argument("--adapter", type=Path, required=required, help="adapter folder to test (default: train or reuse the cached one)")
    group.add_argument("--retrain", action="store_true", help="train a new adapter even if one is cached for these inputs")
    group.add_argument("--serving", help="how to serve the adapter: dynamic (LoRARequest), merged, or both (default: both on CUDA; merged "
                                          "on the CPU, where dynamic LoRA measured 3-7x slower than merged serving)")
    group.add_argument("--verdict-serving", choices=("dynamic", "merged"), default="merged", help="which serving the verdict uses")
    defaults = AdapterOptions()
    group.add_argument("--parity-sample", type=int, default=defaults.parity_sample, help="test records compared greedily under PEFT and vLLM")
    group.add_argument("--canaries", type=int, default=defaults.liveness_canaries, help="few-shot-pool inputs of the adapter liveness check")


def add_gate(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("gate thresholds (default: the task's gate section)")
    group.add_argument("--primary-metric", choices=typing.get_args(PrimaryMetric), help="the metric the verdict judges")
    for name, kind in GATE_FLAGS.items():
        group.add_argument(f"--{name.replace('_', '-')}", type=kind)
    group.add_argument("--price-per-hour", type=float, default=DEFAULT_PRICE_USD_PER_HOUR,
                       help=f"USD per accelerator-hour for the cost model (default {DEFAULT_PRICE_USD_PER_HOUR}, an assumption)")
    group.add_argument("--token-price", help="hosted-API prices to compare with: INPUT,OUTPUT in USD per 1M tokens (e.g. 0.15,0.60)")


def add_train(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training (default: the task's train section)")
    for name, kind in TRAIN_FLAGS.items():
        flag = "--lora-alpha" if name == "alpha" else f"--{name.replace('_', '-')}"
        group.add_argument(flag, dest=f"train_{name}", type=kind)
    group.add_argument("--train-seed", type=int)


def add_run(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--candidates", default=",".join(DEFAULT_CANDIDATES), help="comma-separated candidate ids (files in candidates/)")
    group.add_argument("--resume", nargs="?", const=RESUME_UNFINISHED,
                       help="resume an interrupted run: bare, the newest unfinished run of the task; or `latest`, or a run id")
    group.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<root>/mlruns.db)")
    group.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")


def overrides(args: argparse.Namespace, fields: dict[str, type], prefix: str = "") -> dict[str, object]:
    return {name: getattr(args, prefix + name) for name in fields if getattr(args, prefix + name, None) is not None}


def resolve_task(args: argparse.Namespace) -> TaskSpec:
    """The task spec with data, gate and training flags applied."""
    check_bounds(args)
    paths = project_paths(args)
    task = load_task(paths.tasks, args.task)
    data_changes: dict[str, object] = {}
    sizes = {s: getattr(args, f"{s}_size", None) for s in ("train", "few_shot_pool", "dev", "test")}
    if any(v is not None for v in sizes.values()):
        data_changes["splits"] = {s: (v if v is not None else task.data.splits.get(s, 0)) for s, v in sizes.items()}
    if getattr(args, "excerpt_tokens", None) is not None:
        data_changes["excerpt_tokens"] = args.excerpt_tokens
    if getattr(args, "seed", None) is not None:
        data_changes["seed"] = args.seed
    gate = dataclasses.replace(task.gate, **overrides(args, GATE_FLAGS | {"primary_metric": str}))
    train_changes = overrides(args, TRAIN_FLAGS, "train_") | ({"seed": args.train_seed} if getattr(args, "train_seed", None) is not None else {})
    return dataclasses.replace(task, data=dataclasses.replace(task.data, **data_changes), gate=gate,
                               train=dataclasses.replace(task.train, **train_changes))


def resolve_run_config(args: argparse.Namespace) -> RunConfig:
    """Flags + YAML + defaults -> the frozen RunConfig of this run."""
    paths = project_paths(args)
    task = resolve_task(args)
    candidates = tuple(load_candidate(paths.candidates, cid.strip()) for cid in args.candidates.split(",") if cid.strip())
    if not candidates:
        raise HarnessError("no candidates given", "--candidates", "name at least one file in candidates/")
    for flag, folder in (("--data", args.data), ("--test-from", args.test_from)):
        if folder is not None and not folder.is_dir():
            raise HarnessError("folder not found", f"{flag} {folder}", "pass a folder in the CUAD layout (master_clauses.csv + full_contract_txt/)")
    if args.mode == "inprocess" and args.server_url:
        raise HarnessError("--server-url needs --mode server", "--server-url")
    precision = resolve_precision(args)
    engine = EngineSettings(model_dir="", device=precision.device, dtype=precision.dtype, max_model_len=args.max_model_len, max_lora_rank=args.max_lora_rank,
                            kv_cache_gib=args.kv_cache_gib, seed=0, runtime=engine_runtime(precision.device, args.engine_preload))
    return RunConfig(
        task=task, candidates=candidates, paths=paths, engine=engine, engine_mode=args.mode, server_url=args.server_url,
        model_dir=args.model, load=LoadProfile(args.concurrency, args.warmup, args.timeout, args.attempts),
        data=DataOptions(args.data, args.test_from, args.synthetic),
        adapter=adapter_options(args, precision.device),
        price_usd_per_hour=args.price_per_hour, token_price=token_price(args.token_price),
        tracking_uri=None if args.no_mlflow else tracking_uri(args, paths), resume_run_id=args.resume, seed=task.data.seed,
        precision=precision,
    )


def default_serving(device: str) -> str:
    """Both serving patterns on a GPU; merged only on the CPU (dynamic LoRA there costs 3-7x, STACK.md and `make bench`)."""
    return "dynamic,merged" if device == "cuda" else "merged"


def adapter_options(args: argparse.Namespace, device: str) -> AdapterOptions:
    """The adapter group's options; the defaults for a command without that group (tune-prompt)."""
    if not hasattr(args, "serving"):
        return AdapterOptions()
    text = args.serving or default_serving(device)
    serving = tuple(s.strip() for s in text.split(",") if s.strip())
    if set(serving) - {"dynamic", "merged"} or args.verdict_serving not in serving:
        raise HarnessError(f"--serving {text!r} must name dynamic and/or merged and include --verdict-serving {args.verdict_serving}", "--serving")
    return AdapterOptions(path=args.adapter, retrain=args.retrain, serving=serving, verdict_serving=args.verdict_serving,
                          liveness_canaries=args.canaries, parity_sample=args.parity_sample)


def token_price(text: str | None) -> TokenPrice | None:
    if not text:
        return None
    try:
        prices = [float(part) for part in text.split(",")]
    except ValueError:
        prices = []
    if len(prices) != 2 or min(prices) < 0:
        raise HarnessError(f"not two non-negative numbers: {text!r}", "--token-price", "write INPUT,OUTPUT in USD per 1M tokens")
    return TokenPrice(*prices)


def tracking_uri(args: argparse.Namespace, paths: Paths) -> str:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else the embedded SQLite store in the project."""
    return args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{paths.root / 'mlruns.db'}"


# dest -> (flag, smallest allowed value, whether the value must be strictly greater than it)
BOUNDS = {
    "train_size": ("--train-size", 1, False), "few_shot_pool_size": ("--few-shot-pool-size", 1, False),
    "dev_size": ("--dev-size", 1, False), "test_size": ("--test-size", 1, False),
    "excerpt_tokens": ("--excerpt-tokens", MIN_EXCERPT_TOKENS, False),
    "concurrency": ("--concurrency", 1, False), "warmup": ("--warmup", 0, False), "attempts": ("--attempts", 1, False),
    "timeout": ("--timeout", 0, True), "kv_cache_gib": ("--kv-cache-gib", 0, True), "max_model_len": ("--max-model-len", 1, False),
    "max_lora_rank": ("--max-lora-rank", 1, False), "parity_sample": ("--parity-sample", 0, False), "canaries": ("--canaries", 1, False),
    "price_per_hour": ("--price-per-hour", 0, False), "train_rank": ("--rank", 1, False), "train_epochs": ("--epochs", 0, True),
    "train_max_steps": ("--max-steps", 1, False), "train_learning_rate": ("--learning-rate", 0, True),
    "train_batch_size": ("--batch-size", 1, False), "train_grad_accum": ("--grad-accum", 1, False),
    "train_max_seq_tokens": ("--max-seq-tokens", 1, False), "train_train_limit": ("--train-limit", 1, False),
}


def check_bounds(args: argparse.Namespace) -> None:
    """Every numeric flag within its range, checked before anything runs; the error names the flag."""
    for dest, (flag, least, strict) in BOUNDS.items():
        value = getattr(args, dest, None)
        if value is None or (value > least if strict else value >= least):
            continue
        bound = f"greater than {least:g}" if strict else f"at least {least:g}"
        raise HarnessError(f"must be {bound}, got {value:g}", flag, f"pass {flag} with a value {bound}")
