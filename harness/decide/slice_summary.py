"""The summary's `slices` section: every candidate on each edge-case slice, and the adapter against the baseline there.

Per slice (harness.data.slices) it records the variants' count, content hash, the steps that made
them and the file holding them; per candidate label the slice's quality metrics with a bootstrap
interval of the primary metric; and the adapter-minus-baseline difference of the primary metric
with its paired CI and Holm-corrected p (harness.decide.evaluate.compare_slices). A slice with no variant
(its steps applied to no test record) says so instead of carrying numbers. Pure: it composes
scored results and writes nothing.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from harness.score.candidate_scores import CandidateResult
from harness.data.slices import slice_name
from harness.decide.evaluate import primary_interval
from harness.task.records import Record, records_hash
from harness.task.specs import TaskSpec
from harness.decide.verdict import SliceFinding

SLICE_METRICS = ("field_f1", "schema_valid_rate", "record_exact_rate", "json_parse_rate", "failed_request_rate")


def candidate_on_slice(result: CandidateResult, metric: str, seed: int) -> dict[str, Any]:
    values = result.metrics.values
    interval = primary_interval(result, metric, seed)
    return {"metrics": {name: values[name] for name in (metric, *SLICE_METRICS) if name in values},
            "intervals": {metric: [interval.low, interval.high]}}


def finding_entry(finding: SliceFinding | None, adapter: str | None, baseline: str, metric: str) -> dict[str, Any] | None:
    if finding is None or adapter is None:
        return None
    return {"candidate": adapter, "baseline": baseline, "metric": metric, "diff": finding.diff, "ci_low": finding.ci.low,
            "ci_high": finding.ci.high, "p_holm": finding.p_holm, "n": finding.n, "test": "paired_permutation",
            "ci_method": "paired_bootstrap", "correction": "holm across slices"}


def slices_section(task: TaskSpec, splits: Mapping[str, Sequence[Record]], results: Mapping[str, Mapping[str, CandidateResult]],
                   findings: Sequence[SliceFinding], adapter: str | None, baseline: str, seed: int) -> dict[str, Any]:
    """Per slice: its variants, each candidate's numbers on them, and the adapter's paired difference from the baseline."""
    metric, by_name = task.gate.primary_metric, {f.slice: f for f in findings}
    section = {}
    for split, by_label in results.items():
        name, records = slice_name(split), splits[split]
        entry = {"n": len(records), "hash": records_hash(records), "steps": [dict(step) for step in task.slices.define[name]],
                 "records_file": f"slices/{name}.jsonl"}
        if not records:
            section[name] = entry | {"candidates": {}, "adapter_vs_baseline": None,
                                     "note": "the slice's steps applied to none of the test records it looked at"}
            continue
        section[name] = entry | {"candidates": {label: candidate_on_slice(result, metric, seed) for label, result in by_label.items()},
                                 "adapter_vs_baseline": finding_entry(by_name.get(name), adapter, baseline, metric)}
    return section
