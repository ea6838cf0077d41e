"""Statistics on numbers: bootstrap intervals, paired bootstraps, exact McNemar and Holm.

Paired comparisons compare two candidates on the same records in the same order, which removes the
per-record difficulty both share (a hard contract is hard for both) from the comparison. There
are two paired bootstraps: of the mean of per-record differences (`paired_bootstrap`), and of the
difference of micro F1 over per-record (tp, fp, fn) counts (`paired_bootstrap_micro_f1`), which
resamples records and recomputes the ratio, since micro F1 is not a mean over records. The paired
bootstraps give the difference's confidence interval and standard error only: a bootstrap p-value
bottoms out at 2/(B+1) whatever n is (one record could "prove" a win), so significance comes from
the paired permutation tests in harness.statistics.permutation. Every resampling is seeded, so the same inputs
give the same numbers. This module deliberately knows
nothing about records, scores, metric names or what counts as a win: it takes sequences of
numbers, count triples or booleans and returns numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest

Statistic = Callable[[np.ndarray], np.ndarray]
"""Reduces a (resamples, n) matrix along axis 1 to one value per resample."""
_CHUNK_CELLS = 2_000_000  # resampled values held in memory at once
_ROUNDING_NOISE = 1e-12  # a standard deviation this small is float noise on equal differences


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class PairedComparison:
    """Paired bootstrap of a statistic of a minus the same statistic of b over the same records.

    `mean_diff` is the observed full-sample difference: of means for `paired_bootstrap`, of micro
    F1 for `paired_bootstrap_micro_f1` (the name is kept so every consumer reads one shape). `se`
    is the standard deviation of the resampled differences (the difference's standard error).
    `effect_size_dz` is None when it is undefined: fewer than two pairs, every difference the same
    nonzero number (its standard deviation is 0), or a statistic that is not a mean (micro F1).
    """

    mean_diff: float
    ci: Interval
    se: float
    effect_size_dz: float | None
    n: int
    n_resamples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar: b01 = pairs where only b is right, b10 = pairs where only a is right."""

    b01: int
    b10: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap_distribution(values: Sequence[float], statistic: Statistic, n_resamples: int,
                           seed: int) -> np.ndarray:
    """The statistic over n_resamples resamples (with replacement) of values, in chunks."""
    data = np.asarray(values, dtype=float)
    if data.size == 0 or n_resamples < 1:
        raise ValueError("bootstrap needs at least one value and one resample")
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_CELLS // data.size)
    chunks = []
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        chunks.append(statistic(data[rng.integers(0, data.size, size=(size, data.size))]))
    return np.concatenate(chunks)


def percentile_interval(distribution: np.ndarray, confidence: float) -> Interval:
    """Percentile-method interval of a bootstrap distribution."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(distribution, [tail, 1.0 - tail])
    return Interval(float(low), float(high), confidence)


def _check_pairing(a: Sequence[float], b: Sequence[float],
                   ids: tuple[Sequence[str], Sequence[str]] | None) -> None:
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    if ids is not None and list(ids[0]) != list(ids[1]):
        raise ValueError("paired samples are not over the same record ids in the same order")
    if ids is not None and len(ids[0]) != len(a):
        raise ValueError(f"{len(ids[0])} record ids given for {len(a)} paired values")


def _effect_size_dz(diffs: np.ndarray) -> float | None:
    if diffs.size < 2:
        return None
    mean, sd = float(np.mean(diffs)), float(np.std(diffs, ddof=1))
    if sd <= _ROUNDING_NOISE * max(1.0, abs(mean)):
        return 0.0 if abs(mean) <= _ROUNDING_NOISE else None
    return mean / sd


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *,
                     ids: tuple[Sequence[str], Sequence[str]] | None = None,
                     n_resamples: int = 10_000, seed: int = 0,
                     confidence: float = 0.95) -> PairedComparison:
    """Paired bootstrap of the mean of a - b over records.

    The CI is the percentile interval of the resampled mean differences, `se` their standard
    deviation.
    """
    _check_pairing(a, b, ids)
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    means = bootstrap_distribution(diffs, lambda m: m.mean(axis=1), n_resamples, seed)
    return PairedComparison(
        mean_diff=float(diffs.mean()), ci=percentile_interval(means, confidence),
        se=float(np.std(means)), effect_size_dz=_effect_size_dz(diffs), n=int(diffs.size),
        n_resamples=n_resamples, seed=seed)


def _count_matrix(counts: Sequence[tuple[int, int, int]], side: str) -> np.ndarray:
    if len(counts) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    try:
        matrix = np.asarray(counts)
    except ValueError:  # ragged triples
        matrix = np.zeros(0)
    if (matrix.dtype.kind not in "iu" or matrix.ndim != 2 or matrix.shape[1] != 3
            or bool((matrix < 0).any())):
        raise ValueError(f"{side}_counts must hold one (tp, fp, fn) triple of non-negative "
                         "integers per record")
    return matrix.astype(np.int64)


def _check_same_gold(a: np.ndarray, b: np.ndarray) -> None:
    """tp + fn is a record's gold count, whatever was predicted, so it must agree between sides."""
    differs = np.flatnonzero(a[:, 0] + a[:, 2] != b[:, 0] + b[:, 2])
    if differs.size:
        i = int(differs[0])
        raise ValueError(f"record {i} has {a[i, 0] + a[i, 2]} gold values (tp + fn) in a but "
                         f"{b[i, 0] + b[i, 2]} in b; the counts are not over the same records")


def _micro_f1(matrix: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Micro F1 of the counts summed over each row of record indices; 1.0 where 2tp+fp+fn is 0."""
    tp, fp, fn = (matrix[:, column][indices].sum(axis=1) for column in range(3))
    denominator = 2 * tp + fp + fn
    return np.where(denominator == 0, 1.0, 2 * tp / np.maximum(denominator, 1))


def micro_f1_bootstrap(counts: Sequence[tuple[int, int, int]], *, n_resamples: int = 10_000, seed: int = 0,
                       confidence: float = 0.95) -> tuple[float, Interval]:
    """Micro F1 of per-record (tp, fp, fn) counts and its percentile bootstrap interval over records
    (the same draws and the same 0-denominator rule as `paired_bootstrap_micro_f1`)."""
    matrix = _count_matrix(counts, "counts")
    records = np.arange(len(matrix))
    distribution = bootstrap_distribution(records, lambda indices: _micro_f1(matrix, indices.astype(np.intp)), n_resamples, seed)
    return float(_micro_f1(matrix, records[np.newaxis, :])[0]), percentile_interval(distribution, confidence)


def paired_bootstrap_micro_f1(a_counts: Sequence[tuple[int, int, int]],
                              b_counts: Sequence[tuple[int, int, int]], *,
                              ids: tuple[Sequence[str], Sequence[str]] | None = None,
                              n_resamples: int = 10_000, seed: int = 0,
                              confidence: float = 0.95) -> PairedComparison:
    """Paired bootstrap of micro F1(a) - micro F1(b) over records.

    Element i of each side is record i's (tp, fp, fn) summed over its fields. A resample draws
    record indices with replacement (the draws `paired_bootstrap` makes with the same seed) and
    applies the SAME indices to a and b — that is the pairing; each side's micro F1 is
    2 tp / (2 tp + fp + fn) of its summed counts. `mean_diff` is the full-sample difference, the
    same number as the difference of the aggregated `field_f1`; CI and `se` as in
    `paired_bootstrap`. Micro F1 with no gold and no predicted value (a 0 denominator) is 1.0,
    as in harness.score.metrics.record_field_f1. `effect_size_dz` is None: d_z standardises a mean of
    per-record differences, which micro F1 is not. Raises ValueError when a record's gold count
    (tp + fn) differs between the sides: then they were not scored on the same records.
    """
    _check_pairing(a_counts, b_counts, ids)
    a, b = _count_matrix(a_counts, "a"), _count_matrix(b_counts, "b")
    _check_same_gold(a, b)

    def difference(indices: np.ndarray) -> np.ndarray:
        rows = indices.astype(np.intp)
        return _micro_f1(a, rows) - _micro_f1(b, rows)

    records = np.arange(len(a))
    diffs = bootstrap_distribution(records, difference, n_resamples, seed)
    return PairedComparison(
        mean_diff=float(difference(records[np.newaxis, :])[0]),
        ci=percentile_interval(diffs, confidence), se=float(np.std(diffs)),
        effect_size_dz=None, n=len(a), n_resamples=n_resamples, seed=seed)


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> McNemarResult:
    """Exact (binomial) McNemar test on the discordant pairs; p = 1 when there are none."""
    _check_pairing(a, b, None)
    b01 = sum(1 for left, right in zip(a, b) if not left and right)
    b10 = sum(1 for left, right in zip(a, b) if left and not right)
    if b01 + b10 == 0:
        return McNemarResult(b01, b10, 1.0)
    return McNemarResult(b01, b10, float(binomtest(b10, b01 + b10, 0.5).pvalue))


def holm(pvalues: Mapping[str, float]) -> Mapping[str, float]:
    """Holm–Bonferroni adjusted p-values: the i-th smallest (from 0) is multiplied by m - i, then
    made monotone (never below an earlier adjusted value) and capped at 1. Ties keep name order."""
    bad = {name: p for name, p in pvalues.items() if not 0.0 <= p <= 1.0}
    if bad:
        raise ValueError(f"p-values must lie in [0, 1]: {bad}")
    ordered = sorted(pvalues.items(), key=lambda item: (item[1], item[0]))
    adjusted: dict[str, float] = {}
    running = 0.0
    for rank, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (len(ordered) - rank) * p))
        adjusted[name] = running
    return adjusted
