"""The pure parts of `harness curve` (size parsing, the smallest winning size under Holm) on literal inputs.

The command itself runs through the CLI on the real stack in tests/test_end_to_end.py, on the end-to-end
comparison's data and cache (its baselines are reused there).
"""

from __future__ import annotations


import pytest

from harness.cli_config import parse_sizes
from harness.curve import smallest_winning_size
from harness.errors import HarnessError



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
