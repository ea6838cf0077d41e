"""Known-answer tests for harness.statistics.stats."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ttest_ind

from harness.statistics.stats import (
    Interval,
    bootstrap_distribution,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    paired_bootstrap_micro_f1,
    percentile_interval,
)


def test_paired_bootstrap_of_identical_arrays_is_null() -> None:
    values = [0.2, 0.9, 0.5, 0.7, 0.1]
    result = paired_bootstrap(values, values, n_resamples=500)
    assert result.mean_diff == 0.0
    assert (result.ci.low, result.ci.high, result.se) == (0.0, 0.0, 0.0)
    assert result.effect_size_dz == 0.0


def test_paired_bootstrap_of_a_constant_gain_has_a_point_ci_and_undefined_dz() -> None:
    """The bootstrap gives the interval only: its old p-value here, 2/(B+1) on three records, was
    a floor of the resampling, not evidence (harness.statistics.permutation gives 0.25, the exact answer)."""
    result = paired_bootstrap([0.6, 0.7, 0.8], [0.5, 0.6, 0.7], n_resamples=999)
    assert result.mean_diff == pytest.approx(0.1)
    assert result.ci.low == pytest.approx(0.1) and result.ci.high == pytest.approx(0.1)
    assert result.se == pytest.approx(0.0, abs=1e-12)
    assert result.effect_size_dz is None
    assert not hasattr(result, "p_value")


def test_paired_bootstrap_known_mean_and_effect_size() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 2.0, 4.0]  # diffs 1, 0, 1, 0
    result = paired_bootstrap(a, b, n_resamples=2000, seed=3)
    assert result.mean_diff == 0.5
    assert result.effect_size_dz == pytest.approx(0.5 / np.std([1, 0, 1, 0], ddof=1))
    assert 0.0 <= result.ci.low <= 0.5 <= result.ci.high <= 1.0
    assert result.n == 4 and result.n_resamples == 2000 and result.seed == 3


def test_paired_bootstrap_is_deterministic_per_seed() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random(50), rng.random(50)
    first = paired_bootstrap(a, b, n_resamples=1000, seed=7)
    assert first == paired_bootstrap(a, b, n_resamples=1000, seed=7)
    assert first.ci != paired_bootstrap(a, b, n_resamples=1000, seed=8).ci


def test_pairing_matters() -> None:
    """Large shared per-record variance, small consistent gain: paired sees it, Welch does not."""
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0.0, 1.0, size=40)
    b = difficulty
    a = difficulty + 0.1 + rng.normal(0.0, 0.02, size=40)
    paired = paired_bootstrap(a, b, n_resamples=2000)
    welch = ttest_ind(a, b, equal_var=False)
    assert paired.ci.low > 0.0 and paired.se < 0.01
    assert welch.pvalue > 0.5


@pytest.mark.parametrize(("a", "b", "ids", "message"), [
    ([1.0, 2.0], [1.0], None, "differ in length"),
    ([1.0, 2.0], [1.0, 2.0], (["r1", "r2"], ["r2", "r1"]), "same record ids"),
    ([1.0, 2.0], [1.0, 2.0], (["r1"], ["r1"]), "1 record ids given for 2"),
    ([], [], None, "at least one value"),
])
def test_paired_bootstrap_refuses_bad_pairing(a: list[float], b: list[float],
                                              ids: tuple[list[str], list[str]] | None,
                                              message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(a, b, ids=ids, n_resamples=10)


def test_paired_bootstrap_to_dict_is_json() -> None:
    result = paired_bootstrap([1.0, 0.0], [0.0, 0.0], n_resamples=10)
    assert json.loads(json.dumps(result.to_dict()))["ci"]["confidence"] == 0.95


@pytest.mark.parametrize(("a", "b", "b01", "b10", "p"), [
    ([True] * 8 + [False] * 2, [False] * 8 + [False] * 2, 0, 8, 2 * 0.5**8),
    ([False] * 8, [True] * 8, 8, 0, 2 * 0.5**8),
    ([True, False, True], [True, False, True], 0, 0, 1.0),
    ([True, False], [False, True], 1, 1, 1.0),
    ([True] * 3 + [False], [False] * 3 + [True], 1, 3, 0.625),
])
def test_mcnemar_exact(a: list[bool], b: list[bool], b01: int, b10: int, p: float) -> None:
    result = mcnemar_exact(a, b)
    assert (result.b01, result.b10) == (b01, b10)
    assert result.p_value == pytest.approx(p)


def test_mcnemar_refuses_unpaired_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        mcnemar_exact([True], [True, False])


@pytest.mark.parametrize(("pvalues", "expected"), [
    ({"a": 0.01, "b": 0.04, "c": 0.03}, {"a": 0.03, "b": 0.06, "c": 0.06}),
    ({"a": 0.5, "b": 0.6}, {"a": 1.0, "b": 1.0}),
    ({"only": 0.02}, {"only": 0.02}),
    ({"x": 0.01, "y": 0.01}, {"x": 0.02, "y": 0.02}),
    ({}, {}),
])
def test_holm(pvalues: dict[str, float], expected: dict[str, float]) -> None:
    adjusted = holm(pvalues)
    assert adjusted.keys() == expected.keys()
    for name, value in expected.items():
        assert adjusted[name] == pytest.approx(value)


def test_holm_refuses_out_of_range_p() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm({"a": 1.5})


def test_bootstrap_distribution_chunks_give_the_requested_count() -> None:
    values = np.arange(300_000, dtype=float)  # forces several chunks
    distribution = bootstrap_distribution(values, lambda m: m.max(axis=1), 25, seed=0)
    assert distribution.shape == (25,)


def test_percentile_interval() -> None:
    interval = percentile_interval(np.arange(101, dtype=float), 0.9)
    assert interval == Interval(pytest.approx(5.0), pytest.approx(95.0), 0.9)
    with pytest.raises(ValueError, match="confidence"):
        percentile_interval(np.arange(3, dtype=float), 1.0)


# paired_bootstrap_micro_f1: each element is one record's (tp, fp, fn) summed over its fields.
A_COUNTS = [(2, 0, 1), (1, 1, 0), (0, 0, 2)]  # tp 3, fp 1, fn 3: micro F1 6 / 10
B_COUNTS = [(1, 1, 2), (0, 1, 1), (0, 0, 2)]  # tp 1, fp 2, fn 5: micro F1 2 / 9 (same gold)


def _micro_f1(counts: np.ndarray) -> np.ndarray:
    """Micro F1 along the last axis of summed (tp, fp, fn); 1.0 where nothing is gold or predicted."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    return np.where(denominator == 0, 1.0, 2 * tp / np.maximum(denominator, 1))


def test_micro_f1_bootstrap_of_identical_counts_is_null() -> None:
    result = paired_bootstrap_micro_f1(A_COUNTS, A_COUNTS, n_resamples=500)
    assert result.mean_diff == 0.0
    assert (result.ci.low, result.ci.high, result.se) == (0.0, 0.0, 0.0)
    assert result.effect_size_dz is None


def test_micro_f1_bootstrap_mean_diff_is_the_micro_not_the_per_record_difference() -> None:
    result = paired_bootstrap_micro_f1(A_COUNTS, B_COUNTS, n_resamples=1000, seed=4)
    assert result.mean_diff == pytest.approx(6 / 10 - 2 / 9)
    per_record_mean_diff = (4 / 5 + 2 / 3 + 0.0) / 3 - (2 / 5 + 0.0 + 0.0) / 3
    assert abs(result.mean_diff - per_record_mean_diff) > 0.02
    assert result.ci.low <= result.mean_diff <= result.ci.high
    assert (result.n, result.n_resamples, result.seed, result.effect_size_dz) == (3, 1000, 4, None)
    assert json.loads(json.dumps(result.to_dict()))["mean_diff"] == result.mean_diff


def test_micro_f1_with_nothing_gold_or_predicted_is_one() -> None:
    """a predicts a value where nothing is gold (F1 0), b predicts nothing (F1 1 by convention)."""
    result = paired_bootstrap_micro_f1([(0, 1, 0), (0, 0, 0)], [(0, 0, 0), (0, 0, 0)],
                                       n_resamples=200)
    assert result.mean_diff == -1.0
    assert paired_bootstrap_micro_f1([(0, 0, 0)], [(0, 0, 0)], n_resamples=10).mean_diff == 0.0


def test_micro_f1_bootstrap_of_a_consistent_gain_excludes_zero() -> None:
    a, b = [(1, 0, 0)] * 10 + [(0, 0, 1)] * 10, [(0, 0, 1)] * 20
    result = paired_bootstrap_micro_f1(a, b, n_resamples=999)
    assert result.mean_diff == pytest.approx(2 / 3)
    assert result.ci.low > 0.0 and result.se > 0.0


def test_micro_f1_pairing_narrows_the_interval() -> None:
    """Records differ widely in size and difficulty, shared by both sides; a adds a few hits.
    Resampling a and b with independent record draws mixes that shared variance into the
    difference; resampling them with the same draws cancels it."""
    rng = np.random.default_rng(0)
    gold = rng.integers(1, 12, size=60)
    b = np.stack([np.floor(rng.random(60) * (gold + 1)), rng.integers(0, 3, size=60)], axis=1)
    b_tp = b[:, 0].astype(int)
    a_tp = np.minimum(gold, b_tp + (rng.random(60) < 0.3))
    a_counts = np.stack([a_tp, b[:, 1].astype(int), gold - a_tp], axis=1)
    b_counts = np.stack([b_tp, b[:, 1].astype(int), gold - b_tp], axis=1)
    paired = paired_bootstrap_micro_f1(a_counts.tolist(), b_counts.tolist(), n_resamples=2000)
    draws = np.random.default_rng(1).integers(0, 60, size=(2, 2000, 60))
    unpaired = (_micro_f1(a_counts[draws[0]].sum(axis=1))
                - _micro_f1(b_counts[draws[1]].sum(axis=1)))
    unpaired_ci = percentile_interval(unpaired, 0.95)
    assert paired.ci.low > 0.0 and unpaired_ci.low < 0.0
    assert paired.ci.high - paired.ci.low < 0.25 * (unpaired_ci.high - unpaired_ci.low)


def test_micro_f1_bootstrap_is_deterministic_per_seed() -> None:
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 5, size=30)
    tp_a, tp_b = (np.floor(rng.random((2, 30)) * (gold + 1))).astype(int)
    a = [(int(t), 1, int(g - t)) for t, g in zip(tp_a, gold)]
    b = [(int(t), 0, int(g - t)) for t, g in zip(tp_b, gold)]
    first = paired_bootstrap_micro_f1(a, b, n_resamples=1000, seed=7)
    assert first == paired_bootstrap_micro_f1(a, b, n_resamples=1000, seed=7)
    assert first.ci != paired_bootstrap_micro_f1(a, b, n_resamples=1000, seed=8).ci


@pytest.mark.parametrize(("a", "b", "ids", "message"), [
    ([(1, 0, 0)], [(1, 0, 0), (1, 0, 0)], None, "differ in length"),
    ([(1, 0, 0)], [(1, 0, 0)], (["r1"], ["r2"]), "same record ids"),
    ([(1, 0, 0), (0, 0, 1)], [(1, 0, 0), (0, 0, 2)], None, "record 1 has 1 gold values"),
    ([(1, 0)], [(1, 0)], None, "one \\(tp, fp, fn\\) triple"),
    ([(1, -1, 0)], [(1, 0, 0)], None, "non-negative integers"),
    ([(0.5, 0, 0)], [(1, 0, 0)], None, "non-negative integers"),
    ([], [], None, "at least one value"),
])
def test_micro_f1_bootstrap_refuses_bad_input(a: list[tuple[int, int, int]],
                                              b: list[tuple[int, int, int]],
                                              ids: tuple[list[str], list[str]] | None,
                                              message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap_micro_f1(a, b, ids=ids, n_resamples=10)
