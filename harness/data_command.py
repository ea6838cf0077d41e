"""`harness data card <task>` (and the data half of `harness validate`): build the task's data and show its card.

It resolves the same data options as a comparison, so the card printed is the card a comparison
with those options records. This module knows the command, not how data is built.
"""

from __future__ import annotations

import argparse

from harness.cli_options import project_paths, resolve_task
from harness.data_stage import TaskData, provide_data
from harness.model_prep import prepare_default_model
from harness.run_config import DataOptions


def build_data(args: argparse.Namespace) -> TaskData:
    """Build (or reuse) the task's data for these options, counting tokens with the default model's tokenizer."""
    from transformers import AutoTokenizer

    paths = project_paths(args)
    task = resolve_task(args)
    tokenizer = AutoTokenizer.from_pretrained(str(prepare_default_model(paths.cache)))
    return provide_data(task, paths.cache, DataOptions(args.data, args.test_from, args.synthetic), tokenizer)


def build_and_describe(args: argparse.Namespace) -> str:
    """Build (or reuse) the data and return the data card as Markdown."""
    return (build_data(args).folder / "data_card.md").read_text()
