"""The report's edge-case slices section: each slice × candidate on the primary metric, and the adapter's paired difference.

Built from summary.json `slices` only: per slice, every candidate's primary metric with its
recorded 95% bootstrap interval, the schema-valid rate of each, and the adapter-minus-baseline
difference with its paired CI and Holm p (bold when below the gate's alpha). A run that scored no
slices says so. It computes no numbers and knows nothing about output formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.record.run_summary import RunSummary
from harness.sinks.report.blocks import Bullets, Section, Table, Text
from harness.sinks.report.formatting import MISSING, format_interval, format_metric, format_p, format_value


def slice_cell(summary: RunSummary, entry: Mapping[str, Any], label: str, metric: str) -> str:
    on_slice = entry["candidates"].get(label)
    if on_slice is None or metric not in on_slice["metrics"]:
        return MISSING
    defs = summary.metric_defs
    interval = format_interval(defs, metric, on_slice["intervals"].get(metric)) if metric in on_slice["intervals"] else ""
    return " ".join(filter(None, (format_metric(defs, metric, on_slice["metrics"][metric]), interval)))


def difference_cells(summary: RunSummary, entry: Mapping[str, Any]) -> tuple[str, str]:
    found = entry.get("adapter_vs_baseline")
    if found is None:
        return MISSING, MISSING
    defs = summary.metric_defs
    diff = format_metric(defs, found["metric"], found["diff"], signed=True)
    return f"{diff} {format_interval(defs, found['metric'], [found['ci_low'], found['ci_high']])}", format_p(found["p_holm"])


def slices_table(summary: RunSummary, slices: Mapping[str, Any]) -> Table:
    """Slices as rows; each candidate's primary metric [CI], then adapter - baseline [CI] and its Holm p."""
    metric, alpha = summary.gate.primary_metric, summary.gate.alpha
    labels = list(summary.candidates)
    rows, best = [], set()
    for row, (name, entry) in enumerate(slices.items()):
        diff, p = difference_cells(summary, entry)
        rows.append((name, str(entry["n"]), *(slice_cell(summary, entry, label, metric) for label in labels), diff, p))
        found = entry.get("adapter_vs_baseline")
        best |= {(row, len(labels) + 3)} if found and found["p_holm"] < alpha else set()
    verdict = summary.verdict
    return Table(("slice", "n", *(f"{label} {metric}" for label in labels), f"{verdict.adapter_candidate or 'adapter'} - {verdict.baseline_candidate}",
                  "Holm p"), tuple(rows), frozenset(best),
                 note=f"[low, high] is a 95% bootstrap CI over the slice's records; the difference is paired (same variants), "
                      f"its p from a paired permutation test, Holm-corrected across slices; bold below alpha = {alpha}.")


def steps_items(slices: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(f"{name}: " + "; ".join(format_value(step) for step in entry["steps"]) + f" ({entry['records_file']})"
                 + (f" — {entry['note']}" if entry.get("note") else "") for name, entry in slices.items())


def slices_section(summary: RunSummary) -> Section:
    """The slice table and how each slice was made; a run without slices says so."""
    slices = summary.slices
    if not slices:
        return Section("Edge-case slices", (Text("This run scored no edge-case slices (task slices.records or --slice-records was 0)."),))
    return Section("Edge-case slices", (slices_table(summary, slices), Text("How each slice was made from test records:"),
                                        Bullets(steps_items(slices))))
