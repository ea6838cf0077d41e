"""The `harness` command: compare, gate, train, tune-prompt, validate, data, curve, log.

Each subcommand resolves its configuration once (harness.cli.config), calls the stage modules,
and maps outcomes to exit codes: 0 success (for `gate`: the adapter wins), 1 the gate's verdict
is not a win, 2 a usage or harness error. A `HarnessError` prints as one line without a traceback
(secret environment values and URI credentials masked); an unexpected exception is a bug and prints
its traceback, also with exit 2. Here, at the entry point, MLflow's HTTP client is told to give up on
a tracking server within seconds (unless the user set those variables), so a lost server is an
error line, not minutes of retries. Only a run of the program itself (`main()` with no arguments)
may re-execute into the engine's runtime (harness.cli.config); a caller in Python never is.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Callable, NoReturn, Sequence

from harness.errors import HarnessError
from harness.redaction import redact_text, secret_values

EXIT_OK, EXIT_VERDICT_FAIL, EXIT_ERROR = 0, 1, 2
QUICK_MLFLOW_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                     "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


class OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors printed as the one `harness: error:` line every error gets."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"harness: error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from harness.cli import commands
    from harness.cli.options import add_adapter, add_baseline, add_common, add_data, add_engine, add_gate, add_model, add_run, add_train

    parser = OneLineParser(prog="harness", description="Does a LoRA adapter beat prompting for this task?")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    spec: dict[str, tuple[str, Callable, Sequence[Callable]]] = {
        "compare": ("run every candidate, score, compare, report, log to MLflow, print the verdict", commands.compare,
                    (add_data, add_engine, add_adapter, add_gate, add_baseline, add_train, add_run)),
        "gate": ("the comparison as a CI gate: exit 0 adapter wins, 1 it does not, 2 error", commands.gate,
                 (add_data, add_engine, lambda p: add_adapter(p, required=True), add_gate, add_baseline, add_run,
                  commands.add_gate_outputs)),
        "train": ("train (or reuse) the task's LoRA adapter and log the training run", commands.train, (add_data, add_train, commands.add_train_only)),
        "tune-prompt": ("score the task's zero-shot prompt variants on dev and record the winner", commands.tune_prompt,
                        (add_data, add_engine, add_gate, add_run)),
        "validate": ("check a task folder: specs, schema, gold records, templates, ids, splits, leakage", commands.validate, (add_data, add_model)),
        "data": ("`harness data card|build <task>`: build the task's data if needed; print its data card, or its folder", commands.data,
                 (add_data, add_model)),
        "curve": ("quality vs number of training examples, against the prompt-only candidates", commands.curve,
                  (add_data, add_engine, add_adapter, add_gate, add_baseline, add_train, add_run, commands.add_curve)),
        "log": ("`harness log <run_dir>`: log a finished run folder into MLflow (again, or after MLflow was down)", commands.log, ()),
    }
    for name, (help_text, handler, adders) in spec.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == "data":
            commands.add_data_action(command)
        (commands.add_log_target if name == "log" else add_common)(command)
        for add in adders:
            add(command)
        command.set_defaults(handler=handler)
    parser.set_defaults(restart_in_runtime=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.restart_in_runtime = argv is None  # the program itself (not a caller in Python) may re-execute into the engine's runtime
    for name, value in QUICK_MLFLOW_HTTP.items():
        os.environ.setdefault(name, value)
    try:
        return int(args.handler(args))
    except HarnessError as exc:
        print(f"harness: error: {redact_text(exc.one_line(), secret_values(os.environ))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("harness: interrupted; rerun with --resume to continue", file=sys.stderr)
        return EXIT_ERROR
    except Exception:  # a bug: show it, and tell CI the harness broke (exit 2), never a verdict
        traceback.print_exc()
        return EXIT_ERROR
