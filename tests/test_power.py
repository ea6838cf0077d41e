"""Known-answer tests for harness.statistics.power (normal approximation from the paired bootstrap SE)."""

from __future__ import annotations

import pytest
from scipy.stats import norm

from harness.statistics.power import Power, PowerQuestion, paired_power, power_sentence

Z = norm.ppf(1 - 0.05 / 6) + norm.ppf(0.8)  # alpha 0.05 over a Holm family of 3, 80 % power: 3.236


@pytest.mark.parametrize(("question", "mde", "needed"), [
    (PowerQuestion(0.12, 0.06, 40, 0.05, 3, 0.05, "point"), Z * 0.06, 105),   # 40 x (3.236 x 0.06 / 0.12)^2 = 104.7
    (PowerQuestion(0.12, 0.06, 40, 0.05, 3, 0.05, "ci_low"), Z * 0.06, 231),  # 40 x (2.802 x 0.06 / 0.07)^2 = 230.7
    (PowerQuestion(0.30, 0.02, 40, 0.05, 3, 0.05, "point"), Z * 0.02, 40),    # already enough: never fewer than n
    (PowerQuestion(0.12, 0.06, 40, 0.05, 1, 0.05, "point"), (norm.ppf(0.975) + norm.ppf(0.8)) * 0.06, 79),
    (PowerQuestion(0.03, 0.06, 40, 0.05, 3, 0.05, "point"), Z * 0.06, None),  # below min_effect: no n helps
    (PowerQuestion(-0.10, 0.06, 40, 0.05, 3, 0.05, "ci_low"), Z * 0.06, None),
])
def test_paired_power(question: PowerQuestion, mde: float, needed: int | None) -> None:
    power = paired_power(question)
    assert power.mde == pytest.approx(mde)
    assert power.records_needed == needed


@pytest.mark.parametrize("question", [PowerQuestion(0.25, 0.0, 1, 0.05, 3, 0.05, "point"),
                                      PowerQuestion(0.0, 0.0, 40, 0.05, 3, 0.05, "point")])
def test_power_is_undefined_without_variation(question: PowerQuestion) -> None:
    power = paired_power(question)
    assert (power.mde, power.records_needed) == (None, None) and "undefined" in power.note


@pytest.mark.parametrize(("power", "improvement", "decided", "sentence"), [
    (Power(0.194, 105, "m", "x"), 0.12, False,
     "Not proven on 40 records; ~105 would detect +0.120 at 80% power (this run detects +0.194 or more at 80% power)."),
    (Power(0.194, None, "m", "the observed improvement +0.030 is below min_effect 0.05: more records would not make it pass"),
     0.03, False, "Not proven on 40 records; this run detects +0.194 or more at 80% power, and the observed improvement "
                  "+0.030 is below min_effect 0.05: more records would not make it pass."),
    (Power(0.097, 40, "m", "x"), 0.2, True, "Power on 40 records: this run detects +0.097 or more at 80% power."),
    (Power(None, None, "m", "undefined: 1 record(s) with no variation in the paired difference"), 0.25, False,
     "Power on 40 records: undefined: 1 record(s) with no variation in the paired difference."),
])
def test_power_sentence(power: Power, improvement: float, decided: bool, sentence: str) -> None:
    assert power_sentence(power, 40, improvement, decided) == sentence
