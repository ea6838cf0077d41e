"""What serving established for one run, as the scoring, deciding and recording stages take it.

`RunFacts` is the serve stage's typed result: the task and candidates, every split that was served
(test, dev, edge-case slices), the prompt search's choice, how the adapter was served and which way
the verdict judges, the prices, the seed, and the sections recorded as given (engine, data,
environment, baseline cache, adapter and its checks). `labels` names every scored label and
`verdict_label` the one the verdict judges. Nothing here reads a batch or computes a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from harness.adapter.serving_mode import AdapterServing
from harness.score.cost import TokenPrice
from harness.serve.prompt_choice import PromptChoice
from harness.task.records import Record
from harness.task.specs import CandidateSpec, TaskSpec, merged_label


@dataclass(frozen=True)
class RunFacts:
    """What the earlier stages established, recorded as given."""

    task: TaskSpec
    candidates: tuple[CandidateSpec, ...]
    splits: Mapping[str, Sequence[Record]]
    choice: PromptChoice
    serving: tuple[AdapterServing, ...]
    verdict_serving: AdapterServing
    price_usd_per_hour: float
    token_price: TokenPrice | None
    seed: int
    sections: Mapping[str, Any] = field(default_factory=dict)


def labels(facts: RunFacts) -> dict[str, tuple[CandidateSpec, str]]:
    """Every scored label with its candidate and how it was served (base, dynamic or merged)."""
    found: dict[str, tuple[CandidateSpec, str]] = {}
    for candidate in facts.candidates:
        if not candidate.adapter:
            found[candidate.id] = (candidate, "base")
            continue
        if AdapterServing.DYNAMIC in facts.serving:
            found[candidate.id] = (candidate, AdapterServing.DYNAMIC)
        if AdapterServing.MERGED in facts.serving:
            found[merged_label(candidate.id)] = (candidate, AdapterServing.MERGED)
    return found


def verdict_label(facts: RunFacts) -> str | None:
    """The adapter label the verdict judges (served the way it asks), None in a prompt-only study."""
    adapter_id = next((c.id for c in facts.candidates if c.adapter), None)
    if adapter_id is None:
        return None
    return adapter_id if facts.verdict_serving == AdapterServing.DYNAMIC else merged_label(adapter_id)
