"""Render a candidate's chat messages for one record: template, few-shot examples, gold answers.

Each prompt is one Jinja template in the task's `prompts/` folder, rendered with strict undefined
variables from exactly `text`, `field_names` and `schema_json`. Few-shot examples are earlier
user/assistant turns rendered with the same template from the task's few-shot pool (never pasted
into templates), chosen fixed, seeded-random or most similar to the input (TF-IDF cosine). This
module knows nothing of engines, tokenizers or scoring.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import jinja2

from harness.errors import HarnessError
from harness.task.records import Record
from harness.task.specs import CandidateSpec, TaskSpec

Message = dict[str, str]


@lru_cache(maxsize=None)
def _environment(prompts_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def template_source(task: TaskSpec, name: str) -> str:
    """The raw text of a template (it is part of the adapter key and the run record)."""
    path = task.dir / "prompts" / f"{name}.j2"
    if not path.is_file():
        raise HarnessError(f"prompt template '{name}' not found", str(path), "add the .j2 file or fix the name in task.yaml")
    return path.read_text(encoding="utf-8")


def render_user_message(task: TaskSpec, template_name: str, text: str) -> str:
    """Render one template for an input text."""
    template_source(task, template_name)
    try:
        template = _environment(task.dir / "prompts").get_template(f"{template_name}.j2")
        return template.render(text=text, field_names=list(task.fields), schema_json=json.dumps(task.schema, indent=2))
    except jinja2.TemplateError as exc:
        raise HarnessError(f"template does not render: {exc}", str(task.dir / "prompts" / f"{template_name}.j2")) from None


def gold_answer(task: TaskSpec, gold: dict) -> str:
    """The assistant's answer for a gold record: its JSON, keys in schema order."""
    order = list(task.schema.get("properties", {})) or list(gold)
    return json.dumps({key: gold[key] for key in order if key in gold}, ensure_ascii=False)


def build_messages(task: TaskSpec, template_name: str, record: Record, shots: Sequence[Record]) -> list[Message]:
    """Chat messages: one user/assistant pair per shot, then the record's user turn."""
    messages: list[Message] = []
    for shot in shots:
        messages.append({"role": "user", "content": render_user_message(task, template_name, shot.text)})
        messages.append({"role": "assistant", "content": gold_answer(task, dict(shot.gold))})
    messages.append({"role": "user", "content": render_user_message(task, template_name, record.text)})
    return messages


def resolve_template(candidate: CandidateSpec, task: TaskSpec, best_prompt: str | None) -> str:
    """A candidate's template name: the tuned winner for `best`, the task's short prompt for `adapter`."""
    if candidate.prompt == "best":
        if best_prompt is None:
            raise HarnessError("no recorded best prompt", f"candidate {candidate.id}", "run `harness tune-prompt <task>` first")
        return best_prompt
    if candidate.prompt == "adapter":
        return task.prompts.adapter
    return candidate.prompt


def select_shots(candidate: CandidateSpec, record: Record, pool: Sequence[Record], seed: int) -> list[Record]:
    """The few-shot examples for one record, by the candidate's selection rule."""
    if candidate.shots == 0:
        return []
    if candidate.shots > len(pool):
        raise HarnessError(f"asks for {candidate.shots} shots but the few-shot pool has {len(pool)}", f"candidate {candidate.id}: shots")
    if candidate.shot_selection == "fixed":
        return list(pool[: candidate.shots])
    if candidate.shot_selection == "random":
        return random.Random(f"{seed}:{record.id}").sample(list(pool), candidate.shots)
    return most_similar(record, pool, candidate.shots)


def most_similar(record: Record, pool: Sequence[Record], k: int) -> list[Record]:
    """The k pool records with the highest TF-IDF cosine similarity to the input (ties by pool order)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    vectorizer = TfidfVectorizer().fit([r.text for r in pool] + [record.text])
    similarity = cosine_similarity(vectorizer.transform([record.text]), vectorizer.transform([r.text for r in pool]))[0]
    ranked = sorted(range(len(pool)), key=lambda i: (-similarity[i], i))
    return [pool[i] for i in ranked[:k]]
