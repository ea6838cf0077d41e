"""Every bad input the reliability issue lists, through the real CLI in a subprocess, as a table.

Each row prepares a project copy (tasks/, candidates/), a tiny model folder and data as needed,
runs `python -m harness.cli ...` and asserts: exit 2, exactly one `harness: error:` line on stderr
naming the file or flag and the fix, no traceback, and that the files already in the reports and
cache folders were not touched. Rows that need a served engine talk to a small HTTP server on
127.0.0.1 that misbehaves on purpose; nothing here starts vLLM or trains.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest
from conftest import write_cuad
from harness.training.model_prep import default_model_dir
from tiny_model import write_tiny_model

ROOT = Path(__file__).resolve().parent.parent
TASK = "contract_extraction"
SMALL = ["--train-size", "4", "--few-shot-pool-size", "2", "--dev-size", "2", "--test-size", "2"]
SECRET = "s3cret-value-of-a-token-4711"
PROGRESS_BAR = re.compile(r"^\S+/\S+( and \d+ more)?: +\d+%\|")  # tqdm's request counters, not messages


@dataclass
class Project:
    """A throwaway project: specs copied from the repository, a tiny model, caches and reports."""

    root: Path
    model: Path
    cache: Path
    reports: Path
    tmp: Path
    server_url: str = ""

    def cuad(self, name: str = "cuad", count: int = 24) -> Path:
        return write_cuad(self.tmp / name, range(count))


# --- misbehaving servers ---------------------------------------------------------------------

MODELS_OK = json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model"}]})
SERVER_REPLIES = {
    "garbage": ("hello, I am not a model server", None),
    "wrong_shape": (json.dumps({"data": "nope"}), None),
    "bad_stream": (MODELS_OK, "data: [1, 2, 3]\n\n"),
    "cut_stream": (MODELS_OK, 'data: {"choices": [{"text": "{\\"par"}]}\n\n'),
}


def serve(kind: str) -> tuple[ThreadingHTTPServer, str]:
    models, stream = SERVER_REPLIES[kind]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def reply(self, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.reply(models, "application/json")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.reply(stream or "", "text/event-stream")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 1.0
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --- the table -----------------------------------------------------------------------------------

def schema_not_a_json_schema(p: Project) -> list[str]:
    path = p.root / "tasks" / TASK / "schema.json"
    schema = json.loads(path.read_text())
    schema["type"] = 12
    path.write_text(json.dumps(schema))
    return ["--synthetic"]


def task_yaml_not_yaml(p: Project) -> list[str]:
    path = p.root / "tasks" / TASK / "task.yaml"
    path.write_text(path.read_text().replace("fields:\n", "fields: [unclosed\n", 1))
    return ["--synthetic"]


def template_with_undefined_variable(p: Project) -> list[str]:
    path = p.root / "tasks" / TASK / "prompts" / "short.j2"
    path.write_text(path.read_text() + "\n{{ contract_title }}\n")
    return ["--synthetic", "--model", str(p.model)]


def cuad_without_a_category(p: Project) -> list[str]:
    folder = p.cuad()
    rows = list(csv.reader((folder / "master_clauses.csv").open(encoding="utf-8")))
    keep = [i for i, name in enumerate(rows[0]) if not name.startswith("Governing Law")]
    with (folder / "master_clauses.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([[row[i] for i in keep] for row in rows])
    return ["--data", str(folder), "--model", str(p.model)]


def held_back_contracts_all_empty(p: Project) -> list[str]:
    held = p.cuad("held", 4)
    for path in (held / "full_contract_txt").glob("*.txt"):
        path.write_text("  \n")
    return ["--data", str(p.cuad()), "--test-from", str(held), "--model", str(p.model)]


def model_config_not_json(p: Project) -> list[str]:
    (p.model / "config.json").write_text("{not json")
    return ["--synthetic", "--model", str(p.model)]


def model_without_tokenizer(p: Project) -> list[str]:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (p.model / name).unlink()
    return ["--synthetic", "--model", str(p.model)]


def more_training_records_than_data(p: Project) -> list[str]:
    return ["--data", str(p.cuad()), "--model", str(p.model), "--train-size", "100000"]


def reports_task_folder_is_a_symlink_out(p: Project) -> list[str]:
    outside = p.tmp / "elsewhere"
    outside.mkdir()
    shutil.rmtree(p.reports / TASK)
    (p.reports / TASK).symlink_to(outside)
    return ["--synthetic", "--model", str(p.model)]


def model_cache_entry_a_broken_link(p: Project) -> list[str]:
    entry = default_model_dir(p.cache)
    entry.parent.mkdir(parents=True)
    entry.symlink_to(p.tmp / "moved-away")
    return ["--synthetic"]


def primary_metric_without_a_paired_test(p: Project) -> list[str]:
    path = p.root / "tasks" / TASK / "task.yaml"
    path.write_text(path.read_text().replace("primary_metric: field_f1", "primary_metric: latency_p95_s", 1))
    return ["--synthetic", "--model", str(p.model)]


def misbehaving_server(kind: str) -> Callable[[Project], list[str]]:
    def setup(p: Project) -> list[str]:
        return ["--synthetic", *SMALL, "--model", str(p.model), "--mode", "server", "--server-url", p.server_url,
                "--candidates", "best_prompt", "--warmup", "0", "--attempts", "1"]
    setup.server = kind  # type: ignore[attr-defined]
    return setup


def flags(*extra: str) -> Callable[[Project], list[str]]:
    return lambda p: ["--synthetic", "--model", str(p.model), *extra]


ROWS: dict[str, tuple[Callable[[Project], list[str]], tuple[str, ...]]] = {
    "schema.json not a JSON Schema": (schema_not_a_json_schema, ("schema.json", "not a valid JSON Schema", "harness validate")),
    "task.yaml not YAML": (task_yaml_not_yaml, ("task.yaml:", "not valid YAML", "fix the YAML syntax")),
    "template with an undefined variable": (template_with_undefined_variable, ("short.j2", "does not render", "contract_title")),
    "CUAD csv missing a category": (cuad_without_a_category, ("master_clauses.csv", "Governing Law", "CUAD v1")),
    "--test-from with only empty contracts": (held_back_contracts_all_empty, ("--test-from", "empty", "put each contract's text")),
    "model config.json not JSON": (model_config_not_json, ("config.json", "not valid JSON", "restore")),
    "model folder without tokenizer": (model_without_tokenizer, ("no tokenizer files", "save the tokenizer")),
    "--train-size larger than the data": (more_training_records_than_data, ("--train-size", "too few usable records", "ask for fewer")),
    "reports/<task> a symlink out": (reports_task_folder_is_a_symlink_out, ("leads outside the reports folder", "remove the link")),
    "cached default model a broken link": (model_cache_entry_a_broken_link, ("is a link to", "moved-away", "which does not exist",
                                                                          "remove the link")),
    "task.yaml primary metric without a paired test": (primary_metric_without_a_paired_test,
                                                       ("task.yaml: gate.primary_metric", "expected one of", "latency_p95_s")),
    "--primary-metric unknown": (flags("--primary-metric", "f1"), ("--primary-metric", "invalid choice: 'f1'", "--help")),
    "--concurrency -1": (flags("--concurrency", "-1"), ("--concurrency", "at least 1")),
    "--concurrency 0": (flags("--concurrency", "0"), ("--concurrency", "at least 1")),
    "--test-size 0": (flags("--test-size", "0"), ("--test-size", "at least 1")),
    "--test-size -3": (flags("--test-size", "-3"), ("--test-size", "at least 1")),
    "--excerpt-tokens 0": (flags("--excerpt-tokens", "0"), ("--excerpt-tokens", "at least 64")),
    "--excerpt-tokens 5": (flags("--excerpt-tokens", "5"), ("--excerpt-tokens", "at least 64")),
    "--kv-cache-gib 0": (flags("--kv-cache-gib", "0"), ("--kv-cache-gib", "greater than 0")),
    "--kv-cache-gib -2": (flags("--kv-cache-gib", "-2"), ("--kv-cache-gib", "greater than 0")),
    "--concurrency not a number": (flags("--concurrency", "many"), ("--concurrency", "invalid int value", "--help")),
    "--server-url with merged serving": (flags("--mode", "server", "--server-url", "http://127.0.0.1:9", "--candidates", "best_prompt,lora_short"),
                                         ("--server-url", "cannot load the merged copy", "--serving dynamic")),
    "--server-url not http": (flags("--mode", "server", "--server-url", "ftp://example.org"), ("--server-url", "not an http(s) URL")),
    "server answers garbage": (misbehaving_server("garbage"), ("127.0.0.1", "not a vLLM/OpenAI server", "hello, I am not")),
    "server sends the wrong JSON shape": (misbehaving_server("wrong_shape"), ("127.0.0.1", "not a vLLM/OpenAI server", "nope")),
    "server streams non-chunks": (misbehaving_server("bad_stream"), ("every request failed", "127.0.0.1", "not a vLLM completion chunk")),
    "server stream ends early": (misbehaving_server("cut_stream"), ("every request failed", "127.0.0.1", "ended without a finish_reason")),
}


@pytest.fixture(scope="module")
def model_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture
def project(tmp_path: Path, model_template: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    for name in ("tasks", "candidates"):
        shutil.copytree(ROOT / name, root / name)
    model = shutil.copytree(model_template, tmp_path / "model")
    p = Project(root, model, tmp_path / "cache", tmp_path / "reports", tmp_path)
    for folder in (p.cache / "data" / "old-build", p.reports / TASK / "20200101T000000Z-0000"):
        folder.mkdir(parents=True)
        (folder / "kept.json").write_text('{"kept": true}\n')
    yield p


def snapshot(*folders: Path) -> dict[Path, tuple[str, int]]:
    """Content hash and mtime of every file now under the folders."""
    return {path: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for folder in folders if folder.is_dir() for path in folder.rglob("*") if path.is_file()}


def run_cli(p: Project, args: list[str], command: str = "compare") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", MY_SERVICE_API_TOKEN=SECRET)
    full = [sys.executable, "-m", "harness.cli", command, TASK, "--root", str(p.root), "--cache-dir", str(p.cache),
            "--reports-dir", str(p.reports), "--no-mlflow", "--device", "cpu", *args]
    return subprocess.run(full, capture_output=True, text=True, timeout=240, env=env, cwd=p.tmp)


def assert_one_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if not PROGRESS_BAR.match(line)]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("harness: error: ")
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_input_is_one_line_and_exit_2(project: Project, name: str) -> None:
    setup, expected = ROWS[name]
    server = None
    if hasattr(setup, "server"):
        server, project.server_url = serve(setup.server)
    try:
        args = setup(project)
        before = snapshot(project.cache, project.reports)
        done = run_cli(project, args)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    assert_one_line(done, *expected)
    after = snapshot(project.cache, project.reports)
    assert {path: after.get(path) for path in before} == before, "a file that existed before the run was modified"
    for status in project.reports.glob(f"{TASK}/*/status.json"):
        assert json.loads(status.read_text())["status"] == "failed"
    written = [path for path in project.reports.rglob("*") if path.is_file()]
    assert not any(SECRET in path.read_text(errors="replace") for path in written)


def test_a_cheap_check_fails_before_any_data_is_built(project: Project) -> None:
    args = template_with_undefined_variable(project)
    started = time.monotonic()
    done = run_cli(project, args)
    assert_one_line(done, "short.j2", "does not render")
    assert time.monotonic() - started < 60
    assert not (project.cache / "data" / TASK).exists()
    assert not (project.cache / "models").exists()
    assert [p.name for p in (project.reports / TASK).iterdir()] == ["20200101T000000Z-0000"]


@pytest.mark.parametrize("command", ["train", "tune-prompt", "gate"])
def test_other_heavy_commands_check_first(project: Project, command: str) -> None:
    args = template_with_undefined_variable(project)
    if command == "train":
        args = ["--synthetic", "--model", str(project.model)]
    extra = ["--adapter", str(project.tmp)] if command == "gate" else []
    done = run_cli(project, [*args, *extra], command)
    assert_one_line(done, "short.j2", "does not render")
    assert not (project.cache / "data" / TASK).exists()


def test_gate_without_an_adapter_candidate_is_refused(project: Project) -> None:
    done = run_cli(project, ["--synthetic", "--model", str(project.model), "--adapter", str(project.tmp),
                             "--candidates", "best_prompt,few_shot"], "gate")
    assert_one_line(done, "--candidates", "no candidate uses one")
