"""The training objective: next-token cross-entropy at the answer's positions only.

The decoder runs over the whole padded batch, but the output head (`lm_head`) is applied only to the
hidden states whose next token is a label: with a 49k-token vocabulary, full logits dominated time
and memory on the CPU (94 vs 160 tokens/s, 16.8 vs 8 GB in the measurement in STACK.md). This
assumes logits are exactly lm_head(hidden), which `precision` checks at load. Losses are returned as
sums with their token counts so gradient accumulation and evaluation weight every answer token
equally. This module knows nothing of optimizers, schedules or checkpoints.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from harness.training.batches import Batch, collate, plan_eval
from harness.training.examples import IGNORE, TokenizedSet


def target_loss_sum(model: Any, batch: Batch, device: str, autocast: str | None = None) -> torch.Tensor:
    """Summed cross-entropy over the batch's answer tokens (divide by `batch.target_tokens`).

    `autocast` names the dtype the passes autocast to (the run's precision), or None for none."""
    causal_lm = model.get_base_model()
    dtype = getattr(torch, autocast) if autocast else torch.float32
    with torch.autocast(device_type=device, dtype=dtype, enabled=autocast is not None):
        hidden = causal_lm.get_decoder()(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False
        ).last_hidden_state
        targets = batch.labels[:, 1:]
        scored = targets != IGNORE
        logits = causal_lm.get_output_embeddings()(hidden[:, :-1][scored])
    return F.cross_entropy(logits.float(), targets[scored], reduction="sum")


def evaluate_loss(model: Any, dataset: TokenizedSet, batch_size: int, pad_id: int, device: str, autocast: str | None = None) -> float:
    """Mean answer-token loss over a whole split, with dropout off."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    lengths = [len(e.input_ids) for e in dataset.examples]
    with torch.no_grad():
        for indices in plan_eval(lengths, batch_size):
            batch = collate([dataset.examples[i] for i in indices], pad_id, device)
            total += float(target_loss_sum(model, batch, device, autocast))
            count += batch.target_tokens
    model.train(was_training)
    return total / count
