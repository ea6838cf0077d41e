"""Cache keys keep their values: known keys for fixed inputs, so existing caches still hit after any refactor."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from harness.serve.baseline_cache import baseline_key, baseline_key_parts
from harness.cache_files import content_key
from harness.training.adapter_store import key_of
from test_baseline_cache import PARTS as BASELINE_PARTS  # the baseline key's fixed inputs

ADAPTER_PARTS = {"key_scheme": 2, "base_model_hash": "b" * 64, "dataset_hash": "d" * 64,
                 "prompt_template": "Extract the fields — as JSON.",
                 "settings": {"rank": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}, "train_dtype": "float32"}


def test_baseline_key_of_fixed_inputs_is_pinned() -> None:
    parts = baseline_key_parts(**BASELINE_PARTS)
    assert parts["templates_sha256"]["extract_plain"] == hashlib.sha256(b"Extract: {{ text }}").hexdigest()
    assert baseline_key(parts) == "a1490d67dd4c8a12"


def test_adapter_key_of_fixed_parts_is_pinned() -> None:
    assert key_of(ADAPTER_PARTS) == "009d4ad49851aa2b8dd25cb8964b352743733b41fc9ea024ad442ac5e858bf1d"


def test_the_one_hasher_gives_both_recorded_spellings() -> None:
    parts = {"task": "contract_extraction", "nested": {"b": [1, 2.5, None], "a": "Société Générale"},
             "path": PurePosixPath("/data/cuad"), "flag": True}
    assert content_key(parts) == "29c6643a417907a1"  # data, baseline and prompt-choice caches
    assert content_key(ADAPTER_PARTS, digits=64, compact=True) == key_of(ADAPTER_PARTS)
