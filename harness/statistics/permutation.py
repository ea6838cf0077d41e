"""Paired permutation tests: the primary test's p-value, right at every sample size.

Under the null hypothesis that the two candidates are exchangeable on each record, swapping their
outputs on any record is as likely as not. The test recomputes the statistic (a difference of
micro F1 over summed (tp, fp, fn) counts, or a difference of means) under swaps and reports the
share of swap patterns whose |difference| reaches the observed one. Records where both sides are
identical cannot change under a swap, so only the `informative` ones are permuted: exactly, over
all 2^k patterns, when k <= `exact_max`; otherwise by `n_resamples` seeded random patterns with
p = (hits + 1) / (n_resamples + 1). The p-value can therefore never be below `p_min`, the smallest
value its method allows at this n: one informative record gives p = 1, five that all favour one
side give 2/32 = 0.0625, as the exact sign test does. This module deliberately knows nothing of
records, scores, metric names or the verdict: it takes count rows and returns numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest

Statistic = Callable[[np.ndarray], np.ndarray]
"""Maps summed count rows (patterns, columns) to one value per pattern."""
EXACT_MAX = 16  # 2^16 = 65,536 patterns: enumerated exactly
_CHUNK_CELLS = 2_000_000
_TIE = 1e-12  # a resampled |difference| within float noise of the observed one counts as reaching it


@dataclass(frozen=True)
class PermutationTest:
    """A two-sided paired permutation test; `method` is `exact` or `monte_carlo`."""

    observed: float
    p_value: float
    method: str
    informative: int
    patterns: int
    p_min: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def micro_f1_of_sums(sums: np.ndarray) -> np.ndarray:
    """2 tp / (2 tp + fp + fn) per row of summed (tp, fp, fn); 1.0 where nothing was counted."""
    tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
    denominator = 2 * tp + fp + fn
    return np.where(denominator == 0, 1.0, 2 * tp / np.maximum(denominator, 1))


def mean_of_sums(sums: np.ndarray) -> np.ndarray:
    """Mean from summed (value, count) rows."""
    return sums[..., 0] / sums[..., 1]


def _patterns(k: int, exact: bool, n_resamples: int, seed: int) -> np.ndarray:
    if exact:
        codes = np.arange(2 ** k, dtype=np.int64)[:, np.newaxis]
        return ((codes >> np.arange(k)) & 1).astype(np.int8)
    return np.random.default_rng(seed).integers(0, 2, size=(n_resamples, k), dtype=np.int8)


def _differences(a_sum: np.ndarray, b_sum: np.ndarray, delta: np.ndarray, swaps: np.ndarray,
                 statistic: Statistic) -> np.ndarray:
    """Statistic(a) - statistic(b) where each row of `swaps` marks the records exchanged."""
    rows = max(1, _CHUNK_CELLS // max(1, delta.size))
    out = []
    for start in range(0, len(swaps), rows):
        moved = swaps[start:start + rows].astype(np.float64) @ delta
        out.append(statistic(a_sum + moved) - statistic(b_sum - moved))
    return np.concatenate(out)


def paired_permutation(a_rows: Sequence[Sequence[float]], b_rows: Sequence[Sequence[float]],
                       statistic: Statistic, *, n_resamples: int = 10_000, seed: int = 0,
                       exact_max: int = EXACT_MAX) -> PermutationTest:
    """Two-sided paired permutation test of statistic(sum of a rows) - statistic(sum of b rows)."""
    a, b = np.asarray(a_rows, dtype=np.float64), np.asarray(b_rows, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or len(a) == 0:
        raise ValueError(f"paired rows must have one equal shape and at least one record: "
                         f"{a.shape} vs {b.shape}")
    a_sum, b_sum = a.sum(axis=0), b.sum(axis=0)
    observed = float(statistic(a_sum) - statistic(b_sum))
    delta = (b - a)[np.any(a != b, axis=1)]
    k = len(delta)
    if k == 0:
        return PermutationTest(observed, 1.0, "exact", 0, 1, 1.0, seed)
    exact = k <= exact_max
    swaps = _patterns(k, exact, n_resamples, seed)
    reached = np.abs(_differences(a_sum, b_sum, delta, swaps, statistic)) >= abs(observed) - _TIE
    if exact:
        return PermutationTest(observed, float(reached.mean()), "exact", k, 2 ** k,
                               2.0 / 2 ** k, seed)
    p = (int(reached.sum()) + 1) / (n_resamples + 1)
    return PermutationTest(observed, min(1.0, p), "monte_carlo", k, n_resamples,
                           1.0 / (n_resamples + 1), seed)


def permutation_micro_f1(a_counts: Sequence[tuple[int, int, int]],
                         b_counts: Sequence[tuple[int, int, int]], *, n_resamples: int = 10_000,
                         seed: int = 0) -> PermutationTest:
    """Paired permutation test of micro F1(a) - micro F1(b) over per-record (tp, fp, fn)."""
    return paired_permutation(a_counts, b_counts, micro_f1_of_sums, n_resamples=n_resamples,
                              seed=seed)


def _binary_exact(a: np.ndarray, b: np.ndarray, seed: int) -> PermutationTest:
    """The exact permutation test of 0/1 pairs at any n: the binomial (exact McNemar) test on the
    k discordant pairs, whose two-sided p equals the share of all 2^k swap patterns."""
    observed = float(a.mean() - b.mean())
    b10, k = int(np.sum(a > b)), int(np.sum(a != b))
    p = 1.0 if k == 0 else float(binomtest(b10, k, 0.5).pvalue)
    return PermutationTest(observed, p, "exact", k, 2 ** k, min(1.0, 2.0 / 2 ** k), seed)


def permutation_mean(a: Sequence[float], b: Sequence[float], *, n_resamples: int = 10_000,
                     seed: int = 0) -> PermutationTest:
    """Paired permutation test of mean(a) - mean(b); exact at any n for 0/1 values (McNemar)."""
    left, right = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if left.shape == right.shape and left.size and np.isin(np.concatenate([left, right]), (0, 1)).all():
        return _binary_exact(left, right, seed)
    return paired_permutation([(value, 1.0) for value in a], [(value, 1.0) for value in b],
                              mean_of_sums, n_resamples=n_resamples, seed=seed)
