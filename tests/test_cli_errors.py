"""The CLI on bad input: exit code 2, one `harness: error:` line on stderr, no traceback, no engine started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import harness.pipeline.compare
from harness.cli import build_parser, main
from harness.cli.config import resolve_gate_config, resolve_run_config
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent
HARNESS = Path(sys.executable).parent / "harness"
FAST = ["--root", str(ROOT), "--no-mlflow", "--device", "cpu"]


def assert_one_error_line(capsys: pytest.CaptureFixture[str], code: int, *expected: str) -> str:
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("harness: error: ")
    for text in expected:
        assert text in lines[0]
    return lines[0]


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) any attempt to train an adapter or start an engine."""
    started: list[str] = []

    def refuse(name: str):
        def stage(*args: object, **kwargs: object) -> None:
            started.append(name)
            raise RuntimeError(f"{name} must not run for a bad input")
        return stage

    for name in ("adapter_for", "serve_base", "serve_merged"):
        monkeypatch.setattr(harness.pipeline.compare, name, refuse(name))
    return started


@pytest.mark.parametrize("command", ["compare", "gate", "tune-prompt"])
def test_unknown_task(capsys: pytest.CaptureFixture[str], command: str) -> None:
    extra = ["--adapter", "/nonexistent-adapter"] if command == "gate" else []
    line = assert_one_error_line(capsys, main([command, "contract_extration", *FAST, *extra]), "unknown task 'contract_extration'")
    assert "known tasks:" in line and "contract_extraction" in line


def test_unknown_candidate(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", "contract_extraction", "--candidates", "best_prompt,best_promt", *FAST])
    line = assert_one_error_line(capsys, code, "unknown candidate 'best_promt'")
    for known in ("best_prompt", "few_shot", "guided_json", "lora_short"):
        assert known in line


@pytest.mark.parametrize("flags, expected", [
    (["--candidates", " , "], "no candidates given"),
    (["--candidates", "few_shot,lora_short"], "no candidate to search the zero-shot prompt with among few_shot, lora_short"),
    (["--serving", "dynamic,fused"], "--serving 'dynamic,fused' must name dynamic and/or merged"),
    (["--serving", " , "], "--serving ' , ' must name dynamic and/or merged"),
    (["--serving", "dynamic", "--verdict-serving", "merged"], "--serving 'dynamic' must include --verdict-serving merged"),
    (["--server-url", "http://127.0.0.1:9"], "--server-url needs --mode server"),
])
def test_inconsistent_flags(capsys: pytest.CaptureFixture[str], flags: list[str], expected: str) -> None:
    assert_one_error_line(capsys, main(["compare", "contract_extraction", *flags, *FAST]), expected)


def test_model_folder_without_config(capsys: pytest.CaptureFixture[str], tmp_path: Path, no_engine: list[str]) -> None:
    code = main(["compare", "contract_extraction", "--model", str(tmp_path), *FAST])
    assert_one_error_line(capsys, code, "not a model folder (no config.json)", str(tmp_path))
    assert no_engine == []


def test_model_that_is_not_a_causal_lm(capsys: pytest.CaptureFixture[str], tmp_path: Path, no_engine: list[str]) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    code = main(["compare", "contract_extraction", "--model", str(tmp_path), *FAST])
    assert_one_error_line(capsys, code, "not a causal LM", "BertModel", "ForCausalLM")
    assert no_engine == []


def test_missing_data_folder_fails_before_any_engine(capsys: pytest.CaptureFixture[str], no_engine: list[str]) -> None:
    code = main(["compare", "contract_extraction", "--data", "/nonexistent", *FAST])
    assert_one_error_line(capsys, code, "/nonexistent")
    assert no_engine == []


@pytest.mark.parametrize("flag", ["--data", "--test-from"])
def test_missing_data_folder_is_rejected_at_config_resolution(flag: str) -> None:
    args = build_parser().parse_args(["compare", "contract_extraction", flag, "/nonexistent", *FAST])
    with pytest.raises(HarnessError, match="/nonexistent"):
        resolve_run_config(args)


def test_missing_data_error_names_the_real_flag(capsys: pytest.CaptureFixture[str], no_engine: list[str]) -> None:
    main(["compare", "contract_extraction", "--data", "/nonexistent", *FAST])
    err = capsys.readouterr().err
    assert "--data" in err and "--source" not in err


def test_installed_command_exits_2_without_traceback(tmp_path: Path) -> None:
    done = subprocess.run([str(HARNESS), "compare", "contract_extraction", "--model", str(tmp_path), *FAST],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"harness: error: {tmp_path}: not a model folder (no config.json) (pass a Hugging Face-style model folder)"]


@pytest.mark.parametrize("command", [["compare", "no_such_task"], ["gate", "no_such_task", "--adapter", "/tmp"], ["train", "no_such_task"],
                                     ["tune-prompt", "no_such_task"], ["curve", "no_such_task", "--sizes", "4,8"]])
def test_a_bad_task_fails_before_the_pipeline_is_imported(command: list[str]) -> None:
    """Flags and task files are resolved first: a typo costs a fraction of a second, not the import of
    torch, scipy and the stages (seconds on a small CPU, paid by every bad-input run)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "harness.cli", *command, "--root", str(ROOT)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert len(errors) == 1 and errors[0].startswith("harness: error: ") and "no_such_task" in errors[0], errors
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "harness.task.specs" in imported  # the check ran on the task files
    assert not imported & {"torch", "scipy", "harness.pipeline.compare", "harness.pipeline.curve", "harness.cli.training_command"}


@pytest.mark.parametrize("command", [["compare"], ["gate", "--adapter", "/tmp"], ["tune-prompt"], ["curve", "--sizes", "4,8"]])
def test_every_engine_command_resolves_its_configuration(command: list[str]) -> None:
    from harness.cli import build_parser
    from harness.cli.config import resolve_curve_config, resolve_tuning_config

    resolvers = {"compare": resolve_run_config, "gate": resolve_gate_config, "tune-prompt": resolve_tuning_config,
                 "curve": lambda args: resolve_curve_config(args).run}
    args = build_parser().parse_args([command[0], "contract_extraction", *command[1:]])
    config = resolvers[command[0]](args)
    assert config.task.id == "contract_extraction" and config.adapter.verdict_serving in config.adapter.serving


def test_gate_flags_override_the_task_gate() -> None:
    from harness.cli import build_parser

    args = build_parser().parse_args(["gate", "contract_extraction", "--adapter", "/tmp", "--min-records", "16",
                                      "--min-effect-on", "point", "--failure-rate-margin", "0.1"])
    gate = resolve_gate_config(args).task.gate
    assert (gate.min_records, gate.min_effect_on, gate.failure_rate_margin) == (16, "point", 0.1)


def test_unknown_min_effect_basis_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import build_parser

    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["gate", "contract_extraction", "--adapter", "/tmp", "--min-effect-on", "lower"])
    assert caught.value.code == 2
    assert "--min-effect-on: invalid effect_basis value: 'lower'" in capsys.readouterr().err
