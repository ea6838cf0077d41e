"""Save and restore a training run's progress so an interrupted run resumes where it stopped.

A checkpoint is a folder `checkpoint-<step>/` inside the run's staging folder holding the trainable
(LoRA) weights, the best weights so far when early stopping keeps them, the optimizer and scheduler
state, every random generator's state (torch, CUDA, Python, NumPy) and the progress record
(`TrainState`: step, tokens, seconds, loss history, early-stopping bookkeeping). It is written under
a `.partial` name and renamed into place, so a crash mid-write leaves the previous checkpoint
intact; older checkpoints are removed once a newer one exists. Data order needs no saving: it is a
pure function of the seed (see batches). This module knows nothing of how steps are taken.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

PREFIX = "checkpoint-"


@dataclass
class TrainState:
    """Progress of one training run; everything but `best_weights` is stored as JSON."""

    step: int = 0
    tokens_seen: int = 0
    seconds: float = 0.0
    peak_memory_bytes: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_dev_loss: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    stopped_early: bool = False
    resumed_at_steps: list[int] = field(default_factory=list)
    best_weights: dict[str, torch.Tensor] | None = None


def trainable_weights(model: Any) -> dict[str, torch.Tensor]:
    """Copies of the trainable parameters (the LoRA weights), on the CPU, by name."""
    return {name: p.detach().to("cpu", copy=True).contiguous() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable_weights(model: Any, weights: dict[str, torch.Tensor]) -> None:
    """Copy saved trainable weights back into the model's parameters."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor)


def save_checkpoint(staging: Path, model: Any, optimizer: Any, scheduler: Any, state: TrainState) -> Path:
    """Write a checkpoint of the current step atomically; drop older ones."""
    final = staging / f"{PREFIX}{state.step:07d}"
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_file(trainable_weights(model), str(partial / "adapter.safetensors"))
    if state.best_weights is not None:
        save_file(state.best_weights, str(partial / "best.safetensors"))
    trainer = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": _rng_state()}
    torch.save(trainer, partial / "trainer.pt")
    record = {k: v for k, v in asdict(state).items() if k != "best_weights"}
    (partial / "state.json").write_text(json.dumps(record), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    for older in _checkpoints(staging)[:-1]:
        shutil.rmtree(older)
    return final


def load_latest_checkpoint(staging: Path, model: Any, optimizer: Any, scheduler: Any) -> TrainState | None:
    """Restore the newest checkpoint in `staging` into the given objects; None when there is none."""
    found = _checkpoints(staging)
    if not found:
        return None
    folder = found[-1]
    load_trainable_weights(model, load_file(str(folder / "adapter.safetensors")))
    trainer = torch.load(folder / "trainer.pt", weights_only=True)
    optimizer.load_state_dict(trainer["optimizer"])
    scheduler.load_state_dict(trainer["scheduler"])
    _set_rng_state(trainer["rng"])
    state = TrainState(**json.loads((folder / "state.json").read_text(encoding="utf-8")))
    if (folder / "best.safetensors").is_file():
        state.best_weights = load_file(str(folder / "best.safetensors"))
    return state


def _checkpoints(staging: Path) -> list[Path]:
    if not staging.is_dir():
        return []
    return sorted(p for p in staging.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and not p.name.endswith(".partial"))


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": [name, keys.tolist(), pos, has_gauss, cached]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])
