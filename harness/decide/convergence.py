"""Read a training's loss history for signs that the adapter under test was not trained to its best.

Two signs, each a sentence for the verdict's reasons and the report: the dev loss was still
falling at the end of training (its last evaluation improved on the one before by more than
`STILL_FALLING`, relatively: more steps would likely help), and train and dev loss diverge (the
dev loss rose more than `DIVERGING` above its best while the train loss kept falling: the adapter
is over-fitting; not said when early stopping kept the best step). History rows are those `harness train` writes to `history.jsonl` (step,
train_loss, dev_loss; dev_loss is null between evaluations). This module is pure: it knows
nothing of files, models or verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

STILL_FALLING = 0.02
DIVERGING = 0.05
_WINDOW = 10  # train-loss steps averaged at each end; single steps are noisy


def _mean_train_loss(history: Sequence[Mapping[str, Any]], last_step: int) -> float | None:
    losses = [row["train_loss"] for row in history
              if row.get("train_loss") is not None and last_step - _WINDOW < row["step"] <= last_step]
    return sum(losses) / len(losses) if losses else None


def _still_falling(evaluations: Sequence[Mapping[str, Any]]) -> str | None:
    before, last = evaluations[-2], evaluations[-1]
    drop = (before["dev_loss"] - last["dev_loss"]) / before["dev_loss"] if before["dev_loss"] > 0 else 0.0
    if drop <= STILL_FALLING:
        return None
    return (f"Under-trained: the adapter's dev loss was still falling when training ended "
            f"({before['dev_loss']:.3f} at step {before['step']} -> {last['dev_loss']:.3f} at step "
            f"{last['step']}, -{drop:.0%}); more epochs or a higher learning rate would likely help.")


def _diverging(history: Sequence[Mapping[str, Any]], evaluations: Sequence[Mapping[str, Any]],
               kept_step: int | None) -> str | None:
    best = min(evaluations, key=lambda row: row["dev_loss"])
    last = evaluations[-1]
    if best is last or kept_step == best["step"] or last["dev_loss"] <= best["dev_loss"] * (1 + DIVERGING):
        return None
    train_then, train_end = _mean_train_loss(history, best["step"]), _mean_train_loss(history, last["step"])
    if train_then is None or train_end is None or train_end >= train_then:
        return None
    return (f"Train and dev loss diverge: dev loss rose from its best {best['dev_loss']:.3f} (step "
            f"{best['step']}) to {last['dev_loss']:.3f} (step {last['step']}) while train loss fell "
            f"from {train_then:.3f} to {train_end:.3f}; the adapter is over-fitting.")


def training_notes(history: Sequence[Mapping[str, Any]], kept_step: int | None = None) -> tuple[str, ...]:
    """Sentences about under-training or divergence; empty when neither shows (or too few evaluations).

    Divergence is not reported when the kept adapter is the best-dev-loss one (early stopping)."""
    evaluations = sorted((row for row in history if row.get("dev_loss") is not None), key=lambda row: row["step"])
    if len(evaluations) < 2:
        return ()
    return tuple(note for note in (_still_falling(evaluations), _diverging(history, evaluations, kept_step)) if note)
