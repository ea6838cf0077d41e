"""Pick the baseline: the strongest prompt-only candidate on dev, with ties broken by a stated rule.

On a small dev split two prompt-only candidates often score the same. The rule, in order: the
task's primary metric on dev (its own direction); then the schema-valid rate on dev (higher); then
the mean prompt tokens on dev (fewer: the cheaper prompt); then the candidates' order in the run.
A tie-breaking key is used only when every tied candidate has a value for it (the tuned candidate's
dev batch is absent when its prompt choice came from the cache), so no candidate loses a tie on a
number nobody measured. The choice records whether a tie was broken, among whom, and by which key.
Pure: it knows nothing of batches, engines or the summary's layout beyond its own section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

RULE = ("the primary metric on dev; on a tie, the higher schema_valid_rate on dev; then the fewer "
        "tokens_in_mean on dev (the shorter prompt); then the order the candidates were given")
TIE_KEYS = (("schema_valid_rate", max), ("tokens_in_mean", min))


@dataclass(frozen=True)
class DevStanding:
    """One prompt-only candidate's dev numbers; a secondary value is None when it was not measured."""

    candidate: str
    primary: float
    schema_valid_rate: float | None = None
    tokens_in_mean: float | None = None


@dataclass(frozen=True)
class BaselineChoice:
    """The chosen candidate and, when the primary metric tied, how the tie was broken."""

    chosen: str
    tie_break: Mapping[str, Any] | None

    def section(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "rule": RULE, "tie_break": None if self.tie_break is None else dict(self.tie_break)}


def choose_baseline(standings: Sequence[DevStanding], higher_is_better: bool) -> BaselineChoice:
    """The strongest standing on the primary metric; ties broken by `TIE_KEYS`, then by order."""
    pick = max if higher_is_better else min
    best = pick(s.primary for s in standings)
    tied = [s for s in standings if _same(s.primary, best)]
    if len(tied) == 1:
        return BaselineChoice(tied[0].candidate, None)
    names = [s.candidate for s in tied]
    skipped = []
    for key, better in TIE_KEYS:
        values = [getattr(s, key) for s in tied]
        if any(v is None for v in values):
            skipped.append(key)
            continue
        top = better(values)
        tied = [s for s, v in zip(tied, values) if _same(v, top)]
        if len(tied) == 1:
            return BaselineChoice(tied[0].candidate, _record(names, key, standings, skipped))
    return BaselineChoice(tied[0].candidate, _record(names, "candidate order", standings, skipped))


def _record(tied: list[str], decided_by: str, standings: Sequence[DevStanding], skipped: list[str]) -> dict[str, Any]:
    values = {s.candidate: {key: getattr(s, key) for key in ("primary", "schema_valid_rate", "tokens_in_mean")}
              for s in standings if s.candidate in tied}
    return {"tied": tied, "decided_by": decided_by, "values": values, "not_measured_for_all": skipped}


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
