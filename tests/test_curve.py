"""`harness curve` through the CLI on the real stack: two nested training sizes, merged serving, the
prompt-only baselines measured once and reused, and a curve with intervals written to disk.

The pure parts (size parsing, the smallest winning size under Holm) are checked on literal inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.curve import parse_sizes, smallest_winning_size
from harness.errors import HarnessError
from harness.model_prep import prepare_default_model

ROOT = Path(__file__).resolve().parents[1]


def point(size: int, diff: float, p: float) -> dict:
    return {"size": size, "against": {"few_shot": {"diff": diff, "p_value": p}}}


def test_sizes_are_sorted_unique_positive() -> None:
    assert parse_sizes("100,25,50,25") == [25, 50, 100]
    with pytest.raises(HarnessError):
        parse_sizes("25,x")
    with pytest.raises(HarnessError):
        parse_sizes("0,10")


def test_smallest_winning_size_needs_effect_and_holm_significance() -> None:
    points = [point(25, 0.30, 0.02), point(50, 0.20, 0.001), point(100, 0.04, 0.0001)]
    # Holm over three sizes: 0.0001*3, 0.001*2, 0.02*1 -> size 25 is adjusted to 0.02 (< 0.05) and has the effect
    assert smallest_winning_size(points, min_effect=0.05, alpha=0.05) == 25
    assert smallest_winning_size([point(25, 0.30, 0.06), point(50, 0.02, 0.001)], 0.05, 0.05) is None


@pytest.mark.slow
def test_curve_runs_nested_sizes_and_writes_the_curve(tmp_path: Path) -> None:
    model = prepare_default_model(ROOT / ".cache")
    (tmp_path / "cache" / "models").mkdir(parents=True)
    (tmp_path / "cache" / "models" / model.name).symlink_to(model)
    args = ["--root", str(ROOT), "--cache-dir", str(tmp_path / "cache"), "--reports-dir", str(tmp_path / "reports"),
            "--candidates", "best_prompt,few_shot,lora_short", "--train-size", "32", "--few-shot-pool-size", "8", "--dev-size", "8",
            "--test-size", "8", "--excerpt-tokens", "192", "--learning-rate", "1e-3", "--parity-sample", "2", "--no-mlflow",
            "--sizes", "16,32"]
    done = subprocess.run([sys.executable, "-m", "harness.cli", "curve", "contract_extraction", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (tmp_path / "reports" / "contract_extraction").glob("curve-*")
    curve = json.loads((folder / "curve.json").read_text())
    assert [p["size"] for p in curve["points"]] == [16, 32]
    for p in curve["points"]:
        assert p["ci_low"] <= p["field_f1"] <= p["ci_high"]
        assert set(p["against"]) == {"few_shot", "best_prompt"} and "p_holm" in p["against"]["few_shot"]
    runs = [json.loads((Path(p["run_dir"]) / "summary.json").read_text()) for p in curve["points"]]
    assert [r["adapter"]["manifest"]["settings"]["train_limit"] for r in runs] == [16, 32]
    assert runs[1]["baseline_cache"]["reused"] and (folder / "curve.png").is_file() and (folder / "curve.md").is_file()
