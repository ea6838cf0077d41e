"""The handlers behind each `harness` subcommand, and the options only one command takes.

Each handler resolves its configuration, calls the stages, applies the sinks (report, MLflow,
CI outputs) and returns an exit code. The results table and verdict printed at the end are read
from summary.json, like every other view. This module knows the commands, not how stages work.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.record.run_summary import RunSummary

SHOWN_METRICS = ("n", "schema_valid_rate", "field_f1", "record_exact_rate", "latency_p50_s", "latency_p95_s",
                 "tokens_in_mean", "tokens_out_mean", "cost_usd_per_1k_requests")


def add_gate_outputs(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("CI outputs")
    group.add_argument("--junit", type=Path, help="write a JUnit XML file of the gate's checks here")
    group.add_argument("--markdown", type=Path, help="write a pull-request comment (Markdown) here")


def add_train_only(parser: argparse.ArgumentParser) -> None:
    from harness.cli.options import add_model, add_precision

    parser.add_argument("--retrain", action="store_true", help="train even if an adapter is cached for these inputs")
    add_model(parser)
    add_precision(parser)
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<root>/mlruns.db)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the training run to MLflow")


def add_curve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="25,50,100,200", help="comma-separated training-set sizes (nested subsets)")


def finish_run(outcome: Any) -> RunSummary:
    """The report, then the run marked complete and the results printed; MLflow comes after
    (`log_to_mlflow`), so a failing store never costs the run folder."""
    from harness.pipeline.compare import complete_run
    from harness.sinks.report import write_report
    from harness.record.run_record import failure_marked

    with failure_marked(outcome.run_dir):
        write_report(outcome.run_dir)
    complete_run(outcome.run_dir)
    print_results(outcome.summary, outcome.run_dir)
    return outcome.summary


def log_to_mlflow(run_dir: Path, tracking_uri: str, experiment: str, gate_passed: bool | None = None) -> dict[str, Any]:
    """Log a finished run folder, set the gate's alias on its adapter version (when a gate judged
    it), and record the receipt in the run folder's mlflow.json. An unreachable or failing store is
    one HarnessError saying the folder is complete and how to log it later."""
    from mlflow.tracking import MlflowClient

    from harness.sinks.mlflow_store import require_reachable, store_errors
    from harness.sinks.model_registry import set_gate_alias
    from harness.redaction import redact_uri
    from harness.record.run_record import write_mlflow_receipt
    from harness.sinks.tracking import log_run

    then = f"the run folder is complete; log it later with: harness log {run_dir}"
    require_reachable(tracking_uri, then)
    with store_errors(tracking_uri, then):
        receipt = log_run(run_dir, tracking_uri, experiment)
        version = receipt.get("registered_model")
        if version is not None and gate_passed is not None:
            version["alias"] = set_gate_alias(MlflowClient(tracking_uri), version, gate_passed)
    write_mlflow_receipt(run_dir, receipt)
    print(f"mlflow: parent run {receipt['parent_run_id']} in {redact_uri(tracking_uri)} (make ui)")
    if version is not None:
        alias = f", alias {version['alias']}" if "alias" in version else ""
        print(f"mlflow: registered model {version['name']} version {version['version']}{alias}")
    return receipt


def print_results(summary: RunSummary, run_dir: Path) -> None:
    import pandas as pd

    from harness.sinks.report.results import baseline_origin

    rows = {cid: {m: entry.metrics.get(m) for m in SHOWN_METRICS} | {"serving": entry.serving}
            for cid, entry in summary.candidates.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print("\n" + table.to_string())
    failed = {cid: entry.failures["request_failed"] for cid, entry in summary.candidates.items() if entry.failures["request_failed"]}
    print(f"\nrequests failed (after retries): {sum(failed.values())}" + (f" {failed}" if failed else ""))
    verdict = summary.verdict
    adapter = verdict.adapter_candidate or "none (a prompt-only study)"
    print(f"baseline (strongest prompt-only on dev): {verdict.baseline_candidate}; adapter: {adapter}")
    print(baseline_origin(summary.baseline_cache))
    for reason in verdict.reasons:
        print(f"  - {reason}")
    print(f"\nVERDICT: {verdict.decision}")
    print(f"report: {run_dir / 'report.html'}  (and report.md)")


def compare(args: argparse.Namespace) -> int:
    from harness.cli.config import resolve_run_config

    config = resolve_run_config(args)  # before the pipeline's import (torch, scipy): bad flags fail in a second
    from harness.pipeline.compare import run_comparison

    outcome = run_comparison(config)
    finish_run(outcome)
    if config.tracking_uri:
        log_to_mlflow(outcome.run_dir, config.tracking_uri, config.experiment)
    return 0


def gate(args: argparse.Namespace) -> int:
    from harness.cli.config import resolve_gate_config

    config = resolve_gate_config(args)
    if not any(c.adapter for c in config.candidates):
        raise HarnessError("the gate judges an adapter, but no candidate uses one", "--candidates", "add an adapter candidate (e.g. lora_short)")
    prepare_output_folders(("--junit", args.junit), ("--markdown", args.markdown))
    from harness.pipeline.compare import run_comparison
    from harness.sinks.gate_outputs import PASSING_DECISION, junit_xml, pr_comment_markdown

    print("[gate] thresholds: " + json.dumps(dataclasses.asdict(config.task.gate)), flush=True)
    outcome = run_comparison(config)
    summary = finish_run(outcome)
    if args.junit:
        args.junit.write_text(junit_xml(summary))
    if args.markdown:
        args.markdown.write_text(pr_comment_markdown(summary))
    passed = summary.verdict.decision == PASSING_DECISION
    if config.tracking_uri:
        log_to_mlflow(outcome.run_dir, config.tracking_uri, config.experiment, gate_passed=passed)
    return 0 if passed else 1


def add_log_target(parser: argparse.ArgumentParser) -> None:
    from harness.pipeline.run_config import DEFAULT_EXPERIMENT

    parser.add_argument("run_dir", type=Path, help="a finished run folder (reports/<task>/<run id>)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder (default store: <root>/mlruns.db)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<root>/mlruns.db)")
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help=f"MLflow experiment (default: {DEFAULT_EXPERIMENT})")


def log(args: argparse.Namespace) -> int:
    from harness.cli.config import tracking_uri
    from harness.pipeline.run_config import Paths

    run_dir = args.run_dir.resolve()
    if not (run_dir / "summary.json").is_file():
        raise HarnessError("not a finished run folder (no summary.json)", str(run_dir), "pass reports/<task>/<run id> of a completed run")
    log_to_mlflow(run_dir, tracking_uri(args, Paths.under(args.root, None, None)), args.experiment)
    return 0


def prepare_output_folders(*outputs: tuple[str, Path | None]) -> None:
    """Create the folders of the gate's output files up front, so a finished verdict is never lost to a missing folder."""
    for flag, path in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HarnessError(f"cannot create its folder: {exc.strerror}", f"{flag} {path}", "pass a path in a writable folder") from None
        if path.is_dir():
            raise HarnessError("is a folder, not a file", f"{flag} {path}", "pass a file path, e.g. reports/gate.xml")


def train(args: argparse.Namespace) -> int:
    from harness.cli.config import resolve_training_config

    config = resolve_training_config(args)
    from harness.cli.training_command import run_training

    run_training(config)
    return 0


def tune_prompt(args: argparse.Namespace) -> int:
    from harness.cli.config import resolve_tuning_config

    config = resolve_tuning_config(args)
    from harness.cli.tuning_command import run_prompt_search

    run_prompt_search(config)
    return 0


def validate(args: argparse.Namespace) -> int:
    from harness.cli.config import project_paths, resolve_data_config
    from harness.cli.data_command import build_data
    from harness.data.validate import validate_task

    task_dir = project_paths(args).tasks / args.task
    problems = validate_task(task_dir)
    if not problems:
        problems = validate_task(task_dir, build_data(resolve_data_config(args)).folder)
    for problem in problems:
        print(f"harness: invalid: {problem}")
    if problems:
        raise HarnessError(f"{len(problems)} problem(s) found", f"tasks/{args.task}", "fix the items listed above")
    print(f"{args.task}: valid")
    return 0


def add_data_action(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("card", "build"), help="card: build if needed and print the data card; build: build if needed "
                                                                "and print the data folder")


def data(args: argparse.Namespace) -> int:
    from harness.cli.config import resolve_data_config
    from harness.cli.data_command import build_data, data_card

    built = build_data(resolve_data_config(args))
    print(data_card(built) if args.action == "card" else built.folder)
    return 0


def curve(args: argparse.Namespace) -> int:
    from harness.cli.config import resolve_curve_config

    config = resolve_curve_config(args)
    from harness.pipeline.curve import run_curve

    run_curve(config)
    return 0
