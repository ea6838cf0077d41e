"""A model folder for tests that stop before any engine: a Llama config and a word-level tokenizer, no weights.

Enough for everything up to the first heavy stage (config checks, fingerprint, tokenizer, data
build, chat-template rendering, run folder); an engine cannot load it, and no test here asks one to.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import contract

CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"


def write_tiny_model(folder: Path) -> Path:
    """Write the folder (config.json, tokenizer.json, tokenizer_config.json) and return it."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    texts = [contract(n)[0] for n in range(10)] + ["user assistant system the of a and to in"]
    tokenizer.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[UNK]", "<s>", "</s>"]))
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "bos_token": "<s>", "eos_token": "</s>",
        "chat_template": CHAT_TEMPLATE}))
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": tokenizer.get_vocab_size(),
        "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
        "max_position_embeddings": 4096, "bos_token_id": 1, "eos_token_id": 2}))
    return folder
