"""Each command's flags resolved once into its frozen config (the only place flag values are read).

One `resolve_*` function per command turns exactly the option groups that command's parser has
(harness.cli.options) into its config: `RunConfig` (compare, gate, tune-prompt), `CurveConfig`,
`TrainingConfig` or `DataConfig`, applying the precedence built-in defaults < task/candidate YAML <
flags once, with every numeric flag checked against its bounds first. The environment is read for
the MLflow URI only here. No argparse namespace goes further; this module runs nothing, with one
exception: a command whose engine will run in this process re-executes the program into the engine's
runtime (harness.engine.runtime.restart_in) once its flags and task have been checked and before
any work or output, when it was started by the `harness` command itself (`restart_in_runtime`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from harness.adapter.serving_mode import AdapterServing
from harness.cli.options import GATE_FLAGS, SPLIT_NAMES, TRAIN_FLAGS
from harness.score.cost import TokenPrice
from harness.engine.runtime import engine_runtime, restart_in
from harness.engine.types import EngineSettings
from harness.errors import HarnessError
from harness.hardware.precision import PrecisionDecision, decide_precision, resolve_device
from harness.serve.predict import LoadProfile
from harness.pipeline.run_config import AdapterOptions, CurveConfig, DataConfig, DataOptions, Paths, RunConfig, TrainingConfig
from harness.task.specs import MIN_EXCERPT_TOKENS, TaskSpec, load_candidate, load_task, tuned_candidate


def project_paths(args: argparse.Namespace) -> Paths:
    return Paths.under(args.root, args.cache_dir, args.reports_dir)


def resolve_precision(args: argparse.Namespace, paths: Paths) -> PrecisionDecision:
    """The run's device and dtype, decided once from the hardware (remembered per machine in the cache) and the flags, and printed."""
    decision = decide_precision(args.device, args.dtype, memo_dir=paths.cache)
    probe = f"; {decision.probe.describe()}" if decision.probe else ""
    print(f"[precision] {decision.device} {decision.dtype} ({decision.reason}{probe})", flush=True)
    return decision


def overrides(args: argparse.Namespace, fields: dict[str, object], prefix: str = "") -> dict[str, object]:
    return {name: getattr(args, prefix + name) for name in fields if getattr(args, prefix + name) is not None}


def data_options(args: argparse.Namespace) -> DataOptions:
    """The data group's source options (the one place they are built), with the folders checked to exist."""
    for flag, folder in (("--data", args.data), ("--test-from", args.test_from)):
        if folder is not None and not folder.is_dir():
            raise HarnessError("folder not found", f"{flag} {folder}", "pass a folder in the CUAD layout (master_clauses.csv + full_contract_txt/)")
    return DataOptions(args.data, args.test_from, args.synthetic)


def data_task(args: argparse.Namespace, paths: Paths) -> TaskSpec:
    """The task spec with the data group's flags (split sizes, excerpt length, seed) applied."""
    task = load_task(paths.tasks, args.task)
    changes: dict[str, object] = {}
    sizes = {s: getattr(args, f"{s}_size") for s in SPLIT_NAMES}
    if any(v is not None for v in sizes.values()):
        changes["splits"] = {s: (v if v is not None else task.data.splits.get(s, 0)) for s, v in sizes.items()}
    changes |= {name: value for name, value in (("excerpt_tokens", args.excerpt_tokens), ("seed", args.seed)) if value is not None}
    return dataclasses.replace(task, data=dataclasses.replace(task.data, **changes))


def with_gate_flags(task: TaskSpec, args: argparse.Namespace) -> TaskSpec:
    return dataclasses.replace(task, gate=dataclasses.replace(task.gate, **overrides(args, GATE_FLAGS | {"primary_metric": str})))


def with_train_flags(task: TaskSpec, args: argparse.Namespace) -> TaskSpec:
    changes = overrides(args, TRAIN_FLAGS, "train_") | ({"seed": args.train_seed} if args.train_seed is not None else {})
    return dataclasses.replace(task, train=dataclasses.replace(task.train, **changes))


def resolve_run_config(args: argparse.Namespace) -> RunConfig:
    """compare (and curve): flags + YAML + defaults -> the frozen RunConfig of this run."""
    check_bounds(args, "train")
    config = resolve_gate_config(args)
    return dataclasses.replace(config, task=with_train_flags(config.task, args))


def resolve_gate_config(args: argparse.Namespace) -> RunConfig:
    """gate: a comparison's flags without the training group (the gate judges a given adapter); the
    prompt-only candidates' cached batches are reused unless --fresh-baseline."""
    check_bounds(args, "data", "engine", "adapter", "gate")
    paths = project_paths(args)
    config = engine_run_config(args, paths, with_gate_flags(data_task(args, paths), args))
    return config.with_adapter(adapter_options(args, config.engine.device), reuse_baseline=not args.fresh_baseline)


def resolve_tuning_config(args: argparse.Namespace) -> RunConfig:
    """tune-prompt: a RunConfig without adapter or training flags (their defaults; the prompt search uses neither)."""
    check_bounds(args, "data", "engine", "gate")
    paths = project_paths(args)
    config = engine_run_config(args, paths, with_gate_flags(data_task(args, paths), args))
    # a comparison's default serving, so that one with the same options finds the recorded choice under the same engine settings
    return config.with_adapter(AdapterOptions(serving=serving_modes(default_serving(config.engine.device))))


def resolve_training_config(args: argparse.Namespace) -> TrainingConfig:
    """train: the task with data and training flags, the model, the precision and where to log."""
    check_bounds(args, "data", "train")
    paths = project_paths(args)
    task = with_train_flags(data_task(args, paths), args)
    return TrainingConfig(task, paths, data_options(args), resolve_precision(args, paths), args.model, args.retrain,
                          None if args.no_mlflow else tracking_uri(args, paths))


def resolve_data_config(args: argparse.Namespace) -> DataConfig:
    """data and validate: the task with data flags, and the model whose tokenizer counts the excerpts."""
    check_bounds(args, "data")
    paths = project_paths(args)
    return DataConfig(data_task(args, paths), paths, data_options(args), args.model)


def engine_run_config(args: argparse.Namespace, paths: Paths, task: TaskSpec) -> RunConfig:
    """The RunConfig of the engine, gate and run groups, with the default adapter options."""
    candidates = tuple(load_candidate(paths.candidates, cid.strip()) for cid in args.candidates.split(",") if cid.strip())
    if not candidates:
        raise HarnessError("no candidates given", "--candidates", "name at least one file in candidates/")
    tuned_candidate(candidates)  # the prompt search's recipe exists, checked before any work
    data = data_options(args)
    if args.mode == "inprocess" and args.server_url:
        raise HarnessError("--server-url needs --mode server", "--server-url")
    if args.mode == "inprocess" and args.restart_in_runtime:  # the engine will run in this process: it must start in its runtime
        restart_in(engine_runtime(resolve_device(args.device), args.engine_preload))
    precision = resolve_precision(args, paths)
    engine = EngineSettings(model_dir="", device=precision.device, dtype=precision.dtype, max_model_len=args.max_model_len, max_lora_rank=args.max_lora_rank,
                            kv_cache_gib=args.kv_cache_gib, seed=0, runtime=engine_runtime(precision.device, args.engine_preload))
    return RunConfig(task=task, candidates=candidates, paths=paths, engine=engine, engine_mode=args.mode, server_url=args.server_url,
                     model_dir=args.model, load=LoadProfile(args.concurrency, args.warmup, args.timeout, args.attempts), data=data,
                     price_usd_per_hour=args.price_per_hour, token_price=token_price(args.token_price), precision=precision,
                     tracking_uri=None if args.no_mlflow else tracking_uri(args, paths), resume_run_id=args.resume, seed=task.data.seed,
                     slice_records=args.slice_records)


def resolve_curve_config(args: argparse.Namespace) -> CurveConfig:
    """curve: the comparison's configuration and the training-set sizes (--sizes: sorted, unique, positive)."""
    return CurveConfig(resolve_run_config(args), tuple(parse_sizes(args.sizes)))


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise HarnessError(f"not a list of integers: {text!r}", "--sizes", "e.g. --sizes 25,50,100,200") from None
    if not sizes or sizes[0] < 1:
        raise HarnessError("sizes must be positive integers", "--sizes")
    return sizes


def default_serving(device: str) -> str:
    """Both serving patterns on a GPU; merged only on the CPU (dynamic LoRA there costs 3-7x, STACK.md and `make bench`)."""
    return "dynamic,merged" if device == "cuda" else "merged"


def serving_modes(text: str) -> tuple[AdapterServing, ...]:
    """The serving patterns a comma-separated `--serving` value names, in its order."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {mode.value for mode in AdapterServing}
    if not names or set(names) - known:
        raise HarnessError(f"--serving {text!r} must name dynamic and/or merged", "--serving")
    return tuple(AdapterServing(name) for name in names)


def adapter_options(args: argparse.Namespace, device: str) -> AdapterOptions:
    """The adapter group's options; `--serving` defaults by device and must include `--verdict-serving`."""
    text = args.serving or default_serving(device)
    serving = serving_modes(text)
    if AdapterServing(args.verdict_serving) not in serving:
        raise HarnessError(f"--serving {text!r} must include --verdict-serving {args.verdict_serving}", "--serving")
    return AdapterOptions(path=args.adapter, retrain=args.retrain, serving=serving, verdict_serving=AdapterServing(args.verdict_serving),
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


# group -> dest -> (flag, smallest allowed value, whether the value must be strictly greater than it)
BOUNDS = {
    "data": {"train_size": ("--train-size", 1, False), "few_shot_pool_size": ("--few-shot-pool-size", 1, False),
             "dev_size": ("--dev-size", 1, False), "test_size": ("--test-size", 1, False),
             "excerpt_tokens": ("--excerpt-tokens", MIN_EXCERPT_TOKENS, False), "slice_records": ("--slice-records", 0, False)},
    "engine": {"concurrency": ("--concurrency", 1, False), "warmup": ("--warmup", 0, False), "attempts": ("--attempts", 1, False),
               "timeout": ("--timeout", 0, True), "kv_cache_gib": ("--kv-cache-gib", 0, True), "max_model_len": ("--max-model-len", 1, False),
               "max_lora_rank": ("--max-lora-rank", 1, False)},
    "adapter": {"parity_sample": ("--parity-sample", 0, False), "canaries": ("--canaries", 1, False)},
    "gate": {"price_per_hour": ("--price-per-hour", 0, False)},
    "train": {"train_rank": ("--rank", 1, False), "train_epochs": ("--epochs", 0, True),
              "train_max_steps": ("--max-steps", 1, False), "train_learning_rate": ("--learning-rate", 0, True),
              "train_batch_size": ("--batch-size", 1, False), "train_grad_accum": ("--grad-accum", 1, False),
              "train_max_seq_tokens": ("--max-seq-tokens", 1, False), "train_train_limit": ("--train-limit", 1, False)},
}


def check_bounds(args: argparse.Namespace, *groups: str) -> None:
    """Every numeric flag of the command's groups within its range, checked before anything runs; the error names the flag."""
    for group in groups:
        for dest, (flag, least, strict) in BOUNDS[group].items():
            value = getattr(args, dest)
            if value is None or (value > least if strict else value >= least):
                continue
            bound = f"greater than {least:g}" if strict else f"at least {least:g}"
            raise HarnessError(f"must be {bound}, got {value:g}", flag, f"pass {flag} with a value {bound}")
