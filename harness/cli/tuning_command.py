"""`harness tune-prompt <task>`: earn the best zero-shot prompt on dev and record the winner.

Runs only the prompt search of a comparison (same data, engine settings and key), so a later
`harness compare` with the same options uses the recorded choice. This module knows the command.
"""

from __future__ import annotations

import asyncio

from harness.serve.batch_store import BatchStore
from harness.pipeline.compare import engine_identity, open_inputs
from harness.engine.factory import open_engine
from harness.serve.prompt_choice import PromptChoice, choice_key, save_choice, tune_prompt
from harness.pipeline.run_config import RunConfig
from harness.record.run_record import failure_marked, mark, open_run
from harness.task.specs import tuned_candidate


def run_prompt_search(config: RunConfig) -> PromptChoice:
    """Score every variant on dev, save the choice where comparisons look for it, print it."""
    inputs = open_inputs(config)
    settings, builder, dev = inputs.engine_settings(config), inputs.request_builder(config), inputs.data.splits["dev"]
    tuned = tuned_candidate(config.candidates)
    key = choice_key(config.task, inputs.model_hash, dev, tuned, engine_identity(config, settings))
    run_dir = open_run(config.paths.reports, config.task.id, {"command": "tune-prompt", "key": key}, None)

    async def search() -> PromptChoice:
        async with open_engine(settings, config.engine_mode, config.server_url) as engine:
            return await tune_prompt(engine, builder, config.task, dev, tuned, BatchStore(run_dir), config.load, key)

    with failure_marked(run_dir):
        choice = asyncio.run(search())
        mark(run_dir, "complete")
    path = save_choice(config.paths.cache, config.task, choice)
    print(f"best prompt: {choice.winner} ({choice.variants_tried} variants tried on dev, {choice.metric}: "
          + ", ".join(f"{name} {score:.3f}" for name, score in choice.dev_scores.items()) + f")\nrecorded in {path}")
    return choice
