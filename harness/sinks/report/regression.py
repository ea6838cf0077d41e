"""The report's regression-probe section: the base model against the adapter on general-capability items.

Built from summary.json `regression` only: pass rates per label, the paired comparison (difference
and exact McNemar p) of the adapter the verdict judges, and one row per item with its skill and
pass/fail under each label, regressed items in bold. A run without the probe says so. It computes
no numbers and knows nothing about output formats.
"""

from __future__ import annotations

from harness.record.run_summary import RunSummary
from harness.sinks.report.blocks import Section, Table, Text
from harness.sinks.report.formatting import format_number, format_p


def regression_section(summary: RunSummary) -> Section:
    regression = summary.regression
    if regression is None:
        return Section("Base-model regression probe", (Text("This run has no regression probe (no adapter was compared)."),))
    rates, comparison = regression["pass_rates"], regression["comparison"]
    labels = list(rates)
    regressed = set(regression["regressed"])
    rows = tuple((item["id"], item["skill"], *("pass" if item[label] else "fail" for label in labels)) for item in regression["items"])
    best = frozenset((row, 2 + labels.index(comparison["adapter"])) for row, item in enumerate(regression["items"]) if item["id"] in regressed)
    return Section("Base-model regression probe", (
        Text(f"General-capability items with checkers in code, sent as plain user messages (not the task prompt). The adapter "
             f"({comparison['adapter']}) passes {format_number(rates[comparison['adapter']], 'ratio')} of {comparison['n']}, the base "
             f"model {format_number(rates[comparison['base']], 'ratio')}: {format_number(comparison['diff'], 'ratio', signed=True)}, "
             f"exact McNemar p = {format_p(comparison['mcnemar_p'])}. Regressed: {', '.join(regression['regressed']) or 'none'}; "
             f"improved: {', '.join(regression['improved']) or 'none'}."),
        Table(("item", "skill", *labels), rows, best, note="Bold: an item the base model passed and the judged adapter failed."),
    ))
