"""Turn rendered chat examples into token ids with a label mask that trains only the answer.

A `TrainingExample` is what the caller already rendered: the chat messages of the adapter's short
prompt and the assistant's target (the gold JSON string). This module applies the model
tokenizer's chat template, checks that the generation prompt is a token prefix of the whole
conversation, and labels only the target's tokens and the end-of-turn token (everything else is
IGNORE). Examples longer than `max_seq_tokens` are cut from the right and counted; an example cut
so far that no answer token is left is counted apart and not trained on. It also hashes examples
for the adapter key. It knows nothing of models, batches, devices or where examples come from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from harness.cache_files import content_key
from harness.errors import HarnessError

IGNORE = -100


@dataclass(frozen=True)
class TrainingExample:
    """Chat `messages` (role/content dicts, no assistant answer) and the assistant's `target`."""

    messages: list[dict[str, str]]
    target: str


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids of one whole conversation and its labels (IGNORE outside the answer)."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    @property
    def target_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


@dataclass(frozen=True)
class TokenizedSet:
    """The examples that will be trained or evaluated, and how many were cut or left out."""

    examples: list[TokenizedExample] = field(default_factory=list)
    truncated: int = 0
    without_target: int = 0

    def counts(self) -> dict[str, int]:
        return {"used": len(self.examples), "truncated": self.truncated, "without_target": self.without_target}


def tokenize_example(tokenizer: Any, example: TrainingExample, max_seq_tokens: int, where: str) -> TokenizedExample:
    """Tokenize one example with the chat template; labels cover the answer and end-of-turn token."""
    prompt = _template_ids(tokenizer, example.messages, generation_prompt=True)
    conversation = example.messages + [{"role": "assistant", "content": example.target}]
    full = _template_ids(tokenizer, conversation, generation_prompt=False)
    if full[: len(prompt)] != prompt:
        raise HarnessError(
            "the chat template's generation prompt is not a token prefix of the conversation with the answer",
            where,
            "use a model whose chat template renders the assistant turn right after the generation prompt",
        )
    answer_end = _end_of_turn_index(full, len(prompt), tokenizer.eos_token_id, where)
    labels = [IGNORE] * len(prompt) + full[len(prompt) : answer_end + 1] + [IGNORE] * (len(full) - answer_end - 1)
    truncated = len(full) > max_seq_tokens
    return TokenizedExample(full[:max_seq_tokens], labels[:max_seq_tokens], truncated)


def tokenize_examples(tokenizer: Any, examples: Sequence[TrainingExample], max_seq_tokens: int, name: str) -> TokenizedSet:
    """Tokenize a split; count cut examples, and leave out (counted) those with no answer token left."""
    if not getattr(tokenizer, "chat_template", None):
        raise HarnessError("the base model's tokenizer has no chat template", "base model", "train a chat (instruct) model")
    kept, truncated, without_target = [], 0, 0
    for index, example in enumerate(examples):
        tokenized = tokenize_example(tokenizer, example, max_seq_tokens, f"{name} example {index}")
        truncated += tokenized.truncated
        if tokenized.target_tokens == 0:
            without_target += 1
            continue
        kept.append(tokenized)
    if without_target:
        print(f"[train] {name}: {without_target} example(s) left no answer token within max_seq_tokens={max_seq_tokens}; not trained on", flush=True)
    return TokenizedSet(kept, truncated, without_target)


def _template_ids(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=True, return_dict=True)
    return list(encoded["input_ids"])


def _end_of_turn_index(ids: list[int], start: int, eos_id: int | None, where: str) -> int:
    for index in range(start, len(ids)):
        if ids[index] == eos_id:
            return index
    raise HarnessError(
        "the assistant turn does not end with the tokenizer's end-of-turn (eos) token",
        where,
        "use a chat model whose template closes each turn with its eos token",
    )


def examples_hash(examples: Sequence[TrainingExample]) -> str:
    """sha256 over the examples' canonical JSON, in order."""
    digest = hashlib.sha256()
    for example in examples:
        line = json.dumps({"messages": example.messages, "target": example.target}, ensure_ascii=False, sort_keys=True)
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def dataset_hash(train: Sequence[TrainingExample], dev: Sequence[TrainingExample]) -> str:
    """One hash of the train and dev examples (dev loss picks the kept weights under early stopping)."""
    return content_key({"train": examples_hash(train), "dev": examples_hash(dev)}, digits=64)
