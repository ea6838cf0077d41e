"""What a recipe yields: candidate records with their stratum, and counts of what it left out.

A recipe turns contracts into more candidate records than a split needs; selection later picks
from them by stratum (e.g. 'absent' vs 'present:<field>', or a clause category). Every excerpt a
recipe rejects is counted by reason, and every answer it cannot turn into gold is counted as a
flagged value, so the data card can show both. This module knows nothing of CUAD or tasks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from harness.task.records import Record

MAX_EXAMPLES = 3


@dataclass(frozen=True)
class Candidate:
    """A record that may be selected into its contract's split, and the stratum it counts toward."""

    record: Record
    stratum: str


@dataclass
class Harvest:
    """Candidates plus counts: `dropped` excerpts by reason, `flagged` answers by 'field: reason'."""

    candidates: list[Candidate] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def flag(self, reason: str, example: str) -> None:
        """Count one flagged answer, keeping a few distinct examples of each reason."""
        self.flagged[reason] += 1
        kept = self.examples.setdefault(reason, [])
        if example not in kept and len(kept) < MAX_EXAMPLES:
            kept.append(example)

    def absorb(self, other: "Harvest") -> None:
        """Add another harvest's candidates and counts to this one."""
        self.candidates += other.candidates
        self.dropped.update(other.dropped)
        for reason, count in other.flagged.items():
            self.flagged[reason] += count
            for example in other.examples.get(reason, []):
                kept = self.examples.setdefault(reason, [])
                if example not in kept and len(kept) < MAX_EXAMPLES:
                    kept.append(example)
