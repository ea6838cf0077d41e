"""Tests for harness.sinks.gate_outputs: JUnit XML that parses and fails exactly the failed checks, and
a PR comment that states the decision."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_report_run_folder import write_run_folder

from harness.record.run_summary import RunSummary, decode, read_run_summary
from harness.sinks.gate_outputs import junit_xml, pr_comment_markdown
from harness.sinks.report.formatting import format_metric

DECISIONS = [("adapter_wins", "ADAPTER WINS", "PASS"), ("not_proven", "NOT PROVEN", "FAIL"),
             ("adapter_loses", "ADAPTER LOSES", "FAIL")]


def _summary(tmp_path: Path, decision: str) -> RunSummary:
    return read_run_summary(write_run_folder(tmp_path, decision))


@pytest.mark.parametrize(("decision", "words", "status"), DECISIONS)
def test_junit_fails_exactly_the_failed_checks(tmp_path: Path, decision: str, words: str,
                                               status: str) -> None:
    summary = _summary(tmp_path, decision)
    suite = ET.fromstring(junit_xml(summary)).find("testsuite")
    assert suite is not None and suite.get("name") == "harness.gate.contract_extraction"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    checks = summary.verdict.checks
    assert set(cases) == {f"check.{name}" for name in checks} | {"decision"}
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    expected = {f"check.{name}" for name, check in checks.items() if not check["passed"]}
    assert failed == expected | ({"decision"} if status == "FAIL" else set())
    assert suite.get("tests") == str(len(cases)) and suite.get("failures") == str(len(failed))
    assert cases["decision"].findtext("failure" if status == "FAIL" else "system-out").startswith(
        words)


def test_junit_escapes_reasons(tmp_path: Path) -> None:
    record = _summary(tmp_path, "not_proven").to_dict()
    record["verdict"]["reasons"] = ['p < alpha & "diff" > 0']
    record["verdict"]["checks"]["latency_p95_s"] |= {"passed": False, "reason": "ratio <>&"}
    root = ET.fromstring(junit_xml(decode(record, "summary.json")))
    assert 'p < alpha & "diff" > 0' in root.find(".//testcase[@name='decision']/failure").text
    assert "ratio <>&" in root.find(".//testcase[@name='check.latency_p95_s']/failure").text


@pytest.mark.parametrize(("decision", "words", "status"), DECISIONS)
def test_pr_comment_states_the_decision(tmp_path: Path, decision: str, words: str,
                                        status: str) -> None:
    summary = _summary(tmp_path, decision)
    comment = pr_comment_markdown(summary)
    assert comment.startswith(f"### Adapter gate for contract_extraction: {status}\n")
    assert f"**{words}**: " in comment
    assert all(f"- {reason}" in comment for reason in summary.verdict.reasons)
    assert "http" not in comment and "](" not in comment


def test_pr_comment_table_shows_recorded_numbers(tmp_path: Path) -> None:
    summary = _summary(tmp_path, "not_proven")
    comment, defs = pr_comment_markdown(summary), summary.metric_defs
    for name in ("field_f1", "schema_valid_rate", "latency_p95_s", "cost_usd_per_1k_requests"):
        row = next(line for line in comment.splitlines() if line.startswith(f"| {name} "))
        for cid in ("lora_short", "best_prompt"):
            assert format_metric(defs, name, summary.candidates[cid].metrics[name]) in row
    assert "+0.062 [-0.010, 0.130], Holm p 0.0810" in comment


def test_junit_is_a_testsuites_document(tmp_path: Path) -> None:
    assert ET.fromstring(junit_xml(_summary(tmp_path, "adapter_wins"))).tag == "testsuites"
