"""The pure parts of `harness curve` on literal inputs: size parsing, the smallest winning size under Holm and
the gate's `min_effect_on`, a curve point read from a run folder (the same numbers as the curve's former
hand-written micro-F1 bootstrap), and the files it writes.

The command itself runs through the CLI on the real stack in tests/test_end_to_end.py, on the end-to-end
comparison's data and cache (its baselines are reused there).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli.config import parse_sizes
from harness.pipeline.curve import curve_point, smallest_winning_size, write_curve
from harness.errors import HarnessError
from harness.task.specs import GateSpec
from harness.statistics.stats import bootstrap_distribution, percentile_interval

ON_POINT = GateSpec(min_effect=0.05, alpha=0.05, min_effect_on="point")
ON_CI_LOW = GateSpec(min_effect=0.05, alpha=0.05, min_effect_on="ci_low")


def point(size: int, diff: float, p: float, ci: tuple[float, float] | None = None) -> dict:
    low, high = ci or (diff, diff)
    return {"size": size, "against": {"few_shot": {"diff": diff, "p_value": p, "ci_low": low, "ci_high": high}}}


def test_sizes_are_sorted_unique_positive() -> None:
    assert parse_sizes("100,25,50,25") == [25, 50, 100]
    with pytest.raises(HarnessError):
        parse_sizes("25,x")
    with pytest.raises(HarnessError):
        parse_sizes("0,10")


def test_smallest_winning_size_needs_effect_and_holm_significance() -> None:
    points = [point(25, 0.30, 0.02), point(50, 0.20, 0.001), point(100, 0.04, 0.0001)]
    # Holm over three sizes: 0.0001*3, 0.001*2, 0.02*1 -> size 25 is adjusted to 0.02 (< 0.05) and has the effect
    assert smallest_winning_size(points, ON_POINT) == 25
    assert smallest_winning_size([point(25, 0.30, 0.06), point(50, 0.02, 0.001)], ON_POINT) is None


@pytest.mark.parametrize("gate, points, expected", [
    # the point estimate reaches min_effect at 25, the CI's lower end only at 50
    (ON_POINT, [point(25, 0.30, 0.001, (0.01, 0.60)), point(50, 0.20, 0.001, (0.08, 0.32))], 25),
    (ON_CI_LOW, [point(25, 0.30, 0.001, (0.01, 0.60)), point(50, 0.20, 0.001, (0.08, 0.32))], 50),
    (ON_CI_LOW, [point(25, 0.30, 0.001, (0.01, 0.60)), point(50, 0.06, 0.001, (-0.02, 0.14))], None),
    (ON_CI_LOW, [point(25, 0.05, 0.001, (0.05, 0.05))], 25),  # exactly min_effect counts, as in the verdict
    (ON_CI_LOW, [point(25, 0.30, 0.2, (0.20, 0.40))], None),  # the effect alone is not enough
])
def test_smallest_winning_size_honours_min_effect_on(gate: GateSpec, points: list[dict], expected: int | None) -> None:
    assert smallest_winning_size(points, gate) == expected


COUNTS = {"lora_short": [(2, 0, 0), (1, 1, 1), (0, 0, 2), (3, 0, 0), (1, 0, 1), (2, 1, 0)],
          "few_shot": [(1, 1, 1), (1, 0, 1), (0, 1, 2), (2, 0, 1), (0, 0, 2), (1, 1, 1)],
          "best_prompt": [(2, 0, 0), (0, 2, 2), (0, 0, 2), (2, 1, 1), (1, 0, 1), (0, 0, 2)]}


def run_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "predictions").mkdir()
    for cid, counts in COUNTS.items():
        rows = [{"record_id": f"r{i}", "score": {"fields": {"parties": {"tp": tp, "fp": fp, "fn": 0},
                                                            "date": {"tp": 0, "fp": 0, "fn": fn}}}}
                for i, (tp, fp, fn) in enumerate(counts)]
        (tmp_path / "predictions" / f"{cid}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path, {cid: f"predictions/{cid}.jsonl" for cid in COUNTS}


def former_micro_f1_interval(counts: list[tuple[int, int, int]], seed: int) -> tuple[float, float, float]:
    """The curve's own micro-F1 bootstrap before it used harness.statistics.stats: the known answer."""
    table = np.asarray(counts, dtype=float)

    def f1(index: np.ndarray) -> np.ndarray:
        tp, fp, fn = (table[index.astype(int)][..., k].sum(axis=-1) for k in range(3))
        denominator = 2 * tp + fp + fn
        return np.where(denominator == 0, 1.0, 2 * tp / np.maximum(denominator, 1))

    interval = percentile_interval(bootstrap_distribution(np.arange(len(table)), f1, 2000, seed), 0.95)
    return float(f1(np.arange(len(table))[None, :])[0]), interval.low, interval.high


def test_curve_point_keeps_the_former_numbers(tmp_path: Path) -> None:
    run_dir, files = run_folder(tmp_path)
    got = curve_point(run_dir, files, 4, "lora_short", seed=13)
    assert (got["field_f1"], got["ci_low"], got["ci_high"]) == former_micro_f1_interval(COUNTS["lora_short"], 13)
    assert got["field_f1"] == pytest.approx(2 * 9 / (2 * 9 + 2 + 4))
    assert set(got["against"]) == {"few_shot", "best_prompt"}
    assert got["against"]["few_shot"]["ci_low"] <= got["against"]["few_shot"]["diff"] <= got["against"]["few_shot"]["ci_high"]


def test_write_curve_writes_json_markdown_and_figure(tmp_path: Path) -> None:
    points = [point(4, 0.1, 0.01, (0.02, 0.2)), point(8, 0.2, 0.01, (0.1, 0.3))]
    for p, f1 in zip(points, (0.5, 0.6)):
        p.update(field_f1=f1, ci_low=f1 - 0.1, ci_high=f1 + 0.1)
        p["against"]["few_shot"]["p_holm"] = 0.02
        p["against"]["best_prompt"] = {"diff": 0.05}
    result = {"task": "t", "points": points, "smallest_size_beating_few_shot": 8}
    write_curve(tmp_path / "curve", result)
    assert json.loads((tmp_path / "curve" / "curve.json").read_text()) == result
    assert "Smallest size at which the adapter beats few-shot: 8" in (tmp_path / "curve" / "curve.md").read_text()
    assert (tmp_path / "curve" / "curve.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("flags, expected", [([], [True, True, True]), (["--fresh-baseline"], [False, True, True])])
def test_the_first_point_measures_a_fresh_baseline_and_later_points_reuse_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                             flags: list[str], expected: list[bool]) -> None:
    from types import SimpleNamespace

    from harness.cli import build_parser
    from harness.cli.config import resolve_curve_config
    from harness.pipeline import curve

    reuse: list[bool] = []
    monkeypatch.setattr(curve, "run_comparison", lambda config: reuse.append(config.reuse_baseline) or SimpleNamespace(run_dir=tmp_path, summary=None))
    monkeypatch.setattr(curve, "complete_run", lambda run_dir: None)
    monkeypatch.setattr(curve, "point_of", lambda run_dir, summary, size, seed: point(size, 0.0, 1.0))
    monkeypatch.setattr(curve, "write_curve", lambda folder, result: None)
    root = Path(__file__).resolve().parents[1]
    args = build_parser().parse_args(["curve", "contract_extraction", "--root", str(root), "--device", "cpu", "--sizes", "4,8,16",
                                      "--reports-dir", str(tmp_path), *flags])
    curve.run_curve(resolve_curve_config(args))
    assert reuse == expected
