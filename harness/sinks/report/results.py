"""The report's first half: verdict banner, gate checks, results table, figures, comparisons.

Builds blocks from summary.json only. The results table shows each candidate's key metrics (the
gate's primary metric first, with its 95% CI where one was recorded) and marks the best value of
each column using the direction declared in metric_defs (its note says whether the prompt-only
candidates were served by this run or restored from the baseline cache); a neutral metric marks nothing. A metric
a candidate did not compute is shown as `—`. This module computes no new numbers: differences,
p-values and intervals are the ones the comparison recorded. It knows nothing about output formats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.record.run_summary import BaselineSelection, RunSummary
from harness.task.strict_yaml import to_dict
from harness.sinks.report.blocks import Banner, Bullets, Figure, Section, Table, Text
from harness.sinks.report.formatting import (MISSING, decision_words, direction_arrow, format_interval,
                                       format_metric, format_number, format_p, format_value,
                                       metric_def)

KEY_METRICS = ("field_f1", "schema_valid_rate", "record_exact_rate", "failed_request_rate",
               "latency_p50_s", "latency_p95_s", "tokens_in_mean", "tokens_out_mean",
               "cost_usd_per_1k_requests")
BANNER_METRICS = ("schema_valid_rate", "latency_p95_s", "cost_usd_per_1k_requests")
FIGURE_CAPTIONS = {
    "primary_metric": "The gate's primary metric per candidate (blue: adapter, orange: the "
                      "verdict's baseline, grey: other candidates); error bars are the 95% CIs "
                      "recorded in summary.json.",
    "per_field_f1": "F1 of each field per candidate (summary.json per_field_f1).",
    "latency": "Latency of every request that was timed, from the prediction files (box: "
               "quartiles and median; points: single requests, coloured as above).",
    "failures": "Outputs that failed, by kind (summary.json failures).",
}


def key_metrics(summary: RunSummary) -> tuple[str, ...]:
    """The results table's columns: the gate's primary metric, then KEY_METRICS."""
    primary = summary.gate.primary_metric
    return (primary, *(name for name in KEY_METRICS if name != primary))


def best_rows(values: Sequence[float | int | None], direction: str) -> set[int]:
    """Indexes of the best (tied) values by direction; none for a neutral metric or when every
    candidate has the same value (nothing stands out)."""
    present = [v for v in values if v is not None]
    if direction == "neutral" or len(set(present)) < 2:
        return set()
    best = max(present) if direction == "higher_is_better" else min(present)
    return {index for index, value in enumerate(values) if value == best}


def metric_cell(summary: RunSummary, cid: str, name: str) -> str:
    """A candidate's metric as text, with its recorded 95% CI after it when there is one."""
    candidate = summary.candidates[cid]
    value = candidate.metrics.get(name)
    if value is None:
        return MISSING
    interval = format_interval(summary.metric_defs, name, candidate.intervals.get(name))
    return " ".join(filter(None, (format_metric(summary.metric_defs, name, value), interval)))


def primary_comparison(summary: RunSummary) -> Mapping[str, Any]:
    """The recorded comparison the verdict rests on: adapter vs baseline on the primary metric."""
    verdict = summary.verdict
    wanted = (verdict.adapter_candidate, verdict.baseline_candidate, summary.gate.primary_metric)
    found = [c for c in summary.comparisons
             if (c["candidate"], c["baseline"], c["metric"]) == wanted]
    if len(found) != 1:
        raise KeyError(f"summary.json comparisons must hold exactly one entry for "
                       f"(candidate, baseline, metric) = {wanted}, found {len(found)}")
    return found[0]


def banner(summary: RunSummary) -> Banner:
    """The verdict in words with the numbers it rests on."""
    verdict = summary.verdict
    adapter, baseline = verdict.adapter_candidate, verdict.baseline_candidate
    primary, defs = summary.gate.primary_metric, summary.metric_defs
    status, sentence = decision_words(verdict.decision)
    if adapter is None:
        lines = (f"{primary}: strongest prompt-only candidate on dev {baseline} {metric_cell(summary, baseline, primary)} on test",
                 f"Run {summary.run_id} on the {summary.split} split.")
        return Banner(verdict.decision, status, sentence, lines, verdict.reasons)
    comparison = primary_comparison(summary)
    interval = format_interval(defs, primary, [comparison["ci_low"], comparison["ci_high"]])
    lines = (
        f"{primary}: {adapter} {metric_cell(summary, adapter, primary)} vs {baseline} "
        f"{metric_cell(summary, baseline, primary)}",
        f"Paired difference ({comparison['test']}, n = {comparison['n']}): "
        f"{format_metric(defs, primary, comparison['diff'], signed=True)} {interval}, "
        f"p = {format_p(comparison['p_value'])}, Holm p = {format_p(comparison['p_holm'])}",
        *(f"{name}: {adapter} {metric_cell(summary, adapter, name)} vs {baseline} "
          f"{metric_cell(summary, baseline, name)}" for name in BANNER_METRICS),
        f"Adapter served {verdict.adapter_serving}; run {summary.run_id} on the "
        f"{summary.split} split.",
    )
    return Banner(verdict.decision, status, sentence, lines, verdict.reasons)


def checks_table(summary: RunSummary) -> Table:
    """Every gate check: passed or failed, the value judged and its threshold."""
    rows = tuple((name, "pass" if check["passed"] else "FAIL", format_number(check["value"]),
                  format_number(check["threshold"]), check.get("reason", ""))
                 for name, check in summary.verdict.checks.items())
    gate = ", ".join(f"{key} = {format_value(value)}" for key, value in to_dict(summary.gate).items())
    return Table(("check", "result", "value", "threshold", "reason"), rows, note=f"Gate: {gate}.")


def not_computed(summary: RunSummary) -> tuple[Bullets, ...]:
    """Why a candidate's metric is missing, where the run recorded a reason."""
    items = tuple(f"{cid}: {name} not computed ({reason})"
                  for cid, candidate in summary.candidates.items()
                  for name, reason in candidate.missing_metrics.items())
    return (Bullets(items),) if items else ()


def results_table(summary: RunSummary) -> Table:
    """Candidates x key metrics, the best value of each column marked."""
    cids, names, defs = list(summary.candidates), key_metrics(summary), summary.metric_defs
    header = ("candidate", "serving", *(
        f"{name} {direction_arrow(metric_def(defs, name)['direction'])}".strip() for name in names))
    rows = tuple((cid, summary.candidates[cid].serving,
                  *(metric_cell(summary, cid, name) for name in names)) for cid in cids)
    best = frozenset((row, column + 2) for column, name in enumerate(names) for row in best_rows(
        [summary.candidates[cid].metrics.get(name) for cid in cids],
        metric_def(defs, name)["direction"]))
    return Table(header, rows, best, note="Best value per column in bold (direction from "
                 "metric_defs: ↑ higher is better, ↓ lower is better); [low, high] is a recorded "
                 f"95% CI; {MISSING} means the run did not compute it. {baseline_origin(summary.baseline_cache)}.")


def baseline_origin(cache: Mapping[str, Any] | None) -> str:
    """Whether the prompt-only candidates were served by this run or restored from the baseline cache (and from which run)."""
    if not cache:
        return "Every candidate was served by this run"
    if not cache["reused"]:
        return f"Every candidate was served by this run (the prompt-only ones cached under key {cache['key']})"
    return (f"The prompt-only candidates' outputs and latencies were reused from the baseline cache (key {cache['key']}), "
            f"measured by run {cache.get('measured_by') or '(not recorded)'} with the same base model, data, recipes, templates, "
            "engine, hardware and load profile; --fresh-baseline serves them again")


def all_metrics_table(summary: RunSummary) -> Table:
    """Every recorded metric of every candidate, one row per metric."""
    cids, defs = list(summary.candidates), summary.metric_defs
    names = list(dict.fromkeys(name for candidate in summary.candidates.values() for name in candidate.metrics))
    rows = tuple((name, metric_def(defs, name)["unit"], *(metric_cell(summary, cid, name)
                                                          for cid in cids)) for name in names)
    best = frozenset((row, column + 2) for row, name in enumerate(names) for column in best_rows(
        [summary.candidates[cid].metrics.get(name) for cid in cids],
        metric_def(defs, name)["direction"]))
    return Table(("metric", "unit", *cids), rows, best)


def comparisons_table(summary: RunSummary) -> Table:
    """Every recorded paired comparison; Holm p below the gate's alpha is marked."""
    defs, alpha = summary.metric_defs, summary.gate.alpha
    rows, best = [], set()
    for row, c in enumerate(summary.comparisons):
        rows.append((c["candidate"], c["baseline"], c["metric"], c["test"],
                     format_metric(defs, c["metric"], c["diff"], signed=True),
                     format_interval(defs, c["metric"], [c["ci_low"], c["ci_high"]]) or MISSING,
                     format_p(c["p_value"]), format_p(c["p_holm"]),
                     format_number(c["effect_size"]), str(c["n"])))
        best |= {(row, 7)} if c["p_holm"] < alpha else set()
    return Table(("candidate", "baseline", "metric", "test", "diff", "95% CI", "p", "Holm p",
                  "effect size", "n"), tuple(rows), frozenset(best),
                 note=f"diff = candidate - baseline. Holm p in bold is below alpha = {alpha}.")


def tie_sentence(chosen: BaselineSelection) -> str:
    """How a tie on the primary metric was broken, as a clause ('' without a tie)."""
    tie = chosen.tie_break
    if not tie:
        return ""
    return f" ({', '.join(tie['tied'])} tied on {chosen.metric}; the tie was broken by {tie['decided_by']})"


def selection_blocks(summary: RunSummary) -> tuple[Text | Table, ...]:
    """How the baseline and the zero-shot prompt were chosen, with their dev scores."""
    chosen, search = summary.baseline_selection, summary.prompt_search
    return (
        Text(f"Baseline {chosen.chosen} was chosen on the {chosen.chosen_on} split{tie_sentence(chosen)}; prompt "
             f"template {search.winner} won among {search.variants_tried} variants."),
        Table(("baseline candidate", "dev score"), tuple(
            (cid, format_number(score)) for cid, score in chosen.dev_scores.items())),
        Table(("prompt template", "dev score"), tuple(
            (name, format_number(score)) for name, score in search.dev_scores.items())),
    )


def figure_caption(summary: RunSummary, name: str) -> str:
    """The figure's caption; the primary metric's names the candidates drawn without a CI."""
    primary = summary.gate.primary_metric
    without = [cid for cid, candidate in summary.candidates.items() if primary not in candidate.intervals]
    if name != "primary_metric" or not without:
        return FIGURE_CAPTIONS[name]
    return f"{FIGURE_CAPTIONS[name]} No CI was recorded for {', '.join(without)}."


def results_sections(summary: RunSummary, plots: Mapping[str, str]) -> list[Section]:
    """Verdict, results, figures and comparisons; `plots` maps figure name -> relative path."""
    return [
        Section("Verdict", (banner(summary), checks_table(summary))),
        Section("Results", (results_table(summary), *not_computed(summary))),
        Section("Figures", tuple(Figure(path, figure_caption(summary, name))
                                 for name, path in plots.items())),
        Section("Paired comparisons", (comparisons_table(summary),)),
        Section("How the baseline was chosen", selection_blocks(summary)),
        Section("All metrics", (all_metrics_table(summary),)),
    ]
