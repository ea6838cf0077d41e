"""Statistics on numbers: bootstrap intervals, the paired bootstrap, exact McNemar and Holm.

Paired tests compare two candidates on the same records in the same order, which removes the
per-record difficulty both share (a hard contract is hard for both) from the comparison. Every
resampling is seeded, so the same inputs give the same numbers. This module deliberately knows
nothing about records, scores, metric names or what counts as a win: it takes sequences of
numbers or booleans and returns numbers.
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
    """Paired bootstrap of a - b. `effect_size_dz` is None when it is undefined: fewer than two
    pairs, or every difference is the same nonzero number (its standard deviation is 0)."""

    mean_diff: float
    ci: Interval
    p_value: float
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

    The CI is the percentile interval of the resampled mean differences. The two-sided p-value is
    twice the smaller share of resampled means at or beyond 0 on either side, with the usual +1
    correction ((k + 1) / (n_resamples + 1), so it is never 0), capped at 1.
    """
    _check_pairing(a, b, ids)
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    means = bootstrap_distribution(diffs, lambda m: m.mean(axis=1), n_resamples, seed)
    at_or_below = (int(np.sum(means <= 0.0)) + 1) / (n_resamples + 1)
    at_or_above = (int(np.sum(means >= 0.0)) + 1) / (n_resamples + 1)
    return PairedComparison(
        mean_diff=float(diffs.mean()), ci=percentile_interval(means, confidence),
        p_value=min(1.0, 2.0 * min(at_or_below, at_or_above)),
        effect_size_dz=_effect_size_dz(diffs), n=int(diffs.size),
        n_resamples=n_resamples, seed=seed)


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
