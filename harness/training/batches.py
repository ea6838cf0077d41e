"""Order tokenized examples into length-bucketed batches and pad them into tensors.

Training order is a pure function of (example lengths, batch size, seed, epoch): each epoch shuffles
the examples with its own seeded generator, cuts them into chunks of `BUCKET_BATCHES` batches, sorts
each chunk by length (so a batch pads little) and shuffles the batch order. The stream of
micro-batches over epochs is therefore the same on a resumed run, which skips what it already
trained. Padding is on the right with IGNORE labels and a zero attention mask. This module knows
nothing of models, optimizers or checkpoints.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from harness.training.examples import IGNORE, TokenizedExample

BUCKET_BATCHES = 8


@dataclass(frozen=True)
class Batch:
    """Padded tensors of one micro-batch; `tokens` counts non-pad tokens, `target_tokens` scored ones."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    tokens: int
    target_tokens: int


def plan_epoch(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Indices of one epoch's batches: seeded shuffle, sort by length within chunks, shuffle batches."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def stream_batches(lengths: Sequence[int], batch_size: int, seed: int) -> Iterator[list[int]]:
    """An endless stream of training micro-batches, epoch after epoch."""
    epoch = 0
    while True:
        yield from plan_epoch(lengths, batch_size, seed, epoch)
        epoch += 1


def plan_eval(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches: all examples once, sorted by length, no shuffling."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[j : j + batch_size] for j in range(0, len(order), batch_size)]


def collate(examples: Sequence[TokenizedExample], pad_id: int, device: str) -> Batch:
    """Right-pad examples into tensors on `device`."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(example.labels)
    tokens = int(mask.sum())
    targets = int((labels[:, 1:] != IGNORE).sum())
    return Batch(ids.to(device), mask.to(device), labels.to(device), tokens, targets)
