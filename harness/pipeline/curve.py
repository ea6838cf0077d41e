"""`harness curve <task> --sizes 25,50,100,200`: how many training examples does the adapter need?

For each size it runs a comparison whose adapter trains on the first N training records (nested
subsets of one seeded order), serving it merged and reusing the prompt-only baselines, which are
measured once on the same test records (by the first point, unless cached; --fresh-baseline makes
the first point measure them anew). It then compares the adapter at each size with the
few-shot and best-prompt candidates (the micro field-F1 difference with its paired bootstrap CI
and paired permutation p-value, Holm-corrected across sizes) and reports the curve with 95%
intervals and the smallest size at which the adapter beats few-shot, if any, judging min_effect as
the verdict does (`min_effect_on`). The statistics are harness.statistics.stats', the prediction files are
read as the report reads them, the figure is harness.sinks.report.plots'. This module composes
comparisons; it serves nothing itself.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from harness.adapter.serving_mode import AdapterServing
from harness.pipeline.compare import complete_run, run_comparison
from harness.errors import HarnessError
from harness.statistics.permutation import permutation_micro_f1
from harness.sinks.report.plots import plot_learning_curve
from harness.sinks.report.run_folder import read_predictions
from harness.pipeline.run_config import CurveConfig, RunConfig
from harness.record.run_record import write_json
from harness.record.run_summary import RunSummary
from harness.task.specs import GateSpec
from harness.statistics.stats import Interval, holm, micro_f1_bootstrap, paired_bootstrap_micro_f1
from harness.decide.verdict import judged_effect, meets_min_effect

BASELINES = ("few_shot", "best_prompt")
CONFIDENCE = 0.95  # of every interval the curve records


def record_counts(run_dir: Path, predictions_file: str) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Per-record (tp, fp, fn) summed over fields, from a run's scored predictions (read as the report reads them)."""
    rows = read_predictions(run_dir, predictions_file)
    counts = [tuple(sum(f[k] for f in row["score"]["fields"].values()) for k in ("tp", "fp", "fn")) for row in rows]
    return [row["record_id"] for row in rows], counts


def curve_point(run_dir: Path, files: Mapping[str, str], size: int, adapter_label: str, seed: int) -> dict[str, Any]:
    """The adapter's micro field F1 at one training size, and its paired difference from each baseline
    (`files`: each label's prediction file in the run folder)."""
    ids, adapter = record_counts(run_dir, files[adapter_label])
    value, interval = micro_f1_bootstrap(adapter, n_resamples=2000, seed=seed)
    point: dict[str, Any] = {"size": size, "run_dir": str(run_dir), "field_f1": value, "ci_low": interval.low, "ci_high": interval.high,
                             "against": {}}
    for baseline in BASELINES:
        base_ids, base = record_counts(run_dir, files[baseline])
        result = paired_bootstrap_micro_f1(adapter, base, ids=(ids, base_ids), seed=seed)
        test = permutation_micro_f1(adapter, base, seed=seed)
        point["against"][baseline] = {"diff": result.mean_diff, "ci_low": result.ci.low, "ci_high": result.ci.high, "p_value": test.p_value,
                                      "method": f"paired_permutation ({test.method})"}
    return point


def point_of(run_dir: Path, summary: RunSummary, size: int, seed: int) -> dict[str, Any]:
    """The curve point of one finished comparison, read from its run summary."""
    files = {label: entry.predictions_file for label, entry in summary.candidates.items()}
    return curve_point(run_dir, files, size, summary.verdict.adapter_candidate, seed)


def smallest_winning_size(points: list[dict[str, Any]], gate: GateSpec) -> int | None:
    """The smallest size whose adapter beats few-shot at Holm-adjusted p < alpha by min_effect, judged
    on the difference's point estimate or its CI's lower end as `gate.min_effect_on` says (as the verdict does)."""
    adjusted = holm({str(p["size"]): p["against"]["few_shot"]["p_value"] for p in points})
    for point in points:
        point["against"]["few_shot"]["p_holm"] = adjusted[str(point["size"])]

    def wins(point: dict[str, Any]) -> bool:
        few = point["against"]["few_shot"]
        judged = judged_effect(gate, 1, few["diff"], Interval(few["ci_low"], few["ci_high"], CONFIDENCE))  # field F1: higher is better
        return meets_min_effect(gate, judged) and few["p_holm"] < gate.alpha

    sizes = [p["size"] for p in points if wins(p)]
    return min(sizes) if sizes else None


def point_config(base: RunConfig, size: int, first: bool) -> RunConfig:
    """The comparison at one training-set size: the adapter served merged only; every point after the first reuses
    the baselines the first one measured."""
    task = dataclasses.replace(base.task, train=dataclasses.replace(base.task.train, train_limit=size))
    merged = dataclasses.replace(base.adapter, serving=(AdapterServing.MERGED,), verdict_serving=AdapterServing.MERGED)
    return base.with_adapter(merged, task=task, reuse_baseline=base.reuse_baseline or not first)


def run_curve(curve: CurveConfig) -> dict[str, Any]:
    base = curve.run
    missing = [c for c in BASELINES if c not in {x.id for x in base.candidates}]
    if missing or not any(c.adapter for c in base.candidates):
        raise HarnessError(f"the curve needs the candidates {list(BASELINES)} and an adapter candidate", "--candidates")
    points = []
    for size in curve.sizes:
        print(f"[curve] training size {size}", flush=True)
        outcome = run_comparison(point_config(base, size, first=not points))
        complete_run(outcome.run_dir)  # a curve point has no report of its own
        points.append(point_of(outcome.run_dir, outcome.summary, size, base.seed))
    gate = base.task.gate
    result = {"task": base.task.id, "metric": "field_f1", "points": points, "smallest_size_beating_few_shot": smallest_winning_size(points, gate),
              "min_effect": gate.min_effect, "min_effect_on": gate.min_effect_on, "alpha": gate.alpha}
    write_curve(base.paths.reports / base.task.id / ("curve-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")), result)
    return result


def write_curve(folder: Path, result: dict[str, Any]) -> None:
    """curve.json, curve.md and curve.png (drawn by harness.sinks.report.plots) in the curve's folder; print the table."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "curve.json", result)
    lines = ["| train records | adapter field F1 (95% CI) | vs few_shot (diff, Holm p) | vs best_prompt (diff) |", "|---|---|---|---|"]
    for p in result["points"]:
        few, best = p["against"]["few_shot"], p["against"]["best_prompt"]
        lines.append(f"| {p['size']} | {p['field_f1']:.3f} ({p['ci_low']:.3f}..{p['ci_high']:.3f}) | {few['diff']:+.3f}, p={few['p_holm']:.4f} | {best['diff']:+.3f} |")
    smallest = result["smallest_size_beating_few_shot"]
    verdict = f"Smallest size at which the adapter beats few-shot: {smallest}" if smallest else "The adapter beats few-shot at no size tried."
    (folder / "curve.md").write_text("\n".join([f"# Learning curve: {result['task']}", "", *lines, "", verdict, "", "![curve](curve.png)", ""]))
    plot_learning_curve(result["points"], folder / "curve.png")
    print("\n".join(lines) + "\n" + verdict + f"\ncurve: {folder / 'curve.md'}")
