"""Tests for harness.sinks.report on a realistic run folder built in tmp_path (test_report_run_folder)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from test_report_run_folder import CANDIDATES, write_run_folder

from harness.errors import HarnessError
from harness.record.run_summary import RunSummary, read_run_summary
from harness.sinks.report import write_report
from harness.sinks.report.evidence import serving_blocks
from harness.sinks.report.formatting import format_metric, format_number, format_p
from harness.sinks.report.markdown import demote_headings
from harness.sinks.report.results import KEY_METRICS, best_rows, metric_cell

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    run_dir = write_run_folder(tmp_path_factory.mktemp("run"))
    write_report(run_dir)
    return run_dir, read_run_summary(run_dir)


def _row(markdown: str, first_cell: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {first_cell} | "))
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_report_files_exist_and_plots_are_png(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    paths = write_report(run_dir)
    names = {path.relative_to(run_dir).as_posix() for path in paths}
    assert {"report.md", "report.html"} <= names
    plots = sorted(name for name in names if name.startswith("plots/"))
    assert plots == ["plots/failures.png", "plots/latency.png", "plots/per_field_f1.png",
                     "plots/primary_metric.png"]
    assert all((run_dir / name).read_bytes().startswith(PNG_MAGIC) for name in plots)


def test_html_is_one_self_contained_file(written: tuple[Path, RunSummary]) -> None:
    html = (written[0] / "report.html").read_text()
    for outside in ("http://", "https://", 'src="plots/', "<script", "<link"):
        assert outside not in html
    assert html.count('src="data:image/png;base64,') == 4
    assert "Parties: Acme &lt;Corp&gt; &amp; Vendor | 2019" in html  # model output is escaped


def test_markdown_references_plots_that_exist(written: tuple[Path, RunSummary]) -> None:
    run_dir = written[0]
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (run_dir / "report.md").read_text())
    assert len(images) == 4
    assert all(not Path(image).is_absolute() and (run_dir / image).is_file() for image in images)


def test_every_key_metric_is_in_its_candidate_row_as_formatted(written: tuple[Path, RunSummary]) -> None:
    run_dir, summary = written
    markdown = (run_dir / "report.md").read_text()
    for cid, candidate in summary.candidates.items():
        row = _row(markdown, cid)
        for column, name in enumerate(KEY_METRICS, start=2):
            shown = format_metric(summary.metric_defs, name, candidate.metrics[name])
            assert row[column].strip("*").startswith(shown), (cid, name)
    assert _row(markdown, "best_prompt")[-1] == "**0.1234**"  # cost: lowest is best
    lora = summary.candidates["lora_short"]
    f1, (low, high) = lora.metrics["field_f1"], lora.intervals["field_f1"]
    assert _row(markdown, "lora_short")[2] == f"**{f1:.3f} [{low:.3f}, {high:.3f}]**"  # best


def test_best_value_per_column_follows_direction(written: tuple[Path, RunSummary]) -> None:
    markdown = (written[0] / "report.md").read_text()
    header = _row(markdown, "candidate")
    bold = {(cid, header[k]) for cid in CANDIDATES
            for k, cell in enumerate(_row(markdown, cid)) if cell.startswith("**")}
    assert ("guided_json", "schema_valid_rate ↑") in bold
    assert ("lora_short@merged", "latency_p95_s ↓") in bold
    assert not any(column.startswith(("tokens_in_mean", "tokens_out_mean")) for _, column in bold)


@pytest.mark.parametrize(("values", "direction", "best"), [
    ([0.5, 0.7, None, 0.7], "higher_is_better", {1, 3}),
    ([0.5, 0.7, None], "lower_is_better", {0}),
    ([0.5, 0.7], "neutral", set()),
    ([0.5, 0.5, None], "higher_is_better", set()),
    ([None, None], "lower_is_better", set()),
])
def test_best_rows(values: list, direction: str, best: set) -> None:
    assert best_rows(values, direction) == best


@pytest.mark.parametrize(("decision", "status"), [
    ("adapter_wins", "ADAPTER WINS"), ("not_proven", "NOT PROVEN"),
    ("adapter_loses", "ADAPTER LOSES"),
])
def test_verdict_banner_says_the_decision(tmp_path: Path, decision: str, status: str) -> None:
    run_dir = write_run_folder(tmp_path, decision)
    write_report(run_dir)
    markdown, html = (run_dir / "report.md").read_text(), (run_dir / "report.html").read_text()
    verdict_part = markdown.split("## Verdict", 1)[1].split("##", 1)[0]
    assert verdict_part.lstrip().startswith(f"> **{status}** — ")
    assert f'<div class="banner {decision}"><div class="status">{status}</div>' in html
    for reason in read_run_summary(run_dir).verdict.reasons:
        assert f"> - {reason}" in verdict_part


def test_banner_carries_the_recorded_comparison(written: tuple[Path, RunSummary]) -> None:
    markdown = (written[0] / "report.md").read_text()
    assert ("> - Paired difference (paired_bootstrap, n = 12): +0.062 [-0.010, 0.130], "
            "p = 0.0270, Holm p = 0.0810") in markdown


def test_report_states_price_split_origins_and_embeds_the_card(written: tuple[Path, RunSummary]) -> None:
    markdown = (written[0] / "report.md").read_text()
    assert "Price assumption: 2 USD per accelerator-hour" in markdown
    assert "Break-even: 2085 requests" in markdown
    assert "Hosted-API comparison at 0.15 USD per million input tokens" in markdown
    assert "| lora_short | 0.1534 | 0.0867 |" in markdown  # self-hosted, hosted API
    assert "| test | 12 | cuad | real (CUAD contracts) | sha256:cc33 |" in markdown
    assert ("| train | 160 | cuad+synthetic | real (CUAD contracts) + synthetic (generated) | "
            "sha256:dd44 |") in markdown
    assert "### Data card: contract_extraction" in markdown
    assert "Compliance rate: 1.000 of 12 outputs" in markdown


def test_a_model_output_cannot_break_a_markdown_table(written: tuple[Path, RunSummary]) -> None:
    markdown = (written[0] / "report.md").read_text()
    line = next(line for line in markdown.splitlines() if "Parties: Acme" in line)
    assert len(re.split(r"(?<!\\)\|", line)) == 5 + 2


def test_absent_optional_sections_are_said_not_invented(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    for section in ("adapter", "adapter_checks", "guided_audit"):
        del summary[section]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_report(run_dir)
    markdown = (run_dir / "report.md").read_text()
    assert "This run recorded no adapter manifest." in markdown
    assert "This run recorded no adapter checks." in markdown
    assert "This run has no guided-decoding audit." in markdown


def test_an_adapter_given_without_manifest_is_said(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["adapter"] = {"key": None, "path": "/ci/adapter", "trained_here": False, "manifest": {}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_report(run_dir)
    markdown = (run_dir / "report.md").read_text()
    assert "| path | /ci/adapter |" in markdown
    assert "The adapter's manifest does not record key, base_model," in markdown


def test_a_missing_metric_is_a_dash_with_its_reason(written: tuple[Path, RunSummary]) -> None:
    run_dir, summary = written
    assert metric_cell(summary, "lora_short@merged", "ttft_p95_s") == "—"
    markdown = (run_dir / "report.md").read_text()
    assert "| ttft_p95_s | s | 0.061 | 0.061 | 0.061 | 0.061 | — |" in markdown
    assert "- lora_short@merged: ttft_p95_s not computed (no request has this timing)" in markdown


def test_missing_required_section_fails_loudly(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["comparisons"] = []
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(KeyError, match="exactly one entry"):
        write_report(run_dir)


def test_candidates_that_saw_other_records_are_refused(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    path = run_dir / "predictions/few_shot.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(HarnessError, match="predicted different records"):
        write_report(run_dir)


@pytest.mark.parametrize(("value", "unit", "signed", "text"), [
    (0.5, "ratio", False, "0.500"), (0.0621, "ratio", True, "+0.062"), (1.23456, "s", False,
    "1.235"), (315.5, "tokens", False, "315.5"), (0.12345, "USD", False, "0.1235"),
    (12, "records", False, "12"), (2085, None, False, "2085"), (2e-05, None, False, "2e-05"),
    (None, "ratio", False, "—"),
])
def test_format_number(value: float | None, unit: str | None, signed: bool, text: str) -> None:
    assert format_number(value, unit, signed) == text


@pytest.mark.parametrize(("p", "text"), [(0.081, "0.0810"), (0.00004, "< 0.0001"), (1.0, "1.0000")])
def test_format_p(p: float, text: str) -> None:
    assert format_p(p) == text


def test_demote_headings_leaves_code_fences_alone() -> None:
    card = "# Card\n\n```bash\n# comment\n```\n## Origin"
    assert demote_headings(card) == "### Card\n\n```bash\n# comment\n```\n#### Origin"


@pytest.mark.parametrize("serving, cold_seconds, words", [
    ({"dynamic": {}, "merged": {}}, 0.412, "Adapter cold load: 0.412 s."),
    ({"dynamic": {}, "merged": {}}, None, "not measured (no base engine was started"),
    ({"merged": {}}, None, "not measured (the adapter was served merged only, so the base engine ran without LoRA support)"),
])
def test_the_cold_load_line_says_why_it_was_not_measured(written: tuple[Path, RunSummary], serving: dict, cold_seconds: float | None,
                                                         words: str) -> None:
    summary = dataclasses.replace(written[1], engine=dict(written[1].engine) | {"adapter_serving": serving, "adapter_cold_load_s": cold_seconds})
    assert words in serving_blocks(summary)[0].text
