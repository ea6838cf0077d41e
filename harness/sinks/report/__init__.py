"""The run report: a view of one run folder as report.md, report.html and plots/*.png.

`write_report(run_dir)` reads summary.json, the prediction files and the data card (the run record
is the source of truth), draws the figures, builds the sections once and lays them out twice: a
Markdown file that references the PNGs by relative path and a self-contained HTML file with the
PNGs inlined. Every number shown is one recorded in summary.json or the prediction files, written
by harness.sinks.report.formatting. This package deliberately knows nothing about how the run was
produced, MLflow, or the gate's exit code; it never writes to summary.json.
"""

from __future__ import annotations

from pathlib import Path

from harness.sinks.report.evidence import evidence_sections
from harness.sinks.report.examples import examples_section
from harness.sinks.report.html import render_html
from harness.sinks.report.markdown import render_markdown
from harness.sinks.report.plots import write_plots
from harness.sinks.report.results import results_sections
from harness.sinks.report.run_folder import load_run_folder
from harness.sinks.report.regression import regression_section
from harness.sinks.report.slices import slices_section

PLOTS_DIR = "plots"


def write_report(run_dir: Path) -> list[Path]:
    """Writes report.md, report.html and plots/*.png into the run folder; returns their paths."""
    record = load_run_folder(run_dir)
    plots = write_plots(record, run_dir / PLOTS_DIR)
    relative = {name: path.relative_to(run_dir).as_posix() for name, path in plots.items()}
    summary = record.summary
    sections = [*results_sections(summary, relative), slices_section(summary), regression_section(summary),
                examples_section(record),
                *evidence_sections(summary, record.data_card)]
    title = f"{summary.task}: does the adapter beat prompting?"
    subtitle = f"Run {summary.run_id}, {summary.created_at}, {summary.split} split"
    markdown_path, html_path = run_dir / "report.md", run_dir / "report.html"
    markdown_path.write_text(render_markdown(title, subtitle, sections), encoding="utf-8")
    html_path.write_text(render_html(title, subtitle, sections, run_dir), encoding="utf-8")
    return [markdown_path, html_path, *plots.values()]
