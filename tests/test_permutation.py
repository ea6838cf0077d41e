"""Known-answer tests for harness.statistics.permutation: the primary test is right at small n."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from harness.statistics.permutation import paired_permutation, permutation_mean, permutation_micro_f1, micro_f1_of_sums

SAME = (5, 0, 0)  # a record both candidates get right

# (case, adapter counts, baseline counts, observed diff, p, method, p_min)
CASES = [
    ("one record, baseline misses 2 of 5: no test can call that a win",
     [(5, 0, 0)], [(3, 0, 2)], 0.25, 1.0, "exact", 1.0),
    ("40 records, 5 better and none worse: the sign test's 0.0625",
     [(1, 0, 0)] * 5 + [SAME] * 35, [(0, 0, 1)] * 5 + [SAME] * 35, None, 0.0625, "exact", 0.0625),
    ("identical outputs", [SAME] * 4, [SAME] * 4, 0.0, 1.0, "exact", 1.0),
    ("3 better, 1 worse of 4", [(1, 0, 0)] * 3 + [(0, 0, 1)], [(0, 0, 1)] * 3 + [(1, 0, 0)],
     6 / 7 - 2 / 5, 0.625, "exact", 0.125),
]


@pytest.mark.parametrize(("case", "a", "b", "diff", "p", "method", "p_min"), CASES)
def test_micro_f1_permutation_known_answers(case: str, a: list, b: list, diff: float | None,
                                            p: float, method: str, p_min: float) -> None:
    result = permutation_micro_f1(a, b)
    assert result.p_value == pytest.approx(p), case
    assert (result.method, result.p_min) == (method, pytest.approx(p_min)), case
    assert result.p_value >= result.p_min, case
    if diff is not None:
        assert result.observed == pytest.approx(diff), case


def test_exact_enumeration_counts_every_swap_pattern() -> None:
    """Three informative records, micro F1: 8 patterns enumerated by hand."""
    a, b = [(2, 0, 0), (1, 0, 1), (0, 1, 1)], [(1, 0, 1), (2, 0, 0), (0, 0, 1)]
    sums = []
    for mask in range(8):
        left = [b[i] if mask >> i & 1 else a[i] for i in range(3)]
        right = [a[i] if mask >> i & 1 else b[i] for i in range(3)]
        sums.append(micro_f1_of_sums(np.sum(left, axis=0)) - micro_f1_of_sums(np.sum(right, axis=0)))
    observed = sums[0]
    expected = np.mean(np.abs(sums) >= abs(observed) - 1e-12)
    result = permutation_micro_f1(a, b)
    assert (result.informative, result.patterns) == (3, 8)
    assert result.p_value == pytest.approx(expected)


@pytest.mark.parametrize(("wins", "losses", "ties"), [(5, 0, 35), (8, 2, 30), (12, 3, 5), (30, 12, 0)])
def test_binary_mean_permutation_is_the_exact_sign_test(wins: int, losses: int, ties: int) -> None:
    a = [1] * wins + [0] * losses + [1] * ties
    b = [0] * wins + [1] * losses + [1] * ties
    result = permutation_mean(a, b)
    assert result.method == "exact" and result.informative == wins + losses
    assert result.p_value == pytest.approx(binomtest(wins, wins + losses, 0.5).pvalue)


def test_many_informative_records_use_seeded_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    a = [tuple(int(x) for x in row) for row in rng.integers(0, 4, size=(40, 3))]
    b = [tuple(int(x) for x in row) for row in rng.integers(0, 4, size=(40, 3))]
    first = permutation_micro_f1(a, b, n_resamples=2000, seed=3)
    assert first.method == "monte_carlo" and first.patterns == 2000
    assert first.p_min == pytest.approx(1 / 2001) and first.p_value >= first.p_min
    assert first == permutation_micro_f1(a, b, n_resamples=2000, seed=3)


def test_monte_carlo_p_is_plus_one_corrected_for_a_clear_gain() -> None:
    a, b = [(3, 0, 0)] * 30, [(0, 0, 3)] * 30  # all 30 records favour a: exact p = 2 / 2^30
    result = permutation_micro_f1(a, b, n_resamples=999)
    assert result.method == "monte_carlo"
    assert result.p_value == pytest.approx(1 / 1000)


def test_non_binary_means_are_permuted() -> None:
    result = permutation_mean([0.5, 0.7, 0.9], [0.4, 0.6, 0.7])
    assert result.method == "exact" and result.patterns == 8
    assert result.p_value == pytest.approx(0.25)  # only the all-same-sign patterns reach |0.133|


def test_refuses_unpaired_rows_and_is_json() -> None:
    with pytest.raises(ValueError, match="one equal shape"):
        paired_permutation([(1, 0, 0)], [(1, 0, 0), (0, 0, 1)], micro_f1_of_sums)
    with pytest.raises(ValueError, match="at least one record"):
        permutation_micro_f1([], [])
    as_dict = json.loads(json.dumps(permutation_micro_f1([(1, 0, 0)], [(0, 0, 1)]).to_dict()))
    assert as_dict["p_value"] == 1.0 and as_dict["method"] == "exact"
