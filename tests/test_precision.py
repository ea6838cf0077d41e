"""The precision decision on the machine the tests run on: proven by its own probe, never mocked."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.errors import HarnessError
from harness.hardware import precision
from harness.hardware.precision import NATIVE_BF16_MIN_RATIO, cpu_description, decide_precision

ROOT = Path(__file__).resolve().parents[1]


def torch_reports_native_bf16() -> bool:
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def test_auto_picks_bfloat16_only_where_this_cpu_computes_it_natively() -> None:
    decision = decide_precision("cpu")
    probe = decision.probe
    assert probe.float32_gflops > 0 and probe.bfloat16_gflops > 0 and probe.seconds > 0  # its wall time is in `make bench`, not timed here
    native = torch_reports_native_bf16() and probe.bf16_ratio >= NATIVE_BF16_MIN_RATIO
    assert decision.native_bf16 is native
    assert decision.dtype == ("bfloat16" if native else "float32"), decision.reason
    if not torch_reports_native_bf16():
        # The slow kind (AVX2, no native bf16): the probe itself shows why float32 was chosen.
        assert probe.bf16_ratio < NATIVE_BF16_MIN_RATIO and "float32" in decision.reason


def test_three_rounds_confirm_a_reported_native_bf16_and_one_records_the_figures_otherwise() -> None:
    # On this machine: torch's own report decides how much confirming the probe does.
    probe = decide_precision("cpu").probe
    assert probe.rounds == (precision.PROBE_ROUNDS if torch_reports_native_bf16() else 1)


@pytest.mark.parametrize(("flags", "calls"), [([], 2), (["avx512_bf16"], 6)])
def test_the_probe_times_each_dtype_once_per_round(monkeypatch, tmp_path: Path, flags: list[str], calls: int) -> None:
    timed = []
    monkeypatch.setattr(precision, "native_cpu_flags", lambda: flags)
    monkeypatch.setattr(precision, "_gflops", lambda torch, dtype, device: timed.append(dtype) or 10.0)
    decide_precision("cpu", memo_dir=tmp_path)
    assert len(timed) == calls


def test_the_decision_records_the_cpu_and_its_flags() -> None:
    recorded = decide_precision("cpu").to_dict()
    assert recorded["cpu"]["model"] and recorded["cpu"]["cores"] >= 1
    assert set(recorded["cpu"]["flags"]) >= {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}
    assert recorded["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    assert recorded["probe"]["shape"] == (256, 576, 768)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 fma avx512f avx512_bf16\n\n")
    described = cpu_description(cpuinfo)
    assert described["model"] == "Test CPU 9000"
    assert described["flags"]["avx512_bf16"] and described["flags"]["avx2"] and not described["flags"]["amx_bf16"]


def test_an_explicit_bfloat16_without_native_support_runs_with_one_warning() -> None:
    warning = io.StringIO()
    decision = decide_precision("cpu", "bfloat16", warn=warning)
    assert decision.dtype == "bfloat16" and decision.requested == "bfloat16"
    lines = warning.getvalue().splitlines()
    if decision.native_bf16:
        assert lines == []
    else:
        assert len(lines) == 1 and "GFLOP/s" in lines[0] and "bfloat16" in lines[0]


@pytest.mark.parametrize("dtype, fragment", [("float16", "float16 is not a CPU precision"), ("fp8", "unknown dtype")])
def test_float16_on_the_cpu_and_unknown_names_are_user_errors(dtype: str, fragment: str) -> None:
    with pytest.raises(HarnessError, match=fragment):
        decide_precision("cpu", dtype)


@pytest.mark.parametrize("dtype", ["float16", "fp8"])
def test_the_cli_refuses_a_bad_dtype_in_one_line(dtype: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "compare", "contract_extraction", "--root", str(ROOT),
                           "--cache-dir", str(tmp_path / "cache"), "--reports-dir", str(tmp_path / "reports"),
                           "--device", "cpu", "--dtype", dtype, "--no-mlflow"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "--dtype" in errors[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "cache").exists(), "nothing heavy ran before the check"


def test_a_machine_remembers_its_verdict_so_a_probe_under_load_cannot_change_the_dtype(tmp_path: Path, monkeypatch) -> None:
    first = decide_precision("cpu", memo_dir=tmp_path)
    [memo] = (tmp_path / "precision").glob("*.json")
    # A later probe that would read the other way (as one taken beside a busy engine did in CI) is not taken.
    flipped = {"float32": 10.0, "bfloat16": 4.8} if first.native_bf16 else {"float32": 1.0, "bfloat16": 100.0}
    monkeypatch.setattr(precision, "_gflops", lambda torch, dtype, device: flipped[str(dtype).removeprefix("torch.")])
    again = decide_precision("cpu", memo_dir=tmp_path)
    assert (again.dtype, again.native_bf16, again.probe) == (first.dtype, first.native_bf16, first.probe)
    assert str(memo) in again.reason
    # Without the memo the probe runs, and the flipped figures are what it reads.
    memo.unlink()
    probed = decide_precision("cpu", memo_dir=tmp_path)
    assert (probed.probe.float32_gflops, probed.probe.bfloat16_gflops) == (flipped["float32"], flipped["bfloat16"])
    assert memo.is_file()


def test_an_unreadable_memo_is_probed_again_with_a_warning(tmp_path: Path, capsys) -> None:
    decide_precision("cpu", memo_dir=tmp_path)
    [memo] = (tmp_path / "precision").glob("*.json")
    memo.write_text("{not json")
    decision = decide_precision("cpu", memo_dir=tmp_path)
    assert "remembered" not in decision.reason and "probing again" in capsys.readouterr().err
    assert json.loads(memo.read_text())["probe"]["shape"] == [256, 576, 768]


def test_each_dtype_is_rated_by_its_fastest_round(monkeypatch) -> None:
    # One slow float32 round (a busy moment) among fast ones does not lower float32's rate.
    rounds = iter([2.0, 5.0, 100.0, 6.0, 90.0, 4.0])
    monkeypatch.setattr(precision, "_gflops", lambda torch, dtype, device: next(rounds))
    probe = precision.probe_matmul("cpu")
    assert (probe.float32_gflops, probe.bfloat16_gflops) == (100.0, 6.0)
