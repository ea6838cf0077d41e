"""The training loop: optimizer steps over bucketed batches, dev evaluation, early stopping, checkpoints.

`run_loop` continues a `TrainState` (fresh, or restored from a checkpoint) to the planned number of
optimizer steps. Each step accumulates `grad_accum` micro-batches, weighting every answer token
equally, clips the gradient norm, and steps AdamW and the learning-rate schedule. The dev loss is
measured before the first step, every `eval_every_steps` and at the last step; with a patience set,
training stops after that many evaluations without improvement and the best weights are restored.
A checkpoint is written every `checkpoint_every_steps`. Each step appends one history row (step,
train_loss, dev_loss, learning_rate, tokens_seen, seconds) and updates a tqdm bar. This module
knows nothing of hashing, manifests or where adapters are stored.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from harness.task.specs import TrainSpec
from harness.training.batches import collate, stream_batches
from harness.training.checkpoint import TrainState, load_trainable_weights, save_checkpoint, trainable_weights
from harness.training.examples import TokenizedSet
from harness.training.objective import evaluate_loss, target_loss_sum
from harness.training.precision import peak_memory_bytes

MAX_GRAD_NORM = 1.0


class TrainingInterrupted(Exception):
    """Raised by the `stop_after_steps` hook: the run stopped as if killed; its checkpoints remain."""


@dataclass(frozen=True)
class LoopParts:
    """What the loop works on: model, optimizer and schedule, data, settings and bookkeeping knobs."""

    model: Any
    optimizer: Any
    scheduler: Any
    train: TokenizedSet
    dev: TokenizedSet
    settings: TrainSpec
    device: str
    pad_id: int
    staging: Path
    total_steps: int
    checkpoint_every_steps: int
    stop_after_steps: int | None
    progress: bool
    autocast: str | None = None


def run_loop(parts: LoopParts, state: TrainState) -> TrainState:
    """Train from `state.step` to the planned end (or early stop); return the final state."""
    lengths = [len(e.input_ids) for e in parts.train.examples]
    stream = stream_batches(lengths, parts.settings.batch_size, parts.settings.seed)
    stream = itertools.islice(stream, state.step * parts.settings.grad_accum, None)
    if not state.history:
        _timed(state, lambda: state.history.append(_evaluation_row(parts, state)))
    bar = tqdm(total=parts.total_steps, initial=state.step, desc="train", unit="step", disable=not parts.progress)
    while state.step < parts.total_steps and not state.stopped_early:
        _timed(state, lambda: _step_and_record(parts, state, [next(stream) for _ in range(parts.settings.grad_accum)]))
        state.peak_memory_bytes = max(state.peak_memory_bytes, peak_memory_bytes(parts.device)[0])
        _show(bar, state)
        if state.step % parts.checkpoint_every_steps == 0 and state.step < parts.total_steps:
            save_checkpoint(parts.staging, parts.model, parts.optimizer, parts.scheduler, state)
        if parts.stop_after_steps is not None and state.step >= parts.stop_after_steps:
            bar.close()
            raise TrainingInterrupted(f"stopped after step {state.step} by the stop_after_steps hook")
    bar.close()
    if parts.settings.early_stopping_patience and state.best_weights is not None:
        load_trainable_weights(parts.model, state.best_weights)
    return state


def _step_and_record(parts: LoopParts, state: TrainState, micro_batches: list[list[int]]) -> None:
    learning_rate = parts.scheduler.get_last_lr()[0]
    train_loss, tokens = _optimizer_step(parts, micro_batches)
    state.step += 1
    state.tokens_seen += tokens
    row = {"step": state.step, "train_loss": train_loss, "dev_loss": None, "learning_rate": learning_rate}
    if state.step % parts.settings.eval_every_steps == 0 or state.step == parts.total_steps:
        row["dev_loss"] = _evaluate_and_track(parts, state)
    state.history.append(row | {"tokens_seen": state.tokens_seen})


def _optimizer_step(parts: LoopParts, micro_batches: list[list[int]]) -> tuple[float, int]:
    batches = [collate([parts.train.examples[i] for i in indices], parts.pad_id, parts.device) for indices in micro_batches]
    targets = sum(b.target_tokens for b in batches)
    total = 0.0
    for batch in batches:
        loss_sum = target_loss_sum(parts.model, batch, parts.device, parts.autocast)
        (loss_sum / targets).backward()
        total += float(loss_sum.detach())
    trainable = [p for p in parts.model.parameters() if p.requires_grad]
    torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
    parts.optimizer.step()
    parts.scheduler.step()
    parts.optimizer.zero_grad(set_to_none=True)
    return total / targets, sum(b.tokens for b in batches)


def _evaluation_row(parts: LoopParts, state: TrainState) -> dict[str, Any]:
    """The history row before any training: the dev loss of the untrained (no-op) adapter."""
    dev_loss = _evaluate_and_track(parts, state)
    return {"step": 0, "train_loss": None, "dev_loss": dev_loss, "learning_rate": parts.scheduler.get_last_lr()[0], "tokens_seen": 0}


def _evaluate_and_track(parts: LoopParts, state: TrainState) -> float:
    """Measure the dev loss; remember the best step (and its weights when early stopping is on)."""
    dev_loss = evaluate_loss(parts.model, parts.dev, parts.settings.batch_size, parts.pad_id, parts.device, parts.autocast)
    patience = parts.settings.early_stopping_patience
    if state.best_dev_loss is None or dev_loss < state.best_dev_loss:
        state.best_dev_loss, state.best_step, state.evals_since_best = dev_loss, state.step, 0
        state.best_weights = trainable_weights(parts.model) if patience else None
    else:
        state.evals_since_best += 1
        state.stopped_early = bool(patience) and state.evals_since_best >= patience
    return dev_loss


def _timed(state: TrainState, action: Any) -> None:
    """Run `action`, add its wall time to the state, and stamp the newest history row with it."""
    started = time.perf_counter()
    action()
    state.seconds += time.perf_counter() - started
    state.history[-1]["seconds"] = round(state.seconds, 3)


def _show(bar: tqdm, state: TrainState) -> None:
    row = state.history[-1]
    postfix = {"loss": f"{row['train_loss']:.4f}", "tok/s": f"{state.tokens_seen / max(state.seconds, 1e-9):.0f}"}
    if row["dev_loss"] is not None:
        postfix["dev"] = f"{row['dev_loss']:.4f}"
    bar.set_postfix(postfix)
    bar.update(1)
