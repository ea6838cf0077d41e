"""The cheap checks every heavy command runs first: what `harness validate` checks, and the run's inputs.

Before a data build, a model conversion, training or an engine start, a command checks in a few
seconds that the task's specs, schema, templates and card are valid, that every candidate's
template renders, that the data folders hold CUAD-layout data with the columns the task reads,
that the model folder is a causal LM with its tokenizer (or the embedded model can be prepared),
that a given adapter folder is a PEFT adapter, that a server URL is an http(s) URL, and that the
reports folder is safe to write into. A failure is the first `HarnessError` found. This module
reads files only; it builds, converts and starts nothing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlsplit

from harness.adapter.adapter_checks import read_adapter_config
from harness.adapter.serving_mode import AdapterServing
from harness.data.build import default_source
from harness.data.cuad_layout import check_layout
from harness.data.recipes import wanted_categories
from harness.errors import HarnessError
from harness.training.model_prep import GGUF_PACKAGE, check_causal_lm, default_model_dir
from harness.pipeline.run_config import DataOptions, Paths, RunConfig
from harness.record.run_record import task_reports
from harness.task.specs import PROMPT_ROLES, CandidateSpec, TaskSpec
from harness.data.validate import spec_problems, template_problems


def check_run(config: RunConfig) -> None:
    """Everything a comparison (or prompt search) can check before its first heavy stage."""
    check_task(config.task, config.paths, config.data, config.model_dir)
    check_candidates(config.task, config.candidates)
    if config.adapter.path is not None and any(c.adapter for c in config.candidates):
        read_adapter_config(config.adapter.path)
    if config.server_url:
        check_url(config.server_url)
        if AdapterServing.MERGED in config.adapter.serving and any(c.adapter for c in config.candidates):
            raise HarnessError("merged serving needs an engine the harness starts: a server at --server-url cannot load the merged copy",
                               "--server-url", "add --serving dynamic --verdict-serving dynamic, or drop --server-url")


def check_task(task: TaskSpec, paths: Paths, data: DataOptions, model_dir: Path | None) -> None:
    """The task folder, the data folders, the model folder and the reports folder."""
    problems = spec_problems(task)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise HarnessError(problems[0] + more, "", f"run `harness validate {task.id}` for the full list")
    check_model(model_dir, paths.cache)
    check_data(task, data)
    task_reports(paths.reports, task.id)


def check_data(task: TaskSpec, data: DataOptions) -> None:
    if data.synthetic:
        return
    categories = wanted_categories(task)
    check_layout(data.source or default_source(task), "--data (or data.source in task.yaml)", categories)
    if data.test_from is not None:
        check_layout(data.test_from, "--test-from", categories)


def check_model(model_dir: Path | None, cache_dir: Path) -> None:
    """A given folder must be a causal LM with a tokenizer; else the embedded model must be preparable."""
    if model_dir is not None:
        check_causal_lm(model_dir.resolve())
    elif not (default_model_dir(cache_dir) / "config.json").is_file() and importlib.util.find_spec(GGUF_PACKAGE) is None:
        raise HarnessError(f"the package '{GGUF_PACKAGE}' is not installed", "default model", "run `make setup`, or pass --model")


def check_candidates(task: TaskSpec, candidates: tuple[CandidateSpec, ...]) -> None:
    """A candidate naming its own template (not a role) needs that template to render strictly."""
    names = tuple(c.prompt for c in candidates if c.prompt not in PROMPT_ROLES)
    problems = template_problems(task, names) if names else []
    if problems:
        raise HarnessError(problems[0], "", "fix the candidate's `prompt` or add the template")


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarnessError("not an http(s) URL", f"--server-url {url}", "e.g. --server-url http://127.0.0.1:8000")
