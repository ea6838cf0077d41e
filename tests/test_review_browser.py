"""The review surface in a real headless Chromium, over the shared fixture run folder (no engine):
`make ui` over an MLflow store it was logged to (with a passing gate's alias), and its report.html.
tests/test_end_to_end.py runs the same checks over a store written by a real comparison."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from review_browser import (Review, check_child_run_page, check_experiment_page, check_model_page, check_report, chromium,
                            make_ui, review)
from test_report_run_folder import CANDIDATES, write_run_folder

from harness.cli.commands import log_to_mlflow
from harness.record.run_summary import read_run_summary
from harness.sinks.report import write_report
from harness.sinks.report.formatting import decision_words

HEADLINE = ("field_f1", "schema_valid_rate", "latency_p95_s")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A run folder whose adapter won, logged as a gate would log it (alias champion)."""
    root = tmp_path_factory.mktemp("store")
    run_dir = write_run_folder(root, "adapter_wins")
    write_report(run_dir)
    uri = f"sqlite:///{root}/mlruns.db"
    receipt = log_to_mlflow(run_dir, uri, "harness", gate_passed=True)
    return {"root": root, "uri": uri, "run_dir": run_dir, "receipt": receipt,
            "summary": read_run_summary(run_dir)}


@pytest.fixture(scope="module")
def ui(store: dict) -> Iterator[str]:
    with make_ui(store["uri"], store["root"] / "make-ui.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with chromium() as launched:
        yield launched


@pytest.fixture
def view(browser, tmp_path: Path) -> Iterator[Review]:
    with review(browser, tmp_path) as opened:
        yield opened


def _run_ids(store: dict) -> tuple[str, dict[str, str]]:
    client = MlflowClient(store["uri"])
    parent = client.get_run(store["receipt"]["parent_run_id"])
    runs = client.search_runs([parent.info.experiment_id])
    return parent.info.experiment_id, {run.info.run_name: run.info.run_id for run in runs}


def test_ui_lists_the_parent_run_with_its_child_runs(store: dict, ui: str, view: Review, tmp_path: Path) -> None:
    experiment_id, _ = _run_ids(store)
    parent = (store["receipt"]["parent_run_id"], f"{store['summary'].task}/{store['summary'].run_id}")
    check_experiment_page(view, ui, experiment_id, parent, list(CANDIDATES))
    assert (tmp_path / "experiment-runs.png").stat().st_size > 10_000


def test_ui_child_run_shows_metrics_and_the_predictions_table(store: dict, ui: str, view: Review, tmp_path: Path) -> None:
    experiment_id, runs = _run_ids(store)
    metrics = store["summary"].candidates["lora_short"].metrics
    check_child_run_page(view, ui, (experiment_id, runs["lora_short"]), {name: metrics[name] for name in HEADLINE}, "rec-000")
    assert (tmp_path / "predictions-table.png").is_file()


def test_ui_registered_model_shows_the_adapter_version_and_its_alias(store: dict, ui: str, view: Review, tmp_path: Path) -> None:
    registered = store["receipt"]["registered_model"]
    check_model_page(view, ui, registered["name"], registered["version"], "champion", "adapter_wins")
    assert (tmp_path / "registered-model.png").is_file()


@pytest.mark.parametrize("decision", ["adapter_wins", "not_proven", "adapter_loses"])
def test_report_renders_in_a_browser(decision: str, browser, tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path, decision)
    write_report(run_dir)
    with review(browser, tmp_path / "shots") as view:
        check_report(view, run_dir / "report.html", decision_words(decision)[0], len(list((run_dir / "plots").glob("*.png"))))
    assert (tmp_path / "shots" / "report.png").stat().st_size > 10_000


def test_a_missing_element_is_named(browser, tmp_path: Path) -> None:
    page_file = tmp_path / "page.html"
    page_file.write_text("<html><body><p>no banner here</p></body></html>")
    with review(browser, tmp_path) as view:
        view.page.goto(page_file.as_uri())
        with pytest.raises(AssertionError, match=r"the verdict banner is not shown on file://.*screenshot"):
            view.sees(view.page.locator(".banner"), "the verdict banner", timeout_ms=500)
    assert (tmp_path / "missing-the-verdict-banner.png").is_file()
