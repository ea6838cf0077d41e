"""Tokenizing chat examples (the answer-only label mask, truncation counts) and batch planning."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from harness.training.model_prep import default_model_dir
from harness.training.batches import BUCKET_BATCHES, collate, plan_epoch, plan_eval
from harness.training.examples import IGNORE, TrainingExample, dataset_hash, examples_hash, tokenize_example, tokenize_examples

MODEL_DIR = default_model_dir(Path(__file__).resolve().parents[1] / ".cache")
TARGET = '{"parties": ["Acme Corp", "Zorblax Inc"], "governing_law": "Delaware"}'


@pytest.fixture(scope="module")
def tokenizer():
    if not (MODEL_DIR / "config.json").is_file():
        pytest.fail(f"the prepared base model is missing at {MODEL_DIR}; run `harness` model preparation first")
    return AutoTokenizer.from_pretrained(str(MODEL_DIR))


def example(text: str = "This Agreement is made between Acme Corp and Zorblax Inc.", target: str = TARGET) -> TrainingExample:
    return TrainingExample([{"role": "user", "content": f"Extract the contract fields as JSON.\n\n{text}"}], target)


def test_labels_cover_exactly_the_answer_and_the_end_of_turn_token(tokenizer):
    ex = example()
    tokenized = tokenize_example(tokenizer, ex, 768, "test")
    prompt = tokenizer.apply_chat_template(ex.messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    scored = [i for i, label in enumerate(tokenized.labels) if label != IGNORE]
    assert scored == list(range(len(prompt), scored[-1] + 1)), "labelled positions are one run right after the prompt"
    assert tokenized.input_ids[: len(prompt)] == list(prompt)
    assert all(tokenized.labels[i] == tokenized.input_ids[i] for i in scored)
    assert tokenized.labels[scored[-1]] == tokenizer.eos_token_id
    assert tokenizer.decode([tokenized.labels[i] for i in scored[:-1]]) == TARGET
    assert scored[-1] < len(tokenized.input_ids) - 1, "the template's newline after end-of-turn stays unlabelled"
    assert tokenized.labels[scored[-1] + 1 :] == [IGNORE] * (len(tokenized.labels) - scored[-1] - 1)


def test_truncation_is_counted_and_answerless_examples_are_left_out_visibly(tokenizer):
    full_length = len(tokenize_example(tokenizer, example(), 768, "test").input_ids)
    cut_in_answer = tokenize_examples(tokenizer, [example()], full_length - 5, "train")
    assert cut_in_answer.counts() == {"used": 1, "truncated": 1, "without_target": 0}
    assert len(cut_in_answer.examples[0].input_ids) == full_length - 5
    cut_before_answer = tokenize_examples(tokenizer, [example(), example("x " * 200)], full_length, "train")
    assert cut_before_answer.counts() == {"used": 1, "truncated": 1, "without_target": 1}


def test_hashes_follow_every_example_field():
    base = [example(), example("another contract")]
    assert examples_hash(base) == examples_hash([example(), example("another contract")])
    assert examples_hash(base) != examples_hash([example(), example("another contract", target="{}")])
    assert examples_hash(base) != examples_hash(list(reversed(base)))
    assert dataset_hash(base, base[:1]) != dataset_hash(base, base[1:])
    assert dataset_hash(base[:1], base) != dataset_hash(base, base)


def test_epoch_plan_is_seeded_complete_and_length_bucketed():
    lengths = [(i * 37) % 101 + 5 for i in range(70)]
    batch_size = 3
    plan = plan_epoch(lengths, batch_size, seed=5, epoch=0)
    assert plan == plan_epoch(lengths, batch_size, seed=5, epoch=0)
    assert plan != plan_epoch(lengths, batch_size, seed=5, epoch=1)
    assert plan != plan_epoch(lengths, batch_size, seed=6, epoch=0)
    assert sorted(i for batch in plan for i in batch) == list(range(70))
    assert all(lengths[a] <= lengths[b] for batch in plan for a, b in zip(batch, batch[1:]))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in plan) / len(plan)
    assert spread < 101 / BUCKET_BATCHES, "bucketing keeps batch lengths close together"
    assert sorted(i for batch in plan_eval(lengths, 4) for i in batch) == list(range(70))


def test_collate_pads_on_the_right_and_masks_pads(tokenizer):
    short, long = (tokenize_example(tokenizer, example(t), 768, "test") for t in ("short", "a much longer contract text " * 5))
    batch = collate([short, long], pad_id=tokenizer.eos_token_id, device="cpu")
    n = len(short.input_ids)
    assert batch.input_ids.shape == (2, len(long.input_ids))
    assert batch.attention_mask[0, :n].all() and not batch.attention_mask[0, n:].any()
    assert (batch.labels[0, n:] == IGNORE).all()
    assert batch.tokens == n + len(long.input_ids)
    assert batch.target_tokens == short.target_tokens + long.target_tokens
