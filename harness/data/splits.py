"""Split by source document, then pick each split's records from its candidates by stratum.

Contracts (never records) are shuffled by seed and dealt to train / few-shot pool / dev / test in
proportion to the records each split asks for, so no document feeds two splits. Within a split,
each stratum gets its weighted share of the records; candidates are taken round-robin across
contracts (one per contract before a second from any), and a stratum that runs short is made up
from the others. This module knows nothing of how candidates were made.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Mapping, Sequence

from harness.data.harvest import Candidate
from harness.task.records import Record

SPLITS = ("train", "few_shot_pool", "dev", "test")


def shares(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """`total` split over the keys in proportion to weights (largest remainder, ties by key order)."""
    weight_sum = sum(weights.values())
    if total <= 0 or weight_sum <= 0:
        return {key: 0 for key in weights}
    exact = {key: total * w / weight_sum for key, w in weights.items()}
    counts = {key: int(value) for key, value in exact.items()}
    order = sorted(weights, key=lambda key: -round(exact[key] - counts[key], 9))
    for key in order[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


def assign_documents(ids: Sequence[str], sizes: Mapping[str, int], seed: int) -> dict[str, list[str]]:
    """Deal document ids to the splits in proportion to `sizes`; every split that asks for
    records gets at least one document when there are enough."""
    order = sorted(ids)
    random.Random(f"{seed}:documents").shuffle(order)
    wanted = {name: size for name, size in sizes.items() if size > 0}
    counts = shares(len(order), wanted)
    for name in wanted:
        donor = max(counts, key=lambda key: counts[key])
        if counts[name] == 0 and counts[donor] > 1:
            counts[name], counts[donor] = 1, counts[donor] - 1
    assigned, start = {}, 0
    for name in sizes:
        assigned[name] = sorted(order[start:start + counts.get(name, 0)])
        start += counts.get(name, 0)
    return assigned


def round_robin(candidates: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Candidates in seeded order, each document's first before any document's second."""
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    rank: dict[str, int] = defaultdict(int)
    keyed = []
    for position, candidate in enumerate(shuffled):
        keyed.append((rank[candidate.record.source_id], position, candidate))
        rank[candidate.record.source_id] += 1
    return [candidate for _, _, candidate in sorted(keyed, key=lambda item: item[:2])]


def select(candidates: Sequence[Candidate], size: int, weights: Mapping[str, float], seed: int, split: str) -> list[Record]:
    """`size` records (fewer only when there are fewer candidates), sorted by id."""
    by_stratum: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_stratum[candidate.stratum].append(candidate)
    quotas = shares(size, {key: w for key, w in weights.items() if w > 0})
    chosen: list[Candidate] = []
    leftovers: list[Candidate] = []
    for stratum in sorted(by_stratum):
        ordered = round_robin(sorted(by_stratum[stratum], key=lambda c: c.record.id), random.Random(f"{seed}:{split}:{stratum}"))
        quota = quotas.get(stratum, 0)
        chosen += ordered[:quota]
        leftovers += ordered[quota:]
    missing = size - len(chosen)
    chosen += round_robin(leftovers, random.Random(f"{seed}:{split}:rest"))[:max(missing, 0)]
    return sorted((c.record for c in chosen), key=lambda r: r.id)
