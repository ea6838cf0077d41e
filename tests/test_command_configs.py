"""Each command resolves its whole configuration once, into its own frozen config, from exactly the
flags its parser defines; and `harness data` builds with the --model tokenizer it is given.

The first test is a table over every command that takes a task; the others run the real
`harness data` command on a tiny model folder and synthetic data (no engine, no training).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Callable

import pytest
from tiny_model import write_tiny_model

from harness.adapter.serving_mode import AdapterServing
from harness.cli import build_parser, main
from harness.cli.config import (resolve_curve_config, resolve_data_config, resolve_gate_config, resolve_run_config, resolve_training_config,
                                 resolve_tuning_config)
from harness.pipeline.curve import point_config
from harness.pipeline.data_stage import data_key
from harness.errors import HarnessError
from harness.training.model_prep import base_model_dir, default_model_dir
from harness.pipeline.run_config import CurveConfig, DataConfig, DataOptions, RunConfig, TrainingConfig

ROOT = Path(__file__).resolve().parent.parent
TASK = "contract_extraction"
SMALL = ["--train-size", "4", "--few-shot-pool-size", "2", "--dev-size", "2", "--test-size", "2"]


def fields_hold_no_namespace(value: Any) -> bool:
    if isinstance(value, argparse.Namespace):
        return False
    if dataclasses.is_dataclass(value):
        return all(fields_hold_no_namespace(getattr(value, f.name)) for f in dataclasses.fields(value))
    return True


@pytest.mark.parametrize("argv, resolve, kind, check", [
    (["compare", TASK, "--rank", "4", "--min-records", "9"], resolve_run_config, RunConfig,
     lambda c: (c.task.train.rank, c.task.gate.min_records) == (4, 9)),
    (["compare", TASK, "--serving", "merged, dynamic", "--verdict-serving", "dynamic"], resolve_run_config, RunConfig,
     lambda c: c.adapter.serving == (AdapterServing.MERGED, AdapterServing.DYNAMIC) and c.adapter.verdict_serving is AdapterServing.DYNAMIC),
    (["compare", TASK], resolve_run_config, RunConfig, lambda c: c.reuse_baseline and c.adapter.serving == (AdapterServing.MERGED,)
     and not c.engine.enable_lora),  # merged only on the CPU: no engine of the run needs vLLM's LoRA support
    (["compare", TASK, "--serving", "dynamic,merged"], resolve_run_config, RunConfig, lambda c: c.engine.enable_lora),
    (["compare", TASK, "--serving", "dynamic", "--verdict-serving", "dynamic", "--candidates", "best_prompt,few_shot"], resolve_run_config,
     RunConfig, lambda c: not c.engine.enable_lora),  # no adapter candidate: nothing is served as a LoRA
    (["gate", TASK, "--adapter", "/tmp", "--serving", "dynamic,merged"], resolve_gate_config, RunConfig, lambda c: c.engine.enable_lora),
    (["tune-prompt", TASK], resolve_tuning_config, RunConfig, lambda c: c.adapter.serving == (AdapterServing.MERGED,) and not c.engine.enable_lora),
    (["compare", TASK, "--fresh-baseline"], resolve_run_config, RunConfig, lambda c: not c.reuse_baseline),
    (["gate", TASK, "--adapter", "/tmp"], resolve_gate_config, RunConfig, lambda c: c.adapter.path == Path("/tmp") and c.reuse_baseline),
    (["gate", TASK, "--adapter", "/tmp", "--fresh-baseline"], resolve_gate_config, RunConfig,
     lambda c: c.adapter.path == Path("/tmp") and not c.reuse_baseline),
    (["tune-prompt", TASK, "--alpha", "0.01"], resolve_tuning_config, RunConfig, lambda c: c.task.gate.alpha == 0.01),
    (["curve", TASK, "--sizes", "8,4,8", "--retrain", "--fresh-baseline"], resolve_curve_config, CurveConfig,
     lambda c: (c.sizes, c.run.adapter.retrain, c.run.reuse_baseline) == ((4, 8), True, False)),
    (["curve", TASK, "--serving", "dynamic,merged"], resolve_curve_config, CurveConfig,
     lambda c: c.run.engine.enable_lora and not point_config(c.run, 4, first=True).engine.enable_lora),  # each point serves merged only
    (["train", TASK, "--rank", "4", "--train-seed", "3", "--no-mlflow", "--synthetic", "--model", "/m"], resolve_training_config, TrainingConfig,
     lambda c: (c.task.train.rank, c.task.train.seed, c.tracking_uri, c.data, c.model_dir) == (4, 3, None, DataOptions(synthetic=True), Path("/m"))),
    (["train", TASK, "--tracking-uri", "sqlite:///x.db"], resolve_training_config, TrainingConfig, lambda c: c.tracking_uri == "sqlite:///x.db"),
    (["data", "card", TASK, "--dev-size", "3", "--model", "/m"], resolve_data_config, DataConfig,
     lambda c: (c.task.data.splits["dev"], c.model_dir) == (3, Path("/m"))),
    (["validate", TASK, "--seed", "5"], resolve_data_config, DataConfig, lambda c: c.task.data.seed == 5),
])
def test_each_command_resolves_its_own_frozen_config(argv: list[str], resolve: Callable, kind: type, check: Callable) -> None:
    args = build_parser().parse_args([*argv, "--root", str(ROOT), *(["--device", "cpu"] if argv[0] != "data" and argv[0] != "validate" else [])])
    config = resolve(args)
    assert type(config) is kind and fields_hold_no_namespace(config)
    assert check(config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.paths = None  # type: ignore[misc]  # CurveConfig has none: it raises the same on `run`


def test_data_build_counts_tokens_with_the_given_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_tiny_model(tmp_path / "tiny")
    common = [TASK, "--root", str(ROOT), "--cache-dir", str(tmp_path / "cache"), "--synthetic", *SMALL, "--model", str(model)]
    assert main(["data", "build", *common]) == 0
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1])
    config = resolve_data_config(build_parser().parse_args(["data", "build", *common]))
    assert folder == tmp_path / "cache" / "data" / TASK / data_key(config.task, config.data, str(model.resolve()))
    assert folder.name != data_key(config.task, config.data, str(default_model_dir(tmp_path / "cache")))
    assert main(["data", "card", *common]) == 0
    assert capsys.readouterr().out.strip() == (folder / "data_card.md").read_text().strip()


def test_base_model_dir_is_the_given_causal_lm(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "tiny")
    assert base_model_dir(model, tmp_path / "cache") == model.resolve()
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"architectures": ["BertModel"], "model_type": "bert"}')
    for folder, expected in ((tmp_path / "empty", "not a model folder"), (tmp_path / "bert", "not a causal LM")):
        folder.mkdir(exist_ok=True)
        with pytest.raises(HarnessError, match=expected):
            base_model_dir(folder, tmp_path / "cache")
