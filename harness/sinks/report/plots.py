"""The report's four figures, and the learning curve's, drawn with matplotlib's Agg canvas and saved as PNG files.

(a) the primary metric per candidate with its recorded 95% CI, (b) per-field F1 as a heatmap,
(c) each candidate's request latencies (box plus points, read from the prediction files) and
(d) the failure taxonomy as stacked bars. Every plotted number comes from summary.json or the
prediction files; a candidate without a recorded interval is drawn without error bars and the
caption says so. Figures are built on `matplotlib.figure.Figure` (no pyplot, no global backend
state). This module knows nothing about the report's layout or output formats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.record.run_summary import RunSummary
from harness.sinks.report.formatting import format_metric
from harness.sinks.report.run_folder import RunFolder

FAILURE_KINDS = ("empty", "not_json", "schema_invalid", "request_failed")
_FAILURE_COLOURS = ("#bdbdbd", "#fdae61", "#f46d43", "#a50026")
_ADAPTER, _BASELINE, _OTHER = "#2166ac", "#e08214", "#8c8c8c"
_DPI = 110
_JITTER_SEED = 0  # point positions in the latency strip are visual only, but reproducible


def candidate_colour(summary: RunSummary, cid: str) -> str:
    """Blue for adapter candidates, orange for the verdict's baseline, grey for the rest."""
    if summary.candidates[cid].uses_adapter:
        return _ADAPTER
    return _BASELINE if cid == summary.verdict.baseline_candidate else _OTHER


def _figure(width: float, rows: int) -> Figure:
    return Figure(layout="constrained", figsize=(width, 1.4 + 0.55 * rows))


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=_DPI, format="png")
    return path


def plot_primary_metric(summary: RunSummary, path: Path) -> Path:
    """Bars of the gate's primary metric per candidate, with 95% CI error bars where recorded."""
    metric = summary.gate.primary_metric
    cids = list(summary.candidates)
    figure = _figure(7.0, len(cids))
    axes = figure.add_subplot()
    for row, (cid, candidate) in enumerate(summary.candidates.items()):
        value, interval = candidate.metrics[metric], candidate.intervals.get(metric)
        error = None if interval is None else [[value - interval[0]], [interval[1] - value]]
        axes.barh(row, value, xerr=error, color=candidate_colour(summary, cid), capsize=4)
        label = format_metric(summary.metric_defs, metric, value)
        axes.text(value if interval is None else interval[1], row, f" {label}",
                  va="bottom", ha="left", fontsize=8)
    axes.set_yticks(range(len(cids)), cids)
    axes.invert_yaxis()
    axes.set_xlabel(f"{metric} (95% CI where recorded)")
    axes.set_title(f"{metric} per candidate")
    return _save(figure, path)


def plot_per_field_f1(summary: RunSummary, path: Path) -> Path:
    """Heatmap of per-field F1: candidates down, fields across, value written in each cell."""
    cids = list(summary.candidates)
    table = pd.DataFrame({cid: candidate.per_field_f1 for cid, candidate in summary.candidates.items()}).T
    figure = _figure(2.0 + 1.0 * table.shape[1], len(cids))
    axes = figure.add_subplot()
    image = axes.imshow(table.to_numpy(dtype=float), vmin=0.0, vmax=1.0, cmap="viridis",
                        aspect="auto")
    for (row, column), value in np.ndenumerate(table.to_numpy(dtype=float)):
        text = "—" if np.isnan(value) else format_metric(summary.metric_defs, "field_f1", value)
        axes.text(column, row, text, ha="center", va="center", fontsize=8,
                  color="black" if not np.isnan(value) and value > 0.6 else "white")
    axes.set_xticks(range(table.shape[1]), list(table.columns), rotation=30, ha="right")
    axes.set_yticks(range(len(cids)), cids)
    figure.colorbar(image, ax=axes, label="F1")
    axes.set_title("F1 per field")
    return _save(figure, path)


def latency_frame(record: RunFolder) -> pd.DataFrame:
    """One row per prediction: candidate, latency_s (None where the request had no timing)."""
    return pd.DataFrame([{"candidate": cid, "latency_s": row["latency_s"]}
                         for cid, rows in record.predictions.items() for row in rows],
                        columns=["candidate", "latency_s"])


def plot_latency(record: RunFolder, path: Path) -> Path:
    """Box plot of each candidate's measured request latencies with every request as a point."""
    frame = latency_frame(record).dropna()
    cids = list(record.predictions)
    samples = [frame.loc[frame["candidate"] == cid, "latency_s"].to_numpy() for cid in cids]
    figure = _figure(7.0, len(cids))
    axes = figure.add_subplot()
    axes.boxplot(samples, orientation="horizontal", showfliers=False, widths=0.6,
                 medianprops={"color": "black"})
    jitter = np.random.default_rng(_JITTER_SEED)
    for position, (cid, sample) in enumerate(zip(cids, samples), start=1):
        offsets = jitter.uniform(-0.18, 0.18, size=len(sample))
        axes.scatter(sample, position + offsets, s=8, alpha=0.6,
                     color=candidate_colour(record.summary, cid))
    axes.set_yticks(range(1, len(cids) + 1), cids)
    axes.invert_yaxis()
    axes.set_xlabel("request latency (s)")
    axes.set_title("Latency per request")
    return _save(figure, path)


def plot_failures(summary: RunSummary, path: Path) -> Path:
    """Stacked bars of each candidate's failure counts by kind."""
    cids = list(summary.candidates)
    counts = pd.DataFrame({cid: candidate.failures for cid, candidate in summary.candidates.items()}).T
    if set(counts.columns) != set(FAILURE_KINDS) or counts.isna().to_numpy().any():
        raise KeyError(f"summary.json candidates.*.failures must count exactly {FAILURE_KINDS}")
    figure = _figure(7.0, len(cids))
    axes = figure.add_subplot()
    left = np.zeros(len(cids))
    for kind, colour in zip(FAILURE_KINDS, _FAILURE_COLOURS):
        axes.barh(cids, counts[kind], left=left, color=colour, label=kind)
        left += counts[kind].to_numpy(dtype=float)
    axes.invert_yaxis()
    axes.set_xlabel("records")
    figure.legend(loc="outside lower center", ncols=len(FAILURE_KINDS), fontsize=8)
    axes.set_title("Failures by kind")
    return _save(figure, path)


def write_plots(record: RunFolder, plots_dir: Path) -> dict[str, Path]:
    """Every figure as plots/<name>.png; returns name -> path."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    summary = record.summary
    return {
        "primary_metric": plot_primary_metric(summary, plots_dir / "primary_metric.png"),
        "per_field_f1": plot_per_field_f1(summary, plots_dir / "per_field_f1.png"),
        "latency": plot_latency(record, plots_dir / "latency.png"),
        "failures": plot_failures(summary, plots_dir / "failures.png"),
    }


def plot_learning_curve(points: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """`harness curve`: the adapter's field F1 on test against training records (log scale), with 95% CI error bars."""
    figure = Figure(layout="constrained", figsize=(6.0, 4.0))
    axes = figure.add_subplot()
    values = [p["field_f1"] for p in points]
    errors = [[p["field_f1"] - p["ci_low"] for p in points], [p["ci_high"] - p["field_f1"] for p in points]]
    axes.errorbar([p["size"] for p in points], values, yerr=errors, marker="o", capsize=4, color=_ADAPTER, label="adapter")
    axes.set_xscale("log")
    axes.set_xlabel("training records")
    axes.set_ylabel("field F1 (test)")
    axes.legend()
    return _save(figure, path)
