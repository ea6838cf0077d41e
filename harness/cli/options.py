"""Command-line options, grouped by what they configure (data, engine, adapter, gate, training, run).

Each group is declared once and added to the commands that need it (harness.cli.entry); harness.cli.config
turns a command's groups into its frozen config. This module declares flags and their defaults; it
reads no value and runs nothing.
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

from harness.score.cost import DEFAULT_PRICE_USD_PER_HOUR
from harness.engine.runtime import DEFAULT_PRELOAD, PRELOAD_CHOICES
from harness.serve.predict import WARMUP_MAX_TOKENS, LoadProfile
from harness.pipeline.run_config import DEFAULT_CANDIDATES, AdapterOptions
from harness.record.run_record import RESUME_UNFINISHED
from harness.task.specs import MIN_EXCERPT_TOKENS, EffectBasis, PrimaryMetric


def effect_basis(text: str) -> str:
    """--min-effect-on: one of GateSpec's effect bases (argparse names the flag when this raises)."""
    if text not in typing.get_args(EffectBasis):
        raise ValueError(text)
    return text


GATE_FLAGS = {"min_effect": float, "min_effect_on": effect_basis, "alpha": float, "min_records": int, "schema_valid_margin": float,
              "failure_rate_margin": float, "latency_p95_ratio_margin": float, "cost_ceiling_usd_per_1k": float}
SPLIT_NAMES = ("train", "few_shot_pool", "dev", "test")
TRAIN_FLAGS = {"rank": int, "alpha": int, "dropout": float, "epochs": float, "max_steps": int, "learning_rate": float, "lr_schedule": str,
               "batch_size": int, "grad_accum": int, "max_seq_tokens": int, "quantization": str, "train_limit": int,
               "early_stopping_patience": int, "eval_every_steps": int}


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id (a folder under tasks/)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder holding tasks/ and candidates/ (default: current folder)")
    parser.add_argument("--cache-dir", type=Path, help="models, data, adapters and baselines (default: <root>/.cache)")
    parser.add_argument("--reports-dir", type=Path, help="run folders (default: <root>/reports)")


def add_data(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", type=Path, help="CUAD-layout folder to build from (default: the task's data.source)")
    group.add_argument("--test-from", type=Path, help="build the test split from this CUAD-layout folder (your held-back contracts)")
    group.add_argument("--synthetic", action="store_true", help="use the labelled synthetic generator as the data source (offline)")
    group.add_argument("--seed", type=int, help="data split seed (default: the task's data.seed)")
    for split in SPLIT_NAMES:
        group.add_argument(f"--{split.replace('_', '-')}-size", type=int, help=f"records in the {split} split (default: task.yaml)")
    group.add_argument("--excerpt-tokens", type=int, help=f"excerpt length bound in model tokens, at least {MIN_EXCERPT_TOKENS} (default: task.yaml)")
    group.add_argument("--slice-records", type=int,
                       help="test records each edge-case slice perturbs; 0 scores no slices (default: task.yaml slices.records)")


def add_engine(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine")
    add_model(group)
    add_precision(group)
    group.add_argument("--mode", choices=("inprocess", "server"), default="inprocess", help="vLLM in this process, or an OpenAI-compatible server")
    group.add_argument("--server-url", help="use a running vLLM server at this URL instead of starting one (server mode)")
    group.add_argument("--max-model-len", type=int, default=4096)
    group.add_argument("--max-lora-rank", type=int, default=16)
    group.add_argument("--kv-cache-gib", type=float, default=1.0, help="KV cache size in GiB")
    group.add_argument("--engine-preload", default=DEFAULT_PRELOAD,
                       help=f"CPU engine only: libraries preloaded into vLLM's processes, one of {', '.join(PRELOAD_CHOICES)} (default {DEFAULT_PRELOAD}, measured by `make bench`)")
    load = LoadProfile()
    group.add_argument("--concurrency", type=int, default=load.concurrency, help="requests in flight, the same for every candidate (default: the engine's batch limit)")
    group.add_argument("--warmup", type=int, default=load.warmup_requests, help=f"unrecorded warm-up requests before each batch (or group of batches served together), each cut to {WARMUP_MAX_TOKENS} generated tokens")
    group.add_argument("--timeout", type=float, default=load.timeout_s, help="seconds before a request counts as timed out")
    group.add_argument("--attempts", type=int, default=load.max_attempts, help="tries per request before it is recorded as failed")


def add_model(group: argparse._ActionsContainer) -> None:
    """--model: the base model whose tokenizer counts the data and which every engine and trainer loads."""
    group.add_argument("--model", type=Path, help="base model folder (default: the embedded SmolLM2-135M-Instruct)")


def add_precision(group: argparse._ActionsContainer) -> None:
    """--device and --dtype: the run's one precision decision (harness.hardware.precision)."""
    group.add_argument("--device", default="auto", help="auto (default): CUDA when torch sees a GPU; cpu; cuda")
    group.add_argument("--dtype", default="auto",
                       help="auto (default): bfloat16 where the hardware computes it natively, else float32 (CPU) or float16 (CUDA); "
                            "or float32, bfloat16, float16")


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


def add_baseline(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("baseline cache")
    group.add_argument("--fresh-baseline", action="store_true",
                       help="measure the prompt-only candidates again instead of reusing their cached outputs and latencies "
                            "(reused only when the base model, data, recipes, templates, engine, hardware and load profile all match)")


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
