"""How numbers and decisions are written in every view of a run: the report, the PR comment, JUnit.

One place decides how many decimals a ratio, a second or a dollar gets, how a p-value and a
confidence interval are written, and what each verdict decision says in words, so the Markdown
report, the HTML report and the gate outputs show the same number the same way. It formats numbers
it is given and never computes new ones. It knows nothing about files, MLflow or plotting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MISSING = "—"
"""Shown in a table cell for a metric the run did not compute for that candidate."""

_DECIMALS_BY_UNIT = {"ratio": 3, "s": 3, "tokens": 1, "tokens/s": 1, "requests/s": 2, "USD": 4, "records": 0}
_GIB = 1 << 30
_SIGNIFICANT_DIGITS = 4  # for numbers whose unit is not in _DECIMALS_BY_UNIT
_SMALLEST_P_SHOWN = 0.0001

DECISION_WORDS: Mapping[str, tuple[str, str]] = {
    "adapter_wins": ("ADAPTER WINS",
                     "The adapter beats the best prompting baseline by a real margin, "
                     "within the latency and cost limits."),
    "not_proven": ("NOT PROVEN",
                   "The adapter did not show a real win over the best prompting baseline."),
    "adapter_loses": ("ADAPTER LOSES",
                      "The best prompting baseline is better than the adapter."),
    "no_verdict": ("NO VERDICT",
                   "No candidate uses an adapter: a prompt-only study, with no verdict to give."),
}
"""decision -> (status word, one-sentence meaning)."""


def decision_words(decision: str) -> tuple[str, str]:
    """The status word and sentence of a verdict decision; KeyError for an unknown decision."""
    if decision not in DECISION_WORDS:
        raise KeyError(f"summary.json verdict.decision {decision!r} is not one of "
                       f"{sorted(DECISION_WORDS)}")
    return DECISION_WORDS[decision]


def format_number(value: float | int | None, unit: str | None = None, signed: bool = False) -> str:
    """A number at its unit's precision (bytes as GiB); without a known unit an integer is written as
    is and a float with 4 significant digits. None -> MISSING."""
    if value is None:
        return MISSING
    sign = "+" if signed else ""
    if unit == "bytes":
        return f"{value / _GIB:{sign},.2f} GiB"
    if unit in _DECIMALS_BY_UNIT:
        return f"{value:{sign},.{_DECIMALS_BY_UNIT[unit]}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:{sign}d}"
    return f"{value:{sign}.{_SIGNIFICANT_DIGITS}g}"


def format_value(value: Any) -> str:
    """Any recorded value as text: numbers by format_number, mappings as `k=v, ...`, lists
    joined with commas."""
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if value is None or isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={format_value(item)}" for key, item in value.items())
    if isinstance(value, Sequence):
        return ", ".join(format_value(item) for item in value)
    raise TypeError(f"cannot write a {type(value).__name__} in a report: {value!r}")


def metric_def(metric_defs: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    """The declaration of `name` in summary.json metric_defs, or of its family
    (`field_f1.<field>` declares `field_f1.parties`)."""
    if name in metric_defs:
        return metric_defs[name]
    for declared, definition in metric_defs.items():
        prefix = declared.split("<", 1)[0]
        if "<" in declared and name.startswith(prefix) and len(name) > len(prefix):
            return definition
    raise KeyError(f"summary.json metric_defs declares no metric {name!r}")


def format_metric(metric_defs: Mapping[str, Mapping[str, Any]], name: str,
                  value: float | int | None, signed: bool = False) -> str:
    """A metric's value written at the precision of its declared unit."""
    return format_number(value, metric_def(metric_defs, name)["unit"], signed)


def format_interval(metric_defs: Mapping[str, Mapping[str, Any]], name: str,
                    interval: Sequence[float | None] | None) -> str:
    """`[low, high]` at the metric's precision; empty when no interval was recorded."""
    if interval is None or all(bound is None for bound in interval):
        return ""
    if len(interval) != 2:
        raise ValueError(f"interval of {name!r} must be [low, high], got {interval!r}")
    low, high = (format_metric(metric_defs, name, bound) for bound in interval)
    return f"[{low}, {high}]"


def format_p(p: float | None) -> str:
    """A p-value with four decimals, `< 0.0001` below that."""
    if p is None:
        return MISSING
    return f"< {_SMALLEST_P_SHOWN}" if p < _SMALLEST_P_SHOWN else f"{p:.4f}"


def direction_arrow(direction: str) -> str:
    """↑ when higher is better, ↓ when lower is better, nothing for a neutral metric."""
    arrows = {"higher_is_better": "↑", "lower_is_better": "↓", "neutral": ""}
    if direction not in arrows:
        raise KeyError(f"metric direction {direction!r} is not one of {sorted(arrows)}")
    return arrows[direction]
