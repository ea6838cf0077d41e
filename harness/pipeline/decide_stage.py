"""The decide stage: from a run's scores to its baseline, paired comparisons, verdict and cost.

The strongest prompt-only candidate is chosen by its dev score, ties broken by the stated rule of
harness.decide.baseline_choice; the adapter served the way the verdict asks is compared with it on
each edge-case slice (harness.decide.slice_summary) and on the regression probe
(harness.decide.regression), then paired on the test split, and the verdict decided with the
training history's notes (harness.decide.convergence). The cost section prices the training and
the break-even; given token prices, what each candidate would cost on a hosted API. The result is
a `Decision` in the run summary's own types; this module reads no batch and writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from harness.data.slices import slice_name
from harness.decide.baseline_choice import BaselineChoice, choose_baseline
from harness.decide.convergence import training_notes
from harness.decide.evaluate import compare_pair, compare_slices
from harness.decide.regression import regression_section
from harness.decide.slice_summary import slices_section
from harness.decide.verdict import RegressionFinding, SliceFinding
from harness.pipeline.run_facts import RunFacts, verdict_label
from harness.pipeline.score_stage import PROBE_LABELS, ScoredRun
from harness.record.run_summary import Cost, Verdict
from harness.score.candidate_scores import CandidateResult
from harness.score.cost import TokenPrice, api_cost_per_1k, break_even_requests, training_cost_usd
from harness.score.metrics import metric_def
from harness.task.probes import BASE_LABEL as BASE_PROBES

NO_VERDICT = "no_verdict"
NO_ADAPTER_REASON = "no candidate uses an adapter: a prompt-only study, with no verdict to give"
PRICE_NOTE = "assumed price of one accelerator-hour (a parameter, not a measurement); cost = price x measured wall time per request"


@dataclass(frozen=True)
class Decision:
    """The baseline choice, the verdict with its comparisons, the cost, and the slice and regression sections."""

    selection: BaselineChoice
    verdict: Verdict
    comparisons: tuple[Mapping[str, Any], ...]
    cost: Cost
    slices: Mapping[str, Any]
    regression: Mapping[str, Any] | None


def cost_section(facts: RunFacts, adapter: CandidateResult, baseline: CandidateResult) -> Cost:
    manifest = facts.sections.get("adapter", {}).get("manifest") or {}
    seconds = manifest.get("train_seconds")
    if seconds is None:
        return Cost(price_usd_per_hour=facts.price_usd_per_hour, price_note=PRICE_NOTE, training_cost_usd=None,
                    break_even_requests=None, break_even_note="no training time recorded (adapter given, no manifest)")
    training = training_cost_usd(seconds, facts.price_usd_per_hour)
    per_request = {r.candidate: r.metrics.value("cost_usd_per_1k_requests") / 1000 for r in (adapter, baseline)}
    even = break_even_requests(training, per_request[adapter.candidate], per_request[baseline.candidate])
    return Cost(price_usd_per_hour=facts.price_usd_per_hour, price_note=PRICE_NOTE, training_cost_usd=training,
                break_even_requests=even.requests, break_even_note=even.reason)


def api_costs(price: TokenPrice, results: Mapping[str, CandidateResult]) -> dict[str, Any]:
    """What each candidate's measured token counts would cost on a hosted API at the given prices."""
    return {"input_usd_per_1m": price.input_usd_per_1m, "output_usd_per_1m": price.output_usd_per_1m,
            "cost_usd_per_1k_requests": {label: api_cost_per_1k(r.metrics.value("tokens_in_mean"), r.metrics.value("tokens_out_mean"), price)
                                         for label, r in results.items()}}


def adapter_training_notes(adapter: Mapping[str, Any]) -> tuple[str, ...]:
    """Under-training or divergence read from the `history.jsonl` beside the adapter of a run's
    `adapter` section (harness.decide.convergence); with no history, a sentence saying it was not checked."""
    history = Path(adapter["path"]) / "history.jsonl" if adapter.get("path") else None
    if history is None or not history.is_file():
        return ("No training history beside the adapter: whether it was trained to convergence is unknown.",)
    rows = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines() if line.strip()]
    return training_notes(rows, (adapter.get("manifest") or {}).get("kept_step"))


def probe_outcome(facts: RunFacts, scored: ScoredRun) -> tuple[dict[str, Any] | None, RegressionFinding | None]:
    """The regression section and finding: the base model against the adapter served the verdict's way."""
    if scored.probes is None:
        return None, None
    return regression_section(BASE_PROBES, scored.probes, PROBE_LABELS[facts.verdict_serving])


def judge(facts: RunFacts, results: Mapping[str, CandidateResult], baseline: str, slices: tuple[SliceFinding, ...],
          regression: RegressionFinding | None) -> tuple[Verdict, tuple[Any, ...], Cost]:
    """The verdict, the paired comparisons and the cost section; a prompt-only study has no verdict to give."""
    adapter_label = verdict_label(facts)
    if adapter_label is None:
        verdict = Verdict(decision=NO_VERDICT, reasons=(NO_ADAPTER_REASON,), checks={}, adapter_candidate=None,
                          baseline_candidate=baseline, adapter_serving=None)
        cost = Cost(price_usd_per_hour=facts.price_usd_per_hour, price_note=PRICE_NOTE, training_cost_usd=None,
                    break_even_requests=None, break_even_note="no adapter: nothing to break even")
        return verdict, (), cost
    notes = adapter_training_notes(facts.sections.get("adapter") or {})
    comparison = compare_pair(results[adapter_label], results[baseline], facts.task.gate, facts.seed, notes, slices, regression)
    verdict = Verdict(**comparison.verdict.to_dict(), adapter_candidate=adapter_label, baseline_candidate=baseline,
                      adapter_serving=str(facts.verdict_serving), training_notes=notes)
    return verdict, tuple(comparison.rows), cost_section(facts, results[adapter_label], results[baseline])


def decide(facts: RunFacts, scored: ScoredRun) -> Decision:
    """Choose the baseline, compare the adapter with it (slices, probe, test) and decide; price it all."""
    gate, results = facts.task.gate, scored.results
    selection = choose_baseline(scored.standings, metric_def(gate.primary_metric).direction == "higher_is_better")
    baseline, adapter = selection.chosen, verdict_label(facts)
    findings = compare_slices({slice_name(split): (by_label[adapter], by_label[baseline]) for split, by_label in scored.on_slices.items()},
                              gate.primary_metric, facts.seed) if adapter else ()
    regression, regressed = probe_outcome(facts, scored)
    verdict, comparisons, cost = judge(facts, results, baseline, findings, regressed)
    if facts.token_price:
        cost = replace(cost, api_comparison=api_costs(facts.token_price, results))
    slices = slices_section(facts.task, facts.splits, scored.on_slices, findings, adapter, baseline, facts.seed)
    return Decision(selection, verdict, comparisons, cost, slices, regression)
