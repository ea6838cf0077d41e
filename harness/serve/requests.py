"""Turn a candidate recipe and records into engine requests with exact prompt token ids.

Messages come from `harness.task.prompts`; the model tokenizer's chat template turns them into token
ids here, once, so every serving mode (in-process, server) receives identical prompts. A guided
candidate carries the task schema; an adapter candidate carries the adapter's name. This module
knows nothing of engines' internals, timings or scoring.
"""

from __future__ import annotations

from typing import Any, Sequence

from harness.engine.types import GenerationRequest
from harness.errors import HarnessError
from harness.task.prompts import build_messages, select_shots
from harness.task.records import Record
from harness.task.specs import CandidateSpec, TaskSpec

ADAPTER_NAME = "task-adapter"


class RequestBuilder:
    """Builds requests for one task, one tokenizer and one few-shot pool."""

    def __init__(self, task: TaskSpec, tokenizer: Any, pool: Sequence[Record], max_model_len: int, seed: int) -> None:
        self.task, self.tokenizer, self.pool = task, tokenizer, list(pool)
        self.max_model_len, self.seed = max_model_len, seed

    def prompt_ids(self, messages: list[dict[str, str]]) -> tuple[int, ...]:
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
        return tuple(int(i) for i in ids)

    def build(self, candidate: CandidateSpec, template: str, records: Sequence[Record], split: str) -> dict[str, GenerationRequest]:
        """One request per record, keyed by record id."""
        requests = {}
        for record in records:
            shots = select_shots(candidate, record, self.pool, self.seed)
            ids = self.prompt_ids(build_messages(self.task, template, record, shots))
            if len(ids) + candidate.decoding.max_tokens > self.max_model_len:
                raise HarnessError(
                    f"record {record.id} needs {len(ids)} prompt + {candidate.decoding.max_tokens} new tokens, over max_model_len {self.max_model_len}",
                    f"candidate {candidate.id}",
                    "raise --max-model-len, lower shots or the task's excerpt_tokens",
                )
            requests[record.id] = GenerationRequest(
                request_id=f"{candidate.id}:{split}:{record.id}",
                prompt_token_ids=ids,
                max_tokens=candidate.decoding.max_tokens,
                temperature=candidate.decoding.temperature,
                stop=candidate.decoding.stop,
                json_schema=self.task.schema if candidate.decoding.guided_json else None,
                adapter=ADAPTER_NAME if candidate.adapter else None,
            )
        return requests
