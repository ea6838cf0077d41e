"""Train (or reuse) the LoRA adapter for one set of inputs: the entry point of the training library.

`train_adapter(job)` computes the adapter's key from the base model's fingerprint, the train and dev
examples, the prompt template and the settings. A published folder with that key is reused unless
`retrain` is set. Otherwise, under the key's inter-process lock (a second run with the same key
waits, then reuses the first one's adapter), it loads the base model at the chosen precision, wraps
it in a PEFT LoRA, resumes from the newest checkpoint in the key's staging folder if there is one,
runs the loop, and publishes a folder holding the PEFT adapter (`adapter_config.json`,
`adapter_model.safetensors`, loadable by vLLM's LoRARequest), `manifest.json` and `history.jsonl`. It applies `train_limit` (the
first N train examples) but not `synthetic_mix`, which belongs to whoever selects the examples.
It knows nothing of MLflow, engines or the CLI: it returns the folder and the caller logs it.
"""

from __future__ import annotations

import math
import platform
import random
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from harness.errors import HarnessError
from harness.training.model_prep import load_tokenizer, model_fingerprint
from harness.task.specs import TrainSpec
from harness.task.strict_yaml import to_dict
from harness.training.adapter_store import (find_adapter, key_of, key_parts, publish, staging_dir, training_lock, write_history,
                                             write_json)
from harness.training.batches import plan_epoch
from harness.training.checkpoint import TrainState, load_latest_checkpoint
from harness.training.examples import TokenizedSet, TrainingExample, dataset_hash, examples_hash, tokenize_examples
from harness.training.loop import MAX_GRAD_NORM, LoopParts, run_loop
from harness.hardware.precision import PrecisionDecision, decide_precision
from harness.training.precision import TrainPrecision, choose_precision, load_base_model, peak_memory_bytes

LR_SCHEDULES = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}
WEIGHT_DECAY = 0.0


@dataclass(frozen=True)
class TrainJob:
    """Everything one training needs. `precision` is the run's decision (made from `device` when absent);
    `stop_after_steps` simulates a crash after that step (tests)."""

    base_model_dir: Path
    store_dir: Path
    train: Sequence[TrainingExample]
    dev: Sequence[TrainingExample]
    prompt_template: str
    settings: TrainSpec
    device: str | None = None
    retrain: bool = False
    precision: PrecisionDecision | None = None
    checkpoint_every_steps: int = 10
    progress: bool = True
    stop_after_steps: int | None = None


def job_key_parts(job: TrainJob, precision: TrainPrecision) -> dict[str, Any]:
    """What the job's adapter is keyed by (recorded in its manifest as `key_parts`); the training dtype included."""
    base_hash = model_fingerprint(job.base_model_dir)
    return key_parts(base_hash, dataset_hash(_limited(job), job.dev), job.prompt_template, job.settings, precision.dtype)


def job_decision(job: TrainJob) -> PrecisionDecision:
    """The run's precision decision, or one made now from `job.device` (library callers)."""
    return job.precision or decide_precision(job.device or "auto")


def train_adapter(job: TrainJob) -> Path:
    """Return the adapter folder for `job`: the cached one if its key matches, else a newly trained one."""
    check_settings(job.settings)
    if not job.train or not job.dev:
        raise HarnessError("training needs at least one train and one dev example", "training data", "build the task's data first")
    decision = job_decision(job)
    precision = choose_precision(job.settings, decision)
    parts = job_key_parts(job, precision)
    key = key_of(parts)
    found = None if job.retrain else find_adapter(job.store_dir, key)
    if found is None:
        with training_lock(job.store_dir, key) as waited:
            # Under the lock: an adapter published meanwhile (the run we waited for, retrain or not) is fresh.
            found = None if job.retrain and not waited else find_adapter(job.store_dir, key)
            if found is None:
                return _train_and_publish(job, parts, (decision, precision), key)
    print(f"[train] reusing adapter {found} (same base model, data, prompt and settings)", flush=True)
    return found


def _train_and_publish(job: TrainJob, parts: dict[str, Any], precisions: tuple[PrecisionDecision, TrainPrecision], key: str) -> Path:
    """Train into the key's staging folder (fresh when retraining) and publish the adapter; hold the training lock."""
    staging = staging_dir(job.store_dir, key)
    if job.retrain:
        shutil.rmtree(staging, ignore_errors=True)
    built = _train_into(job, parts, precisions, staging)
    return publish(built, job.store_dir, key)


def check_settings(settings: TrainSpec) -> None:
    """Reject settings the trainer cannot honour, naming the field."""
    checks = [
        ("rank", settings.rank >= 1, "a positive integer"),
        ("batch_size", settings.batch_size >= 1, "a positive integer"),
        ("grad_accum", settings.grad_accum >= 1, "a positive integer"),
        ("max_seq_tokens", settings.max_seq_tokens >= 8, "at least 8"),
        ("eval_every_steps", settings.eval_every_steps >= 1, "a positive integer"),
        ("learning_rate", settings.learning_rate > 0, "positive"),
        ("warmup_ratio", 0 <= settings.warmup_ratio < 1, "in [0, 1)"),
        ("epochs", settings.epochs > 0 or settings.max_steps is not None, "positive (or set max_steps)"),
        ("max_steps", settings.max_steps is None or settings.max_steps >= 1, "a positive integer or null"),
        ("early_stopping_patience", settings.early_stopping_patience is None or settings.early_stopping_patience >= 1, "a positive integer or null"),
        ("train_limit", settings.train_limit is None or settings.train_limit >= 1, "a positive integer or null"),
        ("lr_schedule", settings.lr_schedule in LR_SCHEDULES, f"one of {sorted(LR_SCHEDULES)}"),
    ]
    for name, ok, wanted in checks:
        if not ok:
            raise HarnessError(f"{name}={getattr(settings, name)!r} is not valid", f"train.{name}", f"use {wanted}")


def _limited(job: TrainJob) -> Sequence[TrainingExample]:
    limit = job.settings.train_limit
    return job.train[:limit] if limit is not None else job.train


def _train_into(job: TrainJob, keyed: dict[str, Any], precisions: tuple[PrecisionDecision, TrainPrecision], staging: Path) -> Path:
    """Train (resuming if a checkpoint exists) and write the adapter folder under `staging`."""
    decision, precision = precisions
    _seed_everything(job.settings.seed)
    tokenizer = load_tokenizer(job.base_model_dir)
    train = tokenize_examples(tokenizer, _limited(job), job.settings.max_seq_tokens, "train")
    dev = tokenize_examples(tokenizer, job.dev, job.settings.max_seq_tokens, "dev")
    if not train.examples or not dev.examples:
        raise HarnessError("no example keeps an answer token within max_seq_tokens", "train.max_seq_tokens", "raise max_seq_tokens")
    # Padded positions are masked out of attention and loss, so the pad id is only a filler.
    parts = _loop_parts(job, precision, staging, train, dev, tokenizer.eos_token_id)
    state = load_latest_checkpoint(staging, parts.model, parts.optimizer, parts.scheduler)
    if state is not None:
        print(f"[train] resuming from the checkpoint at step {state.step} in {staging}", flush=True)
        state.resumed_at_steps.append(state.step)
    state = run_loop(parts, state or TrainState())
    built = staging / "adapter"
    shutil.rmtree(built, ignore_errors=True)
    parts.model.save_pretrained(str(built))
    write_history(built / "history.jsonl", state.history)
    write_json(built / "manifest.json", _manifest(job, keyed, precisions, (train, dev), state))
    return built


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _loop_parts(job: TrainJob, precision: TrainPrecision, staging: Path, train: TokenizedSet, dev: TokenizedSet, pad_id: int) -> LoopParts:
    from peft import LoraConfig, get_peft_model
    from transformers import get_scheduler

    settings = job.settings
    model = load_base_model(job.base_model_dir, precision)
    lora = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=list(settings.target_modules), task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    model.peft_config["default"].base_model_name_or_path = str(job.base_model_dir)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=WEIGHT_DECAY)
    total = _total_steps(settings, [len(e.input_ids) for e in train.examples])
    scheduler = get_scheduler(LR_SCHEDULES[settings.lr_schedule], optimizer,
                              num_warmup_steps=math.ceil(settings.warmup_ratio * total), num_training_steps=total)
    return LoopParts(model, optimizer, scheduler, train, dev, settings, precision.device, pad_id, staging,
                     total, job.checkpoint_every_steps, job.stop_after_steps, job.progress, precision.autocast)


def _total_steps(settings: TrainSpec, lengths: list[int]) -> int:
    if settings.max_steps is not None:
        return settings.max_steps
    per_epoch = len(plan_epoch(lengths, settings.batch_size, settings.seed, 0))
    return max(1, math.ceil(settings.epochs * per_epoch / settings.grad_accum))


def _manifest(job: TrainJob, parts: dict[str, Any], precisions: tuple[PrecisionDecision, TrainPrecision],
              data: tuple[TokenizedSet, TokenizedSet], state: TrainState) -> dict[str, Any]:
    decision, precision = precisions
    train, dev = data
    dev_rows = [row for row in state.history if row["dev_loss"] is not None]
    kept_step = state.best_step if job.settings.early_stopping_patience else state.step
    return {
        "key": key_of(parts),
        "key_parts": parts,
        "base_model": str(job.base_model_dir),
        "base_model_hash": parts["base_model_hash"],
        "dataset_hash": parts["dataset_hash"],
        "dataset_hashes": {"train": examples_hash(_limited(job)), "dev": examples_hash(job.dev)},
        "examples": {"train": train.counts(), "dev": dev.counts()},
        "prompt_template": job.prompt_template,
        "settings": to_dict(job.settings),
        "trainer": {"optimizer": "AdamW", "weight_decay": WEIGHT_DECAY, "max_grad_norm": MAX_GRAD_NORM, "loss": "answer tokens and end-of-turn only"},
        "train_precision": precision.to_dict(),
        "trained_at": decision.to_dict(),
        "steps": state.step,
        "kept_step": kept_step,
        "stopped_early": state.stopped_early,
        "resumed_at_steps": state.resumed_at_steps,
        "train_seconds": round(state.seconds, 3),
        "tokens_seen": state.tokens_seen,
        "tokens_per_second": round(state.tokens_seen / state.seconds, 2) if state.seconds else None,
        "peak_memory_bytes": state.peak_memory_bytes,
        "peak_memory_measure": peak_memory_bytes(precision.device)[1],
        "train_loss": _recent_train_loss(state.history, kept_step),
        "dev_loss": next(row["dev_loss"] for row in reversed(dev_rows) if row["step"] == kept_step),
        "versions": _versions(precision),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _recent_train_loss(history: list[dict[str, Any]], kept_step: int) -> float | None:
    """Mean train loss of the (up to) 10 steps ending at the kept step; single steps are noisy."""
    losses = [row["train_loss"] for row in history if row["train_loss"] is not None and kept_step - 10 < row["step"] <= kept_step]
    return sum(losses) / len(losses) if losses else None


def _versions(precision: TrainPrecision) -> dict[str, str]:
    names = ["torch", "transformers", "peft", "accelerate"] + (["bitsandbytes"] if precision.quantization == "qlora" else [])
    return {"python": platform.python_version()} | {name: version(name) for name in names}
