"""What the gate hands to CI: a JUnit XML file and a short pull-request comment in Markdown.

`junit_xml` writes one testsuite `harness.gate.<task>` with a testcase per verdict check (a failed
check carries a <failure>) and a testcase `decision` that passes only when the adapter wins, so a
CI test view shows which condition held the adapter back. `pr_comment_markdown` writes the decision
with a plain status word (PASS or FAIL), a compact adapter-vs-baseline table and the reasons, with
no links. Both read a run's `RunSummary` and show only numbers recorded there, written by
harness.sinks.report.formatting. This module knows nothing about exit codes, CI systems or MLflow.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from harness.record.run_summary import RunSummary
from harness.sinks.report.formatting import (MISSING, decision_words, direction_arrow, format_interval,
                                       format_metric, format_number, format_p, metric_def)
from harness.sinks.report.results import metric_cell

PASSING_DECISION = "adapter_wins"
PR_METRICS = ("schema_valid_rate", "latency_p95_s", "cost_usd_per_1k_requests")


def status_word(summary: RunSummary) -> str:
    """PASS when the adapter wins, FAIL otherwise."""
    return "PASS" if summary.verdict.decision == PASSING_DECISION else "FAIL"


def _check_case(suite: ET.Element, classname: str, name: str, check: Mapping[str, Any]) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=f"check.{name}", time="0")
    detail = (f"value {format_number(check['value'])}, threshold "
              f"{format_number(check['threshold'])}. {check.get('reason', '')}").strip()
    if check["passed"]:
        ET.SubElement(case, "system-out").text = detail
    else:
        ET.SubElement(case, "failure", message=f"{name} failed: {detail}",
                      type="GateCheckFailed").text = detail


def _decision_case(suite: ET.Element, classname: str, summary: RunSummary) -> None:
    verdict = summary.verdict
    status, sentence = decision_words(verdict.decision)
    case = ET.SubElement(suite, "testcase", classname=classname, name="decision", time="0")
    text = "\n".join([f"{status}: {sentence}", *verdict.reasons])
    if verdict.decision == PASSING_DECISION:
        ET.SubElement(case, "system-out").text = text
    else:
        ET.SubElement(case, "failure", message=f"{status}: {sentence}",
                      type="VerdictNotPassed").text = text


def junit_xml(summary: RunSummary) -> str:
    """The verdict as JUnit XML: one testcase per check plus one for the decision."""
    checks = summary.verdict.checks
    name = f"harness.gate.{summary.task}"
    failures = sum(not check["passed"] for check in checks.values()) + (
        summary.verdict.decision != PASSING_DECISION)
    counts = {"tests": str(len(checks) + 1), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", name="harness.gate", **counts)
    suite = ET.SubElement(root, "testsuite", name=name, skipped="0", time="0",
                          timestamp=summary.created_at, **counts)
    properties = ET.SubElement(suite, "properties")
    for key in ("run_id", "split"):
        ET.SubElement(properties, "property", name=key, value=str(getattr(summary, key)))
    for key in ("adapter_candidate", "baseline_candidate", "adapter_serving"):
        ET.SubElement(properties, "property", name=key, value=str(getattr(summary.verdict, key)))
    for check_name, check in checks.items():
        _check_case(suite, name, check_name, check)
    _decision_case(suite, name, summary)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _recorded_diff(summary: RunSummary, metric: str) -> str:
    """The recorded paired difference of adapter vs baseline on `metric`, or MISSING."""
    verdict = summary.verdict
    found = [c for c in summary.comparisons if (c["candidate"], c["baseline"], c["metric"])
             == (verdict.adapter_candidate, verdict.baseline_candidate, metric)]
    if not found:
        return MISSING
    c, defs = found[0], summary.metric_defs
    interval = format_interval(defs, metric, [c["ci_low"], c["ci_high"]])
    return (f"{format_metric(defs, metric, c['diff'], signed=True)} {interval}".strip()
            + f", Holm p {format_p(c['p_holm'])}")


def pr_comment_markdown(summary: RunSummary) -> str:
    """A short PR comment: status and decision, adapter vs baseline on the gate's metrics and
    the reasons."""
    verdict, defs = summary.verdict, summary.metric_defs
    adapter, baseline = verdict.adapter_candidate, verdict.baseline_candidate
    status, sentence = decision_words(verdict.decision)
    primary = summary.gate.primary_metric
    rows = [f"| {name} {direction_arrow(metric_def(defs, name)['direction'])} | "
            f"{metric_cell(summary, adapter, name)} | {metric_cell(summary, baseline, name)} | "
            f"{_recorded_diff(summary, name)} |"
            for name in dict.fromkeys((primary, *PR_METRICS))]
    checks = ", ".join(f"{name} {'pass' if check['passed'] else 'FAIL'}"
                       for name, check in verdict.checks.items())
    return "\n".join([
        f"### Adapter gate for {summary.task}: {status_word(summary)}", "",
        f"**{status}**: {sentence}", "",
        f"| metric | {adapter} (adapter, {verdict.adapter_serving}) | {baseline} (baseline) "
        "| paired difference |", "|---|---|---|---|", *rows, "",
        "Reasons:", "", *(f"- {reason}" for reason in verdict.reasons), "",
        f"Checks: {checks}.", "",
        f"Run {summary.run_id} on the {summary.split} split; the full report is "
        f"reports/{summary.task}/{summary.run_id}/report.html in the job's artifacts.", ""])

