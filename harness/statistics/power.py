"""Power of the primary comparison: what this run could detect, and how many records would do.

From the paired bootstrap's standard error of the primary difference at this run's n, the minimum
detectable effect at two-sided level alpha and 80 % power is mde = (z(1 - alpha'/2) + z(0.80)) x SE,
with alpha' = alpha / m (m tests in the Holm family: the primary must survive Holm's first step in
the worst case). The SE shrinks as 1/sqrt(n), so the records needed for the observed improvement to
pass the gate with 80 % power are n x (z x SE / margin)^2, where the margin is the improvement
itself (significance) and, when the task judges min_effect on the CI's lower bound, the
improvement minus min_effect with the CI's z. When the observed improvement is below min_effect no
number of records makes it pass, and the result says so. A normal approximation, stated as such;
this module deliberately knows nothing of records, metrics or decisions beyond these numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import norm

POWER = 0.80
METHOD = ("normal approximation from the paired bootstrap SE: mde = (z(1-alpha/(2m)) + z(0.80)) x SE, "
          "m = tests in the Holm family; records scale as SE^2 ~ 1/n")


@dataclass(frozen=True)
class PowerQuestion:
    """The numbers power needs: the primary improvement (better is positive), its SE and the gate."""

    improvement: float
    se: float
    n: int
    alpha: float
    family_size: int
    min_effect: float
    min_effect_on: str
    confidence: float = 0.95


@dataclass(frozen=True)
class Power:
    """`mde` and `records_needed` are None when undefined; `note` says why, or what they mean."""

    mde: float | None
    records_needed: int | None
    method: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _records_for(question: PowerQuestion, z: float, margin: float) -> int:
    return max(question.n, math.ceil(question.n * (z * question.se / margin) ** 2))


def paired_power(question: PowerQuestion) -> Power:
    """The minimum detectable effect at this n and the records the observed effect would need."""
    if question.n < 2 or question.se <= 0.0:
        return Power(None, None, METHOD, f"undefined: {question.n} record(s) with no variation "
                                         "in the paired difference")
    z_alpha = norm.ppf(1 - question.alpha / (2 * question.family_size))
    z_power = norm.ppf(POWER)
    mde = (z_alpha + z_power) * question.se
    if question.improvement < question.min_effect or question.improvement <= 0.0:
        return Power(mde, None, METHOD, f"the observed improvement {question.improvement:+.3f} is "
                     f"below min_effect {question.min_effect:g}: more records would not make it pass")
    needed = _records_for(question, z_alpha + z_power, question.improvement)
    if question.min_effect_on == "ci_low" and question.min_effect > 0:
        z_ci = norm.ppf(1 - (1 - question.confidence) / 2) + z_power
        gap = question.improvement - question.min_effect
        needed = max(needed, _records_for(question, z_ci, gap)) if gap > 0 else needed
    return Power(mde, needed, METHOD, f"records for {question.improvement:+.3f} to pass at "
                                      f"{POWER:.0%} power")


def power_sentence(power: Power, n: int, improvement: float, decided: bool) -> str:
    """One sentence for the verdict's reasons, e.g. 'Not proven on 40 records; ~110 would ...'."""
    if power.mde is None:
        return f"Power on {n} records: {power.note}."
    detect = f"this run detects +{power.mde:.3f} or more at {POWER:.0%} power"
    if decided:
        return f"Power on {n} records: {detect}."
    if power.records_needed is None:
        return f"Not proven on {n} records; {detect}, and {power.note}."
    return (f"Not proven on {n} records; ~{power.records_needed} would detect "
            f"{improvement:+.3f} at {POWER:.0%} power ({detect}).")
