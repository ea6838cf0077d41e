"""`harness data card|build <task>` (and the data half of `harness validate`): build the task's data and show it.

It builds with the same data options and base model tokenizer as a comparison (the embedded model
unless --model), so the card printed is the card a comparison with those options records. This
module knows the command, not how data is built.
"""

from __future__ import annotations

from harness.pipeline.data_stage import TaskData, provide_data
from harness.training.model_prep import base_model_dir, load_tokenizer
from harness.pipeline.run_config import DataConfig


def build_data(config: DataConfig) -> TaskData:
    """Build (or reuse) the task's data for these options, counting tokens with the base model's tokenizer."""
    tokenizer = load_tokenizer(base_model_dir(config.model_dir, config.paths.cache))
    return provide_data(config.task, config.paths.cache, config.data, tokenizer)


def data_card(data: TaskData) -> str:
    """The data card of built data, as Markdown."""
    return (data.folder / "data_card.md").read_text()
