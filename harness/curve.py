"""`harness curve <task> --sizes 25,50,100,200`: how many training examples does the adapter need?

For each size it runs a comparison whose adapter trains on the first N training records (nested
subsets of one seeded order), serving it merged and reusing the prompt-only baselines, which are
measured once on the same test records. It then compares the adapter at each size with the
few-shot and best-prompt candidates (the micro field-F1 difference with its paired bootstrap CI
and paired permutation p-value, Holm-corrected across sizes) and reports the curve with 95% intervals and the smallest size at which
the adapter beats few-shot, if any. This module composes comparisons; it serves nothing itself.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.compare import run_comparison
from harness.errors import HarnessError
from harness.run_config import CurveConfig
from harness.run_record import write_json
from harness.permutation import permutation_micro_f1
from harness.stats import bootstrap_distribution, holm, paired_bootstrap_micro_f1, percentile_interval

BASELINES = ("few_shot", "best_prompt")


def record_counts(run_dir: Path, label: str) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Per-record (tp, fp, fn) summed over fields, from a run's scored predictions."""
    rows = [json.loads(line) for line in (run_dir / "predictions" / f"{label}.jsonl").read_text().splitlines()]
    counts = [tuple(sum(f[k] for f in row["score"]["fields"].values()) for k in ("tp", "fp", "fn")) for row in rows]
    return [row["record_id"] for row in rows], counts


def micro_f1_interval(counts: Sequence[tuple[int, int, int]], seed: int) -> tuple[float, float, float]:
    """Micro field F1 with a 95% bootstrap interval over records."""
    table = np.asarray(counts, dtype=float)

    def f1(index: np.ndarray) -> np.ndarray:
        tp, fp, fn = (table[index.astype(int)][..., k].sum(axis=-1) for k in range(3))
        denominator = 2 * tp + fp + fn
        return np.where(denominator == 0, 1.0, 2 * tp / np.maximum(denominator, 1))

    interval = percentile_interval(bootstrap_distribution(np.arange(len(table)), f1, 2000, seed), 0.95)
    return float(f1(np.arange(len(table))[None, :])[0]), interval.low, interval.high


def curve_point(run_dir: Path, size: int, adapter_label: str, seed: int) -> dict[str, Any]:
    ids, adapter = record_counts(run_dir, adapter_label)
    value, low, high = micro_f1_interval(adapter, seed)
    point: dict[str, Any] = {"size": size, "run_dir": str(run_dir), "field_f1": value, "ci_low": low, "ci_high": high, "against": {}}
    for baseline in BASELINES:
        base_ids, base = record_counts(run_dir, baseline)
        result = paired_bootstrap_micro_f1(adapter, base, ids=(ids, base_ids), seed=seed)
        test = permutation_micro_f1(adapter, base, seed=seed)
        point["against"][baseline] = {"diff": result.mean_diff, "ci_low": result.ci.low, "ci_high": result.ci.high, "p_value": test.p_value,
                                      "method": f"paired_permutation ({test.method})"}
    return point


def smallest_winning_size(points: list[dict[str, Any]], min_effect: float, alpha: float) -> int | None:
    """The smallest size whose adapter beats few-shot by min_effect at Holm-adjusted p < alpha."""
    adjusted = holm({str(p["size"]): p["against"]["few_shot"]["p_value"] for p in points})
    for point in points:
        point["against"]["few_shot"]["p_holm"] = adjusted[str(point["size"])]
    wins = [p["size"] for p in points if p["against"]["few_shot"]["diff"] >= min_effect and adjusted[str(p["size"])] < alpha]
    return min(wins) if wins else None


def run_curve(curve: CurveConfig) -> dict[str, Any]:
    base = curve.run
    missing = [c for c in BASELINES if c not in {x.id for x in base.candidates}]
    if missing or not any(c.adapter for c in base.candidates):
        raise HarnessError(f"the curve needs the candidates {list(BASELINES)} and an adapter candidate", "--candidates")
    points = []
    for size in curve.sizes:
        task = dataclasses.replace(base.task, train=dataclasses.replace(base.task.train, train_limit=size))
        config = dataclasses.replace(base, task=task, reuse_baseline=True,
                                     adapter=dataclasses.replace(base.adapter, serving=("merged",), verdict_serving="merged"))
        print(f"[curve] training size {size}", flush=True)
        outcome = run_comparison(config)
        points.append(curve_point(outcome.run_dir, size, outcome.summary["verdict"]["adapter_candidate"], base.seed))
    result = {"task": base.task.id, "metric": "field_f1", "points": points,
              "smallest_size_beating_few_shot": smallest_winning_size(points, base.task.gate.min_effect, base.task.gate.alpha),
              "min_effect": base.task.gate.min_effect, "alpha": base.task.gate.alpha}
    write_curve(base.paths.reports / base.task.id / ("curve-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")), result)
    return result


def write_curve(folder: Path, result: dict[str, Any]) -> None:
    """curve.json, curve.md and curve.png in the curve's folder; print the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "curve.json", result)
    lines = ["| train records | adapter field F1 (95% CI) | vs few_shot (diff, Holm p) | vs best_prompt (diff) |", "|---|---|---|---|"]
    for p in result["points"]:
        few, best = p["against"]["few_shot"], p["against"]["best_prompt"]
        lines.append(f"| {p['size']} | {p['field_f1']:.3f} ({p['ci_low']:.3f}..{p['ci_high']:.3f}) | {few['diff']:+.3f}, p={few['p_holm']:.4f} | {best['diff']:+.3f} |")
    smallest = result["smallest_size_beating_few_shot"]
    verdict = f"Smallest size at which the adapter beats few-shot: {smallest}" if smallest else "The adapter beats few-shot at no size tried."
    (folder / "curve.md").write_text("\n".join([f"# Learning curve: {result['task']}", "", *lines, "", verdict, "", "![curve](curve.png)", ""]))
    sizes = [p["size"] for p in result["points"]]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.errorbar(sizes, [p["field_f1"] for p in result["points"]],
                  yerr=[[p["field_f1"] - p["ci_low"] for p in result["points"]], [p["ci_high"] - p["field_f1"] for p in result["points"]]],
                  marker="o", capsize=4, label="adapter")
    axes.set_xscale("log")
    axes.set_xlabel("training records")
    axes.set_ylabel("field F1 (test)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(folder / "curve.png", dpi=120)
    plt.close(figure)
    print("\n".join(lines) + "\n" + verdict + f"\ncurve: {folder / 'curve.md'}")
